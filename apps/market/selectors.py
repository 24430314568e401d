"""Reads of market data shared by pages and API (no writes here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from .models import TIMEFRAMES, Asset, Candle

SPARK_POINTS = 48


@dataclass(frozen=True)
class SeriesInfo:
    timeframe: str
    count: int
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True)
class AssetSummary:
    asset: Asset
    timeframe: str | None  # the finest stored timeframe, which the summary uses
    last_close: float | None
    last_time: datetime | None
    change_24h: float | None  # fraction, e.g. 0.012 for +1.2 %
    spark: list[float]


def series_info(asset: Asset) -> list[SeriesInfo]:
    from django.db.models import Count, Max, Min

    rows = (
        Candle.objects.filter(asset=asset)
        .values("timeframe")
        .annotate(n=Count("id"), first=Min("open_time"), last=Max("open_time"))
    )
    found = {r["timeframe"]: r for r in rows}
    return [
        SeriesInfo(tf, found[tf]["n"], found[tf]["first"], found[tf]["last"])
        for tf in TIMEFRAMES
        if tf in found
    ]


def summarize(asset: Asset, infos: list[SeriesInfo] | None = None) -> AssetSummary:
    """``infos``: the asset's series_info() when the caller already has it."""
    infos = series_info(asset) if infos is None else infos
    if not infos:
        return AssetSummary(asset, None, None, None, None, [])
    info = infos[0]  # finest timeframe first
    step = timedelta(seconds=TIMEFRAMES[info.timeframe])
    window = max(SPARK_POINTS, int(timedelta(hours=24) / step) + 1)
    recent = list(
        Candle.objects.filter(asset=asset, timeframe=info.timeframe)
        .order_by("-open_time")
        .values_list("open_time", "close")[:window]
    )[::-1]
    last_time, last_close = recent[-1]
    day_ago = last_time - timedelta(hours=24)
    before = [c for t, c in recent if t <= day_ago]
    change = (last_close / before[-1] - 1.0) if before else None
    spark = [c for _, c in recent[-SPARK_POINTS:]]
    return AssetSummary(asset, info.timeframe, last_close, last_time, change, spark)


def sparkline_points(values: list[float], width: int = 120, height: int = 32) -> str:
    """SVG polyline points for ``values`` scaled into the box (empty for < 2 values)."""
    if len(values) < 2:
        return ""
    arr = np.asarray(values, dtype=float)
    low, high = float(arr.min()), float(arr.max())
    span = high - low or 1.0
    xs = np.linspace(0, width, len(arr))
    ys = height - (arr - low) / span * height
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))


def visible_assets(user: Any) -> list[Asset]:
    """Assets the user sees: theirs shadow shared ones of the same symbol."""
    assets = list(Asset.objects.visible_to(user).active().order_by("symbol", "owner"))
    own = {a.symbol for a in assets if a.owner_id is not None}
    return [a for a in assets if a.owner_id is not None or a.symbol not in own]
