"""How fast OHLCV files parse, and in how much memory.

Run: ``python benchmarks/bench_import_parse.py [--rows 1000000]``

Measures :func:`apps.market.parsing.iter_chunks` (what an import runs) and
:func:`~apps.market.parsing.read_arrays` (sorted columns) on the 17.5k-row Bitfinex
hourly sample and on a generated file of ``--rows`` rows, beside two references
measured in the same run: ``pandas.read_csv`` (C parser, no validation) and a bare
``csv.reader`` pass (the floor for any pure-Python reader).

The big file repeats the real sample rows with their times shifted by the sample's
span, so prices are real and times unique. Every measurement runs in a fresh
process: speed runs untraced, reporting how much the max RSS grew during the parse;
a separate run under tracemalloc reports the peak of Python and numpy allocations.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.market.parsing import ParseReport, iter_chunks, read_arrays  # noqa: E402

SAMPLE = Path("/work/shared/data/market/bitfinex-1h-btc-usd.csv")


def generate(path: Path, rows: int) -> None:
    with SAMPLE.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        records = sorted(reader, key=lambda r: r[0])
    times = [datetime.fromisoformat(record[0]) for record in records]
    span = times[-1] - times[0] + timedelta(hours=1)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        written, lap = 0, 0
        while written < rows:
            batch = records[: rows - written]
            for moment, record in zip(times, batch, strict=False):
                shifted = moment + span * lap
                writer.writerow([shifted.strftime("%Y-%m-%d %H:%M"), *record[1:]])
            written += len(batch)
            lap += 1


def parse_chunks(path: Path) -> int:
    report = ParseReport()
    with path.open("rb") as fh:
        for _chunk in iter_chunks(fh, report=report):
            pass
    assert report.ok, report.errors[:3]
    return report.rows


def parse_arrays(path: Path) -> int:
    with path.open("rb") as fh:
        return len(read_arrays(fh).time)


def pandas_read(path: Path) -> int:
    import pandas as pd  # only here, so other readers' RSS excludes pandas

    return len(pd.read_csv(path))


def csv_floor(path: Path) -> int:
    with path.open(newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


READERS: dict[str, Callable[[Path], int]] = {
    "iter_chunks (validated, streaming)": parse_chunks,
    "read_arrays (validated, sorted)": parse_arrays,
    "reference: pandas.read_csv": pandas_read,
    "reference: bare csv.reader": csv_floor,
}


def child(name: str, path: Path, trace: bool) -> None:
    """One measurement in a fresh process, so RSS and imports do not leak across."""
    func = READERS[name]
    if "pandas" in name:
        import pandas  # noqa: F401  (imported before the clock starts)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    rows = func(path)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(json.dumps({"rows": rows, "seconds": seconds, "peak": peak, "rss": grown}))


def measure(name: str, path: Path, trace: bool) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", name, str(path)]
    if trace:
        command.append("--trace")
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(label: str, path: Path, repeat: int, memory: bool) -> None:
    size = path.stat().st_size / 2**20
    print(f"\n{label}: {path.name}, {size:.1f} MiB")
    print(
        f"  {'reader':<36}{'rows':>10}{'seconds':>9}{'rows/s':>11}"
        f"{'RSS+ MiB':>10}{'traced MiB':>11}"
    )
    for name in READERS:
        runs = [measure(name, path, trace=False) for _ in range(repeat)]
        best = min(runs, key=lambda run: run["seconds"])
        traced = measure(name, path, trace=True)["peak"] / 2**20 if memory else None
        shown = f"{traced:11.1f}" if traced is not None else f"{'-':>11}"
        speed = best["rows"] / best["seconds"]
        print(
            f"  {name:<36}{best['rows']:>10,}{best['seconds']:>9.2f}"
            f"{speed:>11,.0f}{best['rss'] / 1024:>10.1f}{shown}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--no-memory", action="store_true", help="skip tracemalloc runs"
    )
    parser.add_argument(
        "--child", nargs=2, metavar=("READER", "PATH"), help=argparse.SUPPRESS
    )
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.trace)
        return
    from importlib.metadata import version

    print(f"python {sys.version.split()[0]}, pandas {version('pandas')}")
    print("RSS+ = growth of the process's max RSS during the parse (fresh process);")
    print("traced = tracemalloc peak of Python and numpy allocations (separate run)")
    report("sample", SAMPLE, repeat=3, memory=not args.no_memory)
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / f"generated-{args.rows}.csv"
        generate(big, args.rows)
        report("generated", big, repeat=1, memory=not args.no_memory)


if __name__ == "__main__":
    main()
