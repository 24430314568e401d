"""Latency of the candles API reading 10,000 bars (two pages of 5,000) from the real
app under daphne, beside a trivial API view (/api/me/) on the same server in the same
run. Sequential requests over loopback with a JWT.

    .venv/bin/python benchmarks/bench_candles_api.py [--requests 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import bench_env, serve  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    env = bench_env()
    with serve(env) as url, httpx.Client(base_url=url, timeout=60) as client:
        token = client.post(
            "/api/auth/token/",
            json={
                "email": env["DEMO_USER_EMAIL"],
                "password": env["DEMO_USER_PASSWORD"],
            },
        ).json()
        client.headers["Authorization"] = f"Bearer {token['access']}"
        first = "/api/market/assets/BTC-USD/candles/?timeframe=1h&limit=5000&start=2018-01-01T00:00:00Z"

        def read_10k() -> int:
            page = client.get(first).json()
            bars = len(page["results"])
            page = client.get(page["next"]).json()
            return bars + len(page["results"])

        def trivial() -> int:
            return client.get("/api/me/").status_code

        assert read_10k() == 10_000
        rows = []
        for name, call in [
            ("candles API, 10,000 bars (2 pages)", read_10k),
            ("trivial API view /api/me/", trivial),
        ]:
            call()
            samples = []
            for _ in range(args.requests):
                started = time.perf_counter()
                call()
                samples.append((time.perf_counter() - started) * 1000)
            rows.append((name, statistics.median(samples), percentile(samples, 0.95)))
        print(f"{'request':<38}{'p50 ms':>10}{'p95 ms':>10}")
        for name, p50, p95 in rows:
            print(f"{name:<38}{p50:>10.1f}{p95:>10.1f}")
        print(
            f"ratio candles/trivial at p50: {rows[0][1] / rows[1][1]:.1f}x "
            f"({args.requests} sequential requests each, one daphne process)"
        )


if __name__ == "__main__":
    main()
