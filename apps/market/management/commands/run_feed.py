from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.market.feed import Feed, build_streams


class Command(BaseCommand):
    help = (
        "The live price feed: replays stored candles (default) or polls CoinGecko, "
        "records ticks, drives the bots and pushes prices to browsers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--max-ticks",
            type=int,
            default=None,
            help="stop after this many ticks (for tests and benchmarks)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        streams = build_streams()
        if not streams:
            self.stderr.write(
                "run_feed: no shared asset with stored candles (or no "
                "CoinGecko id) to feed; waiting for none, exiting."
            )
            return
        feed = Feed(streams)
        signal.signal(signal.SIGTERM, lambda *_: feed.stop())
        signal.signal(signal.SIGINT, lambda *_: feed.stop())
        self.stdout.write(f"run_feed: {', '.join(s.name for s in streams)}")
        stats = feed.run(max_ticks=opts["max_ticks"])
        self.stdout.write(
            f"run_feed: stopped after {stats.ticks} ticks, "
            f"{stats.broadcasts} broadcasts, {stats.errors} errors"
        )
