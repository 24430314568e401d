"""Import speed through the real service (parse, validate, upsert in one transaction,
audit) beside a bare reference measured in the same run: pandas.read_csv plus one
sqlite3 executemany into the same table shape. Peak memory is each run's own process
(ru_maxrss), so the 1M-row figure shows whether memory stays bounded.

    .venv/bin/python benchmarks/bench_import.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "market" / "bitfinex-1h-btc-usd.csv"


def make_big(path: Path, rows: int) -> None:
    """A 1M-row file in the sample's layout, newest first, built by repeating the
    sample's own bars on a continuous hourly clock (SYNTHETIC times, real bar shapes)."""
    lines = SAMPLE.read_text().splitlines()
    header, bars = lines[0], lines[1:][::-1]
    start = datetime(1990, 1, 1, tzinfo=UTC)
    with path.open("w") as fh:
        fh.write(header + "\n")
        for i in range(rows - 1, -1, -1):
            parts = bars[i % len(bars)].split(",")
            parts[0] = (start + timedelta(hours=i)).strftime("%Y-%m-%d %H:%M")
            fh.write(",".join(parts) + "\n")


def run_service(path: str) -> dict[str, float]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _django import setup

    setup()
    from apps.market.services import import_candles

    started = time.perf_counter()
    with open(path, "rb") as fh:
        record = import_candles(fileobj=fh, symbol="BTC-USD", timeframe="1h")
    seconds = time.perf_counter() - started
    assert record.status == "succeeded", record.message
    return {"rows": record.inserted, "seconds": seconds}


def run_reference(path: str) -> dict[str, float]:
    import sqlite3

    import pandas as pd

    db = Path(tempfile.mkdtemp()) / "ref.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE c (asset INT, tf TEXT, t TEXT, o REAL, h REAL, l REAL, "
        "cl REAL, v REAL, UNIQUE(asset, tf, t))"
    )
    started = time.perf_counter()
    df = pd.read_csv(
        path, usecols=["Date", "Open", "High", "Low", "Close", "VolumeFrom"]
    )
    rows = zip(
        [1] * len(df),
        ["1h"] * len(df),
        df["Date"],
        df["Open"],
        df["High"],
        df["Low"],
        df["Close"],
        df["VolumeFrom"],
        strict=True,
    )
    with conn:
        conn.executemany("INSERT INTO c VALUES (?,?,?,?,?,?,?,?)", rows)
    seconds = time.perf_counter() - started
    return {"rows": len(df), "seconds": seconds}


def child(kind: str, path: str) -> None:
    result = run_service(path) if kind == "service" else run_reference(path)
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(kind: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=dict(os.environ),
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=2)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    big = Path(tempfile.mkdtemp()) / "big.csv"
    make_big(big, args.rows)
    print(
        f"{'file':<34}{'runner':<30}{'rows':>10}{'seconds':>9}{'rows/s':>11}{'peak MB':>9}"
    )
    for label, path in [
        ("bitfinex 1h sample (real)", SAMPLE),
        (f"{args.rows:,} rows (SYNTHETIC times)", big),
    ]:
        results = {}
        for kind, name in [
            ("service", "AAITI import service"),
            ("reference", "pandas + sqlite executemany"),
        ]:
            r = measure(kind, path)
            results[kind] = r
            print(
                f"{label:<34}{name:<30}{r['rows']:>10,}{r['seconds']:>9.2f}"
                f"{r['rows'] / r['seconds']:>11,.0f}{r['peak_mb']:>9.0f}"
            )
        ratio = results["service"]["seconds"] / results["reference"]["seconds"]
        print(f"{'':<34}{'service / reference':<30}{ratio:>30.2f}x")


if __name__ == "__main__":
    main()
