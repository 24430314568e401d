"""Cost of one /metrics scrape as the tables grow: the database-backed families
(orders and fills by side and status, running bots' equity, backtest and training
duration histograms, jobs by status) are computed at scrape time, so their cost grows
with the rows. Printed beside a reference measured in the same run at each size: one
``COUNT(*)`` of the orders table (the cheapest full read of the largest table).
In one process on a throwaway SQLite file; the scrape is called directly (the
registry's text output), without HTTP.

    .venv/bin/python benchmarks/bench_metrics.py [--sizes 0,10000,100000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def median_ms(call: object, repeat: int = 7) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def grow(target_orders: int, state: dict[str, int]) -> None:
    """Add orders (a fill for every other one), and one backtest and one training
    run per 10 orders, up to ``target_orders`` orders in all."""
    from apps.backtests.models import Backtest
    from apps.bots.models import Fill, Order, TradingBot
    from apps.mlmodels.models import MLModel, TrainingRun

    bots = list(TradingBot.objects.all())
    model = MLModel.objects.first()
    owner = bots[0].owner
    start = datetime(2020, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC)
    while state["orders"] < target_orders:
        n = min(5000, target_orders - state["orders"])
        base = state["orders"]
        orders = Order.objects.bulk_create(
            Order(
                bot=bots[(base + i) % len(bots)],
                key=f"bench:{base + i}",
                side="buy" if i % 2 else "sell",
                quantity=Decimal("0.1"),
                status="filled" if i % 2 == 0 else "new",
                created_at=now,
                updated_at=now,
            )
            for i in range(n)
        )
        Fill.objects.bulk_create(
            Fill(
                bot=o.bot,
                order=o,
                side=o.side,
                price=Decimal(100),
                market_price=Decimal(100),
                quantity=o.quantity,
                fee=Decimal("0.01"),
                slippage=Decimal(0),
                time=now,
            )
            for o in orders
            if o.status == "filled"
        )
        Backtest.objects.bulk_create(
            Backtest(
                owner=owner,
                symbol="BTC-USD",
                timeframe="1h",
                strategy="sma_cross",
                start=start,
                end=start + timedelta(days=30),
                fee_bps=10,
                slippage_bps=5,
                status="succeeded" if i % 7 else "failed",
                started_at=now,
                finished_at=now + timedelta(seconds=(i % 50) / 10),
            )
            for i in range(n // 10)
        )
        TrainingRun.objects.bulk_create(
            TrainingRun(
                model=model,
                algorithm="naive",
                status="trained" if i % 5 else "failed",
                duration_seconds=(i % 90) + 0.5,
            )
            for i in range(n // 10)
        )
        state["orders"] += n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="0,10000,100000", help="orders per step")
    args = parser.parse_args()
    from _django import setup

    setup()
    from prometheus_client import generate_latest

    from apps.accounts.models import User
    from apps.bots.models import Order, PaperAccount, Position, TradingBot
    from apps.market.services import get_or_create_asset
    from apps.mlmodels.models import MLModel
    from apps.system.metrics import REGISTRY

    owner = User.objects.create_user(email="bench@example.com", password="x" * 12)
    asset = get_or_create_asset(symbol="BTC-USD")
    for i in range(20):
        bot = TradingBot.objects.create(
            owner=owner,
            name=f"bot {i}",
            asset=asset,
            strategy="sma_cross",
            params={"fast": 3, "slow": 8},
            timeframe="1h",
            status="running",
            metrics={"equity": f"{10000 + i}.00"},
        )
        PaperAccount.objects.create(bot=bot)
        Position.objects.create(bot=bot)
    MLModel.objects.create(
        owner=owner, name="m", algorithm="naive", asset=asset, timeframe="1h"
    )

    state = {"orders": 0}
    print(
        f"{'orders':>8}{'backtests':>11}{'scrape ms':>11}{'COUNT(*) ms':>13}{'ratio':>8}"
    )
    for size in [int(s) for s in args.sizes.split(",")]:
        grow(size, state)
        generate_latest(REGISTRY)  # warm: imports, statement cache
        scrape = median_ms(lambda: generate_latest(REGISTRY))
        count = median_ms(lambda: Order.objects.count())
        from apps.backtests.models import Backtest

        print(
            f"{state['orders']:>8}{Backtest.objects.count():>11}{scrape:>11.1f}"
            f"{count:>13.2f}{scrape / max(count, 1e-6):>7.0f}x"
        )
    print("(20 running bots; a fill for every other order; medians of 7 scrapes)")


if __name__ == "__main__":
    main()
