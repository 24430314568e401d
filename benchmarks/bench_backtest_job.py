"""Backtests as jobs: the service path beside the bare engine, and a sweep through
Celery beside the same work in one process, all measured in the same run.

    .venv/bin/python benchmarks/bench_backtest_job.py [--workers 2] [--no-worker]

Data: the real Bitfinex BTC-USD hourly sample (17,583 bars) imported into a
throwaway SQLite file. Needs Redis (REDIS_URL, default database 9) for the
channel layer and, for the Celery part, the broker.

* single backtest, SMA crossover 20/50, fee 10 bps, slippage 5 bps:
  - bare engine: signals + ``run_backtest`` + ``compute_metrics`` on arrays in
    memory (no database);
  - service: ``run_backtest_job`` (claim, load candles from the database, the
    same engine and metrics, store trades, the downsampled and the full equity
    curve, audit, three progress pushes), and its candle load alone;
  - the overhead ratio service / bare engine.
* sweep of 100 combinations (fast 5..50 step 5 x slow 60..240 step 20), 70 %
  in-sample: ``sweep.evaluate`` on arrays in memory (the compute alone), the
  chunk function run in-process for every chunk (``run_sweep_inline``), and the
  Celery group through real worker processes (from the commit that enqueues it
  to the ranked result stored; the workers are warmed up first).

Best of several runs for the single backtest; one run per sweep path. No
assertions on time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "market" / "bitfinex-1h-btc-usd.csv"
GRID = {"fast": "5:50:5", "slow": "60:240:20"}


def setup() -> dict[str, str]:
    var = Path(tempfile.mkdtemp(prefix="aaiti-bench-bt-"))
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")
    os.environ.update(
        {
            "AAITI_VAR_DIR": str(var),
            "DATABASE_URL": f"sqlite:///{var / 'bench.sqlite3'}",
            "DJANGO_SETTINGS_MODULE": "aaiti.settings",
            "CACHE_KEY_PREFIX": f"bench-bt-{os.getpid()}",
            "CHANNELS_PREFIX": f"bench-bt-{os.getpid()}",
            "DEMO_USER_EMAIL": "",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return dict(os.environ)


def best(fn: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def single(user: Any, asset: Any, runs: int) -> None:
    from apps.backtests import services
    from apps.backtests.engine import BacktestConfig

    req = services.JobRequest(
        symbol="BTC-USD",
        timeframe="1h",
        strategy="sma_cross",
        params={"fast": 20, "slow": 50},
        fee_bps=10.0,
        slippage_bps=5.0,
    )
    job = services.check_request(owner=user, req=req)
    data = services.load_ohlcv(asset, "1h", job.start, job.end)
    cfg = BacktestConfig(fee_bps=10.0, slippage_bps=5.0)

    def bare() -> None:
        services.compute_backtest(
            data=data,
            strategy=job.strategy,
            params=job.params,
            config=cfg,
            timeframe="1h",
        )

    def load() -> None:
        services.load_ohlcv(asset, "1h", job.start, job.end)

    def service() -> None:
        backtest = services.create_backtest(owner=user, req=req, enqueue=False)
        done = services.run_backtest_job(backtest_id=backtest.pk)
        assert done is not None and done.status == "succeeded", done and done.error

    engine_s, load_s, service_s = (
        best(bare, runs),
        best(load, runs),
        best(service, runs),
    )
    n = len(data)
    print(f"single backtest, SMA 20/50 on {n:,} real hourly bars (best of {runs})")
    print(
        f"  bare engine (signals + engine + metrics) {engine_s * 1e3:8.1f} ms"
        f"  {n / engine_s / 1e6:6.2f} M bars/s"
    )
    print(f"  candle load from the database            {load_s * 1e3:8.1f} ms")
    print(
        f"  service run_backtest_job (all of it)     {service_s * 1e3:8.1f} ms"
        f"  overhead x{service_s / engine_s:.1f} the bare engine"
    )


def sweeps(user: Any, asset: Any, env: dict[str, str], workers: int) -> None:
    from apps.backtests import services, sweep
    from apps.backtests.engine import BacktestConfig
    from apps.backtests.metrics import periods_per_year
    from apps.backtests.models import Sweep
    from apps.backtests.strategies import get_strategy

    req = services.JobRequest(
        symbol="BTC-USD",
        timeframe="1h",
        strategy="sma_cross",
        fee_bps=10.0,
        slippage_bps=5.0,
    )
    strategy = get_strategy("sma_cross")
    _, combos, _ = sweep.expand_grid(strategy, GRID)
    data = services.load_ohlcv(asset, "1h", None, None)
    split = int(len(data) * 0.7)
    started = time.perf_counter()
    sweep.evaluate(
        data,
        strategy,
        combos,
        BacktestConfig(fee_bps=10.0, slippage_bps=5.0),
        split,
        periods_per_year(3600),
    )
    compute_s = time.perf_counter() - started

    created = services.create_sweep(owner=user, req=req, grid=GRID, enqueue=False)
    started = time.perf_counter()
    services.run_sweep_inline(created)
    inline_s = time.perf_counter() - started
    print(
        f"sweep, {len(combos)} combinations x 2 sides, {created.chunks_total} chunks of"
        f" {services.chunk_size(len(combos))}"
    )
    print(
        f"  compute alone, in memory                 {compute_s:8.2f} s"
        f"  {len(combos) / compute_s:6.1f} combinations/s"
    )
    print(
        f"  chunk function in-process, every chunk   {inline_s:8.2f} s"
        f"  {len(combos) / inline_s:6.1f} combinations/s"
    )
    if workers <= 0:
        return
    procs, logs = start_workers(env, workers)
    try:
        warm_up(user, req)
        started = time.perf_counter()
        queued = services.create_sweep(owner=user, req=req, grid=GRID)  # on commit
        while True:
            status = Sweep.objects.values_list("status", flat=True).get(pk=queued.pk)
            if status in ("succeeded", "failed"):
                break
            time.sleep(0.05)
        group_s = time.perf_counter() - started
        assert status == "succeeded", Sweep.objects.get(pk=queued.pk).error
        print(
            f"  Celery group, {workers} worker process{'es' if workers > 1 else ''}"
            f" (solo pool)   {group_s:8.2f} s  {len(combos) / group_s:6.1f} combinations/s"
            f"  x{inline_s / group_s:.2f} vs in-process"
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        for log in logs:
            log.close()


def start_workers(env: dict[str, str], count: int) -> tuple[list[Any], list[Any]]:
    procs, logs = [], []
    var = Path(env["AAITI_VAR_DIR"])
    for i in range(count):
        log = (var / f"worker-{i}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "aaiti",
                    "worker",
                    "-Q",
                    "backtests",
                    "--pool",
                    "solo",
                    "-n",
                    f"bench{i}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel",
                    "INFO",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        logs.append(log)
    return procs, logs


def warm_up(user: Any, req: Any) -> None:
    """One backtest per worker through the queue, so start-up is not timed."""
    from apps.backtests import services
    from apps.backtests.models import Backtest

    ids = [services.create_backtest(owner=user, req=req).pk for _ in range(4)]
    deadline = time.monotonic() + 60
    while Backtest.objects.filter(pk__in=ids, status="succeeded").count() < len(ids):
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not start; see worker-*.log")
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-worker", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = setup()
    from apps.accounts.models import User
    from apps.market.models import Asset
    from apps.market.services import import_candles

    with SAMPLE.open("rb") as fh:
        import_candles(fileobj=fh, symbol="BTC-USD", timeframe="1h")
    asset = Asset.objects.get(symbol="BTC-USD", owner__isnull=True)
    user = User.objects.create_user(email="bench@example.com", password=None)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, SQLite file, "
        f"Redis {os.environ['REDIS_URL'].rsplit('/', 1)[-1]}"
    )
    single(user, asset, args.runs)
    sweeps(user, asset, env, 0 if args.no_worker else args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
