"""Live prices: the feed records each tick here, and pushes one rendered fragment per
symbol group to the browsers watching it.

A message carries a per-symbol sequence number (``data-seq``); a page that sees a gap
refetches the fragment over HTTP. The fragment is rendered once per group, never per
client, and the price consumer does no database work per message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from django.core.cache import cache
from django.template.loader import render_to_string

from .models import Asset
from .prices import PriceQuote, latest_price, store_tick

BAR_KEY = "market:livebar:{asset_id}"
SEQ_KEY = "market:seq:{symbol}"
HEARTBEAT_KEY = "market:feed:heartbeat"


def group_name(symbol: str) -> str:
    return f"prices.{symbol}"


@dataclass(frozen=True)
class LiveBar:
    """The bar being formed: replayed (its stored bar so far) or built from ticks."""

    time: datetime
    timeframe: str
    open: float
    high: float
    low: float
    close: float
    ticks: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(),
            "timeframe": self.timeframe,
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
        }


def update_live_bar(
    asset: Asset, *, bar_time: datetime, timeframe: str, price: float
) -> LiveBar:
    key = BAR_KEY.format(asset_id=asset.pk)
    current: LiveBar | None = cache.get(key)
    if current is None or current.time != bar_time or current.timeframe != timeframe:
        bar = LiveBar(bar_time, timeframe, price, price, price, price, 1)
    else:
        bar = LiveBar(
            bar_time,
            timeframe,
            current.open,
            max(current.high, price),
            min(current.low, price),
            price,
            current.ticks + 1,
        )
    cache.set(key, bar, timeout=None)
    return bar


def live_bar(asset: Asset) -> LiveBar | None:
    return cache.get(BAR_KEY.format(asset_id=asset.pk))


def next_seq(symbol: str) -> int:
    key = SEQ_KEY.format(symbol=symbol)
    cache.add(key, 0, timeout=None)
    return int(cache.incr(key))


def current_seq(symbol: str) -> int:
    return int(cache.get(SEQ_KEY.format(symbol=symbol)) or 0)


def record_price(
    *,
    asset: Asset,
    price: float,
    time: datetime,
    source: str,
    bar_time: datetime,
    timeframe: str,
) -> LiveBar:
    store_tick(
        asset_id=asset.pk,
        price=price,
        time=time,
        source=source,
        replay_time=bar_time if source == "replay" else None,
    )
    return update_live_bar(asset, bar_time=bar_time, timeframe=timeframe, price=price)


def render_fragment(
    asset: Asset,
    *,
    quote: PriceQuote | None = None,
    bar: LiveBar | None = None,
    seq: int | None = None,
    oob: bool = True,
) -> str:
    """The one partial for a symbol's live price: first page load, HTTP refetch and
    WebSocket push all render this."""
    return render_to_string(
        "market/_live_price.html",
        {
            "asset": asset,
            "quote": quote or latest_price(asset),
            "bar": bar if bar is not None else live_bar(asset),
            "seq": current_seq(asset.symbol) if seq is None else seq,
            "oob": oob,
        },
    )


def broadcast(asset: Asset, *, bar: LiveBar | None) -> int:
    from channels.layers import get_channel_layer

    seq = next_seq(asset.symbol)
    html = render_fragment(asset, bar=bar, seq=seq)
    layer = get_channel_layer()
    async_to_sync(layer.group_send)(
        group_name(asset.symbol), {"type": "price.update", "html": html, "seq": seq}
    )
    return seq
