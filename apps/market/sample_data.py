"""The sample candles in data/market/, loaded on first start by `make run`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from .models import Asset, Candle
from .services import import_candles

DATA_DIR = Path(settings.BASE_DIR) / "data" / "market"


@dataclass(frozen=True)
class SampleFile:
    filename: str
    symbol: str
    timeframe: str
    wide_asset: str | None = None


SAMPLES = [
    SampleFile("bitfinex-1h-btc-usd.csv", "BTC-USD", "1h"),
    SampleFile("bitfinex-1d-btc-usd.csv", "BTC-USD", "1d"),
    SampleFile("bitfinex-1d-btc-eth-usd-wide.csv", "ETH-USD", "1d", wide_asset="ETH"),
]


def load_sample_data(*, force: bool = False) -> list[str]:
    """Import each sample whose series is still empty (or all, with ``force``).
    Returns one line per file for the console."""
    lines = []
    for sample in SAMPLES:
        present = Candle.objects.filter(
            asset__in=Asset.objects.shared().filter(symbol=sample.symbol),
            timeframe=sample.timeframe,
        ).exists()
        if present and not force:
            continue
        with open(DATA_DIR / sample.filename, "rb") as fh:
            record = import_candles(
                fileobj=fh,
                symbol=sample.symbol,
                timeframe=sample.timeframe,
                filename=sample.filename,
                wide_asset=sample.wide_asset,
            )
        if record.status != record.Status.SUCCEEDED:
            raise RuntimeError(
                f"sample {sample.filename} failed to import: {record.message}"
            )
        lines.append(
            f"{sample.symbol} {sample.timeframe}: {record.inserted} bars "
            f"from {sample.filename}"
        )
    return lines
