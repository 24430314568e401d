"""Ticks per second the bots' engine handles with 1, 10 and 100 running paper bots on
one symbol, beside the bare hook with no bot (its reference: one indexed query),
in one process on a throwaway SQLite file (WAL). Ticks are the feed's own replay
ticks (6 per hourly bar, the last one a bar close, so every 6th tick runs the
strategy for each bot; market orders fill on the following tick).

    .venv/bin/python benchmarks/bench_bots.py [--bars 40]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=40, help="bars replayed per run")
    args = parser.parse_args()
    from _django import setup

    setup()
    from django.conf import settings

    from apps.accounts.models import User
    from apps.bots.hooks import on_tick
    from apps.bots.models import PaperAccount, Position, TradingBot
    from apps.market.models import Candle
    from apps.market.providers.replay import replay_ticks
    from apps.market.services import Bar, get_or_create_asset, upsert_candles

    settings.REPLAY_TICKS_PER_BAR = 6
    start = datetime(2020, 1, 1, tzinfo=UTC)
    asset = get_or_create_asset(symbol="BTC-USD", owner=None)
    closes = [9000 + 400 * math.sin(i / 7) + 2 * i for i in range(1000)]
    bars = [
        Bar(start + timedelta(hours=i), c - 3, c + 9, c - 9, c, 1.0)
        for i, c in enumerate(closes)
    ]
    upsert_candles(asset=asset, timeframe="1h", bars=bars)
    user = User.objects.create_user(email="bench@example.com", password=None)
    rows = list(
        Candle.objects.filter(asset=asset, timeframe="1h")
        .order_by("open_time")
        .values_list("open_time", "open", "high", "low", "close")
    )
    print(f"bots engine, {args.bars} hourly bars x 6 ticks per run, SQLite file (WAL)")
    print(f"{'running bots':>12} {'ticks/s':>10} {'bot-ticks/s':>12} {'ms/tick':>9}")
    offset = 600  # the strategy sees 500 bars of history
    for tick in replay_ticks(rows[:5], symbol="BTC-USD", timeframe="1h"):
        on_tick(asset=asset, tick=tick)  # warm-up: imports, first queries
    for count in (0, 1, 10, 100):
        TradingBot.objects.all().delete()
        for i in range(count):
            bot = TradingBot.objects.create(
                owner=user,
                name=f"bench {i}",
                asset=asset,
                strategy="sma_cross",
                params={"fast": 3 + i % 5, "slow": 8 + i % 7},
                timeframe="1h",
                status="running",
            )
            PaperAccount.objects.create(bot=bot)
            Position.objects.create(bot=bot)
        window = rows[offset : offset + args.bars]
        offset += args.bars
        ticks = list(
            replay_ticks(window, symbol="BTC-USD", timeframe="1h", ticks_per_bar=6)
        )
        started = time.perf_counter()
        for tick in ticks:
            on_tick(asset=asset, tick=tick)
        seconds = time.perf_counter() - started
        rate = len(ticks) / seconds
        label = f"{count}" if count else "0 (reference)"
        print(
            f"{label:>12} {rate:>10.0f} {rate * max(count, 1):>12.0f} "
            f"{1000 / rate:>9.2f}"
        )


if __name__ == "__main__":
    main()
