from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.models import User
from apps.market.models import TIMEFRAMES
from apps.market.services import MarketDataError, import_candles


class Command(BaseCommand):
    help = (
        "Import an OHLCV file (CSV: CryptoDataDownload, exchange klines, wide "
        "multi-asset) into shared market data, or into a user's private asset."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--symbol", required=True, help="BASE-QUOTE, e.g. BTC-USD")
        parser.add_argument("--timeframe", required=True, choices=list(TIMEFRAMES))
        parser.add_argument(
            "--asset",
            help="column prefix to read from a wide file (default: the symbol's base)",
        )
        parser.add_argument(
            "--skip-bad-rows",
            action="store_true",
            help="write the good rows and skip the bad ones",
        )
        parser.add_argument(
            "--owner", help="email of the user whose private asset this is"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        path: Path = opts["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        owner = None
        if opts["owner"]:
            owner = User.objects.filter(email__iexact=opts["owner"]).first()
            if owner is None:
                raise CommandError(f"no user with email {opts['owner']}")
        try:
            with path.open("rb") as fh:
                record = import_candles(
                    fileobj=fh,
                    symbol=opts["symbol"],
                    timeframe=opts["timeframe"],
                    actor=owner,
                    asset_owner=owner,
                    filename=path.name,
                    wide_asset=opts["asset"],
                    skip_bad_rows=opts["skip_bad_rows"],
                )
        except MarketDataError as exc:
            raise CommandError(str(exc)) from exc
        for error in record.errors[:20]:
            self.stderr.write(f"line {error['line']}: {error['reason']}")
        if record.error_count > 20:
            self.stderr.write(f"... and {record.error_count - 20} more bad rows")
        if record.status != record.Status.SUCCEEDED:
            raise CommandError(record.message)
        self.stdout.write(
            self.style.SUCCESS(
                f"{record.symbol} {record.timeframe}: {record.inserted} inserted, "
                f"{record.updated} updated, {record.unchanged} unchanged, "
                f"{record.skipped} bad rows skipped ({record.first_time:%Y-%m-%d %H:%M} to "
                f"{record.last_time:%Y-%m-%d %H:%M} UTC)"
            )
        )
        if record.message:
            self.stdout.write(self.style.WARNING(record.message))
