"""The latest price of an asset, with where it came from and how old it is.

The feed (``run_feed``) writes each tick to the shared cache; readers here never
invent a price: without a tick they fall back to the last stored candle's close,
marked stale, with its time. A tick older than ``FEED_STALE_SECONDS`` (the
provider failing, or answering with an old price) is stale too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from .models import Asset, Candle

PRICE_KEY = "market:price:{asset_id}"


@dataclass(frozen=True)
class PriceQuote:
    symbol: str
    price: float | None
    time: datetime | None  # when the price was observed (UTC)
    source: str  # "live", "replay", "candle" (last stored close) or "none"
    replay_time: datetime | None = None  # the market time a replay tick stands for

    @property
    def age_seconds(self) -> float | None:
        if self.time is None:
            return None
        return max(0.0, (timezone.now() - self.time).total_seconds())

    @property
    def stale(self) -> bool:
        age = self.age_seconds
        return (
            self.source in {"candle", "none"}
            or age is None
            or age > settings.FEED_STALE_SECONDS
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "price": self.price,
            "time": self.time,
            "source": self.source,
            "age_seconds": self.age_seconds,
            "stale": self.stale,
            "replay_time": self.replay_time,
        }


def store_tick(
    *,
    asset_id: int,
    price: float,
    time: datetime,
    source: str,
    replay_time: datetime | None = None,
) -> None:
    cache.set(
        PRICE_KEY.format(asset_id=asset_id),
        {"price": price, "time": time, "source": source, "replay_time": replay_time},
        timeout=None,
    )


def latest_price(asset: Asset) -> PriceQuote:
    tick = cache.get(PRICE_KEY.format(asset_id=asset.pk))
    if tick:
        return PriceQuote(
            asset.symbol,
            tick["price"],
            tick["time"],
            tick["source"],
            tick.get("replay_time"),
        )
    last = (
        Candle.objects.filter(asset=asset)
        .order_by("-open_time")
        .values_list("open_time", "close")
        .first()
    )
    if last is None:
        return PriceQuote(asset.symbol, None, None, "none")
    return PriceQuote(asset.symbol, last[1], last[0], "candle")
