"""The feed: replayed ticks are recorded, broadcast (coalesced, numbered) and handed
to the bots' hook; failures back off; the health check sees the heartbeat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache

from apps.market import live
from apps.market.feed import REPLAY_CURSOR_KEY, Feed, Stream, feed_status
from apps.market.models import Asset, Candle
from apps.market.prices import latest_price
from apps.market.providers.base import ProviderUnavailable, Tick
from apps.market.providers.replay import ReplayProvider
from apps.market.services import Bar, upsert_candles

pytestmark = pytest.mark.django_db
START = datetime(2019, 1, 1, tzinfo=UTC)
ROWS = [
    (START, 100.0, 104.0, 99.0, 103.0, 1.0),
    (START + timedelta(hours=1), 103.0, 103.5, 97.25, 98.0, 1.0),
]


@pytest.fixture
def btc() -> Asset:
    asset = Asset.objects.create(symbol="BTC-USD", base="BTC", quote="USD")
    upsert_candles(asset=asset, timeframe="1h", bars=[Bar(*r) for r in ROWS])
    return asset


def replay_stream(asset: Asset, ticks_per_bar: int = 4) -> Stream:
    provider = ReplayProvider(
        lambda: list(ROWS),
        symbol=asset.symbol,
        timeframe="1h",
        ticks_per_bar=ticks_per_bar,
        seconds_per_bar=0.02,
        loop=False,
    )
    return Stream(
        "replay", lambda stop: provider.stream(stop=stop), {asset.symbol: asset}
    )


def listen(symbol: str) -> tuple[Any, str]:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(live.group_name(symbol), channel)
    return layer, channel


def drain(layer: Any, channel: str) -> list[dict[str, Any]]:
    import asyncio

    async def take() -> list[dict[str, Any]]:
        messages = []
        while True:
            try:
                messages.append(await asyncio.wait_for(layer.receive(channel), 0.3))
            except TimeoutError:
                return messages

    return async_to_sync(take)()


def test_replayed_ticks_are_recorded_broadcast_and_numbered(
    btc: Asset, monkeypatch: Any
) -> None:
    seen: list[Tick] = []
    monkeypatch.setattr(
        "apps.market.feed.on_tick", lambda *, asset, tick: seen.append(tick) or 0
    )
    layer, channel = listen("BTC-USD")
    feed = Feed([replay_stream(btc)])
    stats = feed.run(max_ticks=8)
    assert stats.ticks == 8 and stats.errors == 0
    # Every tick reached the bots' hook, in order, inside its bar's range.
    assert [t.price for t in seen][::4] == [Decimal("100.0"), Decimal("103.0")]
    for tick in seen:
        low, high = (99.0, 104.0) if tick.bar_time == START else (97.25, 103.5)
        assert low <= float(tick.price) <= high
    quote = latest_price(btc)
    assert (quote.price, quote.source, quote.replay_time) == (
        98.0,
        "replay",
        START + timedelta(hours=1),
    )
    bar = live.live_bar(btc)
    assert (bar.open, bar.high, bar.low, bar.close) == (103.0, 103.5, 97.25, 98.0)
    # Coalesced: fewer pushes than ticks, numbered without gaps, the last one final.
    messages = drain(layer, channel)
    assert 1 <= len(messages) < 8
    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
    assert 'data-bar-close="98.0"' in messages[-1]["html"]
    assert 'hx-swap-oob="true"' in messages[-1]["html"]
    # Restartable: the cursor points at the last delivered tick.
    assert tuple(cache.get(REPLAY_CURSOR_KEY.format(symbol="BTC-USD"))) == (
        START + timedelta(hours=1),
        3,
    )
    assert feed_status()["status"] == "ok"
    # Replay never writes over the stored history.
    assert Candle.objects.count() == 2


def test_live_ticks_build_the_current_1m_candle(btc: Asset) -> None:
    now = datetime(2024, 5, 1, 12, 30, 10, tzinfo=UTC)
    ticks = [
        Tick("BTC-USD", Decimal(p), now + timedelta(seconds=s), "live")
        for p, s in [("60000", 0), ("60100.5", 20), ("59950", 40), ("60010", 70)]
    ]
    stream = Stream("live", lambda stop: iter(ticks), {"BTC-USD": btc})
    Feed([stream]).run(max_ticks=4)
    bars = list(
        Candle.objects.series(btc, "1m").values_list(
            "open_time", "open", "high", "low", "close"
        )
    )
    assert bars == [
        (datetime(2024, 5, 1, 12, 30, tzinfo=UTC), 60000.0, 60100.5, 59950.0, 59950.0),
        (datetime(2024, 5, 1, 12, 31, tzinfo=UTC), 60010.0, 60010.0, 60010.0, 60010.0),
    ]
    assert latest_price(btc).source == "live"


def test_a_failing_provider_backs_off_and_recovers(btc: Asset) -> None:
    calls = {"n": 0}
    good = [Tick("BTC-USD", Decimal("100"), datetime.now(UTC), "live")]

    def flaky(stop: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ProviderUnavailable("connection refused")
        return iter(good)

    feed = Feed([Stream("flaky", flaky, {"BTC-USD": btc})], max_backoff=0.1)
    stats = feed.run(max_ticks=1)
    assert stats.errors == 1 and stats.ticks == 1 and calls["n"] == 2


def test_run_feed_starts_in_a_fresh_process(tmp_path: Any) -> None:
    """The command imports cleanly on its own (no import cycle through metrics) and
    says plainly when there is nothing to feed."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(
        os.environ,
        AAITI_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'feed.sqlite3'}",
        DEMO_USER_EMAIL="",
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=root,
        env=env,
        check=True,
        timeout=300,
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "run_feed", "--max-ticks", "1"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "no shared asset" in out.stderr
