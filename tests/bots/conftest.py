"""Bots' fixtures: a shared hourly asset with a deterministic wave, bots on it, and
replay ticks built from its stored bars exactly as the feed's replay builds them."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

START = datetime(2020, 1, 1, tzinfo=UTC)
TICKS = 6  # settings.REPLAY_TICKS_PER_BAR in the test settings


def wave(n: int) -> list[float]:
    """Up and down trends, no randomness."""
    return [round(9000 + 400 * math.sin(i / 7) + 2 * i, 2) for i in range(n)]


def make_asset(symbol: str = "BTC-USD", n: int = 200, owner: Any = None) -> Any:
    from apps.market.services import Bar, get_or_create_asset, upsert_candles

    asset = get_or_create_asset(symbol=symbol, owner=owner)
    closes = wave(n)
    opens = [closes[0] - 5, *[c + 1.5 for c in closes[:-1]]]  # small gaps at opens
    bars = [
        Bar(START + timedelta(hours=i), o, max(o, c) + 7, min(o, c) - 7, c, 1.0)
        for i, (o, c) in enumerate(zip(opens, closes, strict=True))
    ]
    upsert_candles(asset=asset, timeframe="1h", bars=bars)
    return asset


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.REPLAY_TICKS_PER_BAR = TICKS
    from apps.bots import engine
    from apps.market import feed

    feed._FINEST.clear()  # noqa: SLF001 - asset ids repeat between tests
    engine._BARS.clear()  # noqa: SLF001
    from apps.bots import live

    live.reset_throttle()  # bot ids repeat between tests too


@pytest.fixture
def asset(db: Any) -> Any:
    return make_asset()


def spec(**kw: Any) -> Any:
    from apps.bots.services import BotSpec

    values: dict[str, Any] = {
        "name": "sma bot",
        "symbol": "BTC-USD",
        "strategy": "sma_cross",
        "params": {"fast": 3, "slow": 8},
        "timeframe": "1h",
    }
    config = kw.pop("config", None)
    values.update(kw)
    return BotSpec(**values, config=config)


def make_bot(owner: Any, *, audited: bool = True, **kw: Any) -> Any:
    """A bot through the service (audited), or written directly (no audit rows, for
    transactional tests whose flush cannot delete audit rows)."""
    from apps.bots import services
    from apps.bots.models import PaperAccount, Position, TradingBot

    if audited:
        return services.create_bot(owner=owner, spec=spec(**kw))
    config = kw.pop("config", None) or {}
    s = spec(**kw)
    from apps.market.models import Asset

    bot = TradingBot.objects.create(
        owner=owner,
        name=s.name,
        asset=Asset.objects.shared().get(symbol=s.symbol),
        strategy=s.strategy,
        params=s.params,
        timeframe=s.timeframe,
        **config,
    )
    PaperAccount.objects.create(bot=bot)
    Position.objects.create(bot=bot)
    return bot


def run(bot: Any) -> Any:
    from apps.bots.models import TradingBot

    TradingBot.objects.filter(pk=bot.pk).update(status="running")
    bot.refresh_from_db()
    return bot


def ticks(
    asset: Any, start: datetime | None = None, end: datetime | None = None
) -> Iterator[Any]:
    from apps.market.models import Candle
    from apps.market.providers.replay import replay_ticks

    qs = Candle.objects.filter(asset=asset, timeframe="1h").order_by("open_time")
    if start is not None:
        qs = qs.filter(open_time__gte=start)
    if end is not None:
        qs = qs.filter(open_time__lt=end)
    rows = qs.values_list("open_time", "open", "high", "low", "close")
    yield from replay_ticks(
        rows, symbol=asset.symbol, timeframe="1h", ticks_per_bar=TICKS
    )


def tick(asset: Any, price: str, bar_time: datetime, index: int = 0) -> Any:
    from apps.market.providers.base import Tick

    return Tick(asset.symbol, Decimal(price), bar_time, "replay", bar_time, index)


def feed(asset: Any, **kw: Any) -> int:
    from apps.bots.hooks import on_tick

    return sum(on_tick(asset=asset, tick=t) for t in ticks(asset, **kw))


def set_setting(key: str, value: Any) -> None:
    """Write a system setting row directly (no audit) and drop the settings cache."""
    from django.core.cache import cache

    from apps.system.models import Setting
    from apps.system.services import CACHE_KEY

    Setting.objects.update_or_create(key=key, defaults={"value": value})
    cache.delete(CACHE_KEY)
