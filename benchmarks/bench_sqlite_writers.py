"""SQLite under concurrent writers, through the app's own write paths, beside one
writer alone as the reference (same database, same operations, same duration).

Each writer is its own process (as web, worker and feed are) with its own paper
bot, and repeats, as fast as it can, the writes the running app makes most:

* ``candle``: the feed's live path, ``market.services.upsert_candles`` of the
  forming 1m bar (one row, inserted or updated);
* ``order``: ``bots.services.place_manual_order``, an order and its audit row in
  one transaction (the API's POST /api/bots/{id}/orders/; its push to the page
  after commit, Redis not SQLite, is left out);
* ``fill``: ``bots.engine.process_tick`` on the next tick, which fills the order
  (order, fill, cash, position, equity metrics) in one transaction;
* ``audit``: ``audit.services.record_event`` alone (a login, a settings change),
  whose hash chain serialises every append.

A "write wait" is the wall time of one such call: waiting for SQLite's write lock
(busy timeout, transactions BEGIN IMMEDIATE) plus doing the write. Any
"database is locked" error is counted (there must be none).

    .venv/bin/python benchmarks/bench_sqlite_writers.py [--writers 8] [--duration 120]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPS = ("candle", "order", "fill", "audit")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# ------------------------------------------------------------------ one writer


def writer(index: int, bot_id: int, start_at: float, duration: float) -> None:
    """Runs in its own process: the write loop, then one JSON line of results."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from django.db import OperationalError

    import apps.bots.services
    from apps.audit.services import record_event
    from apps.bots import engine
    from apps.bots.models import TradingBot
    from apps.bots.services import place_manual_order
    from apps.market.providers.base import Tick
    from apps.market.services import Bar, upsert_candles

    # The order's push to the owner's page after commit is Redis, not SQLite.
    apps.bots.services.push_bot = lambda bot_id: None
    bot = TradingBot.objects.select_related("asset", "owner").get(pk=bot_id)
    asset, user = bot.asset, bot.owner
    waits: dict[str, list[float]] = defaultdict(list)
    locked = 0
    errors: dict[str, int] = defaultdict(int)
    minute = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(days=index)
    n = 0
    while time.time() < start_at:
        time.sleep(0.01)
    end = start_at + duration

    def step(op: str, n: int) -> None:
        if op == "candle":
            bar_time = minute + timedelta(minutes=n // 4)
            upsert_candles(
                asset=asset,
                timeframe="1m",
                bars=[Bar(bar_time, 6e4, 6e4 + 99, 6e4, 6e4 + n % 99, 0)],
            )
        elif op == "order":
            place_manual_order(
                bot=bot,
                actor=user,
                key=f"w{index}-{n}",
                side="buy" if n % 2 else "sell",
                quantity=Decimal("0.001"),
            )
        elif op == "fill":
            price = Decimal(60000 + n % 100)
            tick = Tick(asset.symbol, price, datetime.now(UTC), "live")
            engine.process_tick(bot_id=bot.pk, tick=tick)
        else:
            record_event(
                action="bench.write",
                user=user,
                resource_type="bench",
                resource_id=index,
                details={"n": n},
            )

    while time.time() < end:
        n += 1
        for op in OPS:
            started = time.perf_counter()
            try:
                step(op, n)
            except OperationalError as exc:
                if "locked" in str(exc):
                    locked += 1
                else:
                    errors[f"{op}: {exc}"] += 1
                continue
            except Exception as exc:  # noqa: BLE001 - reported, not hidden
                errors[f"{op}: {type(exc).__name__}: {exc}"[:200]] += 1
                continue
            waits[op].append(time.perf_counter() - started)
    print(json.dumps({"waits": waits, "locked": locked, "errors": errors}))


# ------------------------------------------------------------------ the run


def prepare(count: int) -> list[int]:
    """Fresh database (migrated), one asset, ``count`` running paper bots."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _django import setup

    setup(redis_db=int(os.environ.get("BENCH_REDIS_DB", "11")))
    from decimal import Decimal

    from apps.accounts.models import User
    from apps.bots.models import TradingBot
    from apps.bots.services import BotSpec, create_bot
    from apps.market.services import get_or_create_asset
    from apps.system.models import Setting

    Setting.objects.update_or_create(key="max_bots_per_user", defaults={"value": 100})
    get_or_create_asset(symbol="BTC-USD")
    user = User.objects.create_user(email="writers@example.com", password="x" * 12)
    ids = []
    for i in range(count):
        bot = create_bot(
            owner=user,
            spec=BotSpec(
                name=f"writer {i}",
                symbol="BTC-USD",
                strategy="sma_cross",
                params={"fast": 5, "slow": 20},
                timeframe="1h",
                starting_cash=Decimal(10_000_000),
            ),
        )
        TradingBot.objects.filter(pk=bot.pk).update(status="running")
        ids.append(bot.pk)
    return ids


def run(bot_ids: list[int], duration: float) -> tuple[dict, float]:
    start_at = time.time() + 20  # every writer imported Django by then
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--child",
                json.dumps([i, bot_id, start_at, duration]),
            ],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            text=True,
        )
        for i, bot_id in enumerate(bot_ids)
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=duration + 300)
        assert proc.returncode == 0, out
        results.append(json.loads(out.strip().splitlines()[-1]))
    merged: dict = {"waits": defaultdict(list), "locked": 0, "errors": {}}
    for result in results:
        for op, values in result["waits"].items():
            merged["waits"][op].extend(values)
        merged["locked"] += result["locked"]
        for error, count in result["errors"].items():
            merged["errors"][error] = merged["errors"].get(error, 0) + count
    return merged, duration


def report(label: str, result: dict, seconds: float) -> dict[str, float]:
    everything = [w for values in result["waits"].values() for w in values]
    row = {
        "writes": len(everything),
        "per_s": len(everything) / seconds,
        "p50": percentile(everything, 0.50) * 1000,
        "p99": percentile(everything, 0.99) * 1000,
        "max": max(everything, default=float("nan")) * 1000,
    }
    print(
        f"{label:<22} {row['writes']:>8} {row['per_s']:>9.1f} {row['p50']:>8.1f} "
        f"{row['p99']:>8.1f} {row['max']:>8.1f} {result['locked']:>7} "
        f"{sum(result['errors'].values()):>7}"
    )
    for op in OPS:
        values = result["waits"].get(op, [])
        print(
            f"  {op:<20} {len(values):>8} {len(values) / seconds:>9.1f} "
            f"{percentile(values, 0.5) * 1000:>8.1f} "
            f"{percentile(values, 0.99) * 1000:>8.1f}"
        )
    for error, count in result["errors"].items():
        print(f"  error x{count}: {error}")
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        writer(*json.loads(args.child))
        return
    bot_ids = prepare(args.writers + 1)
    from django.conf import settings

    db = settings.DATABASES["default"]
    os.environ["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aaiti.settings")
    print(
        f"SQLite {db['NAME']}\n"
        f"options: {db['OPTIONS']}\n"
        f"{args.duration:.0f} s per run; times in ms; one process per writer; "
        f"{os.cpu_count()} CPUs\n"
    )
    header = (
        f"{'run':<22} {'writes':>8} {'writes/s':>9} {'p50':>8} {'p99':>8} "
        f"{'max':>8} {'locked':>7} {'errors':>7}"
    )
    print(header)
    single, seconds = run(bot_ids[:1], args.duration)
    ref = report("1 writer (reference)", single, seconds)
    many, seconds = run(bot_ids[1:], args.duration)
    row = report(f"{args.writers} writers", many, seconds)
    print(
        f"\n{args.writers} writers: {row['per_s'] / ref['per_s']:.2f}x the writes/s "
        f"of one, p99 write wait {row['p99'] / ref['p99']:.1f}x; "
        f'"database is locked" errors: {many["locked"] + single["locked"]} '
        f"(load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
