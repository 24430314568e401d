"""Market data for the backtest tests: small hand-made series and the real sample."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_1H = ROOT / "data" / "market" / "bitfinex-1h-btc-usd.csv"
START = datetime(2019, 1, 1, tzinfo=UTC)


def make_asset(symbol: str, closes: list[float], owner: Any = None, **kw: Any) -> Any:
    """Hourly bars from START: open = previous close (100 first), high/low around."""
    from apps.market.services import Bar, get_or_create_asset, upsert_candles

    asset = get_or_create_asset(symbol=symbol, owner=owner)
    opens = kw.get("opens") or [100.0, *closes[:-1]]
    bars = [
        Bar(START + timedelta(hours=i), o, max(o, c) + 1, min(o, c) - 1, c, 10.0)
        for i, (o, c) in enumerate(zip(opens, closes, strict=True))
    ]
    upsert_candles(asset=asset, timeframe="1h", bars=bars)
    return asset


def wave(n: int) -> list[float]:
    """A deterministic up-and-down series (no randomness): trends both ways."""
    import math

    return [round(100 + 20 * math.sin(i / 9) + 0.05 * i, 4) for i in range(n)]


@pytest.fixture
def btc(db: Any) -> Any:
    return make_asset("BTC-USD", wave(300))


@pytest.fixture
def sample_btc(db: Any) -> Any:
    """The real Bitfinex BTC-USD hourly sample (17.5k bars), as shared data."""
    from apps.market.models import Asset
    from apps.market.services import import_candles

    with SAMPLE_1H.open("rb") as fh:
        record = import_candles(fileobj=fh, symbol="BTC-USD", timeframe="1h")
    assert record.status == "succeeded", record.message
    return Asset.objects.get(symbol="BTC-USD", owner__isnull=True)
