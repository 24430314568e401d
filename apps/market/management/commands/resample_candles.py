from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.market.models import TIMEFRAMES, Asset
from apps.market.services import MarketDataError, gap_report, resample_candles


class Command(BaseCommand):
    help = (
        "Resample a shared asset's stored bars to a higher timeframe (UTC boundaries)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--symbol", required=True)
        parser.add_argument("--source", required=True, choices=list(TIMEFRAMES))
        parser.add_argument("--target", required=True, choices=list(TIMEFRAMES))

    def handle(self, *args: Any, **opts: Any) -> None:
        asset = Asset.objects.shared().filter(symbol=opts["symbol"].upper()).first()
        if asset is None:
            raise CommandError(f"no shared asset {opts['symbol']}")
        try:
            result = resample_candles(
                asset=asset, source=opts["source"], target=opts["target"]
            )
        except MarketDataError as exc:
            raise CommandError(str(exc)) from exc
        gaps = gap_report(asset=asset, timeframe=opts["source"])
        self.stdout.write(
            self.style.SUCCESS(
                f"{asset.symbol} {opts['target']}: {result.inserted} inserted, "
                f"{result.updated} updated, {result.unchanged} unchanged"
            )
        )
        if gaps:
            missing = sum(g.count for g in gaps)
            self.stdout.write(
                self.style.WARNING(
                    f"{opts['source']} series has {missing} missing bars in {len(gaps)} gaps; "
                    "buckets touching them were not written"
                )
            )
