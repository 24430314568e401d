"""A feed whose provider stops delivering: the symbol turns stale after
FEED_STALE_SECONDS in health, the price API and the markets page (the feed loop
itself still beating), running bots are told, and one fresh tick clears it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from apps.bots import stale
from apps.bots.models import JournalEntry
from apps.market.feed import Feed, Stream, feed_status
from apps.market.models import Asset
from apps.market.providers.base import ProviderUnavailable, Tick

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limit(settings: Any) -> None:
    settings.FEED_STALE_SECONDS = 30
    stale._NOTED.clear()  # noqa: SLF001


def failing(stop: Any) -> Any:
    raise ProviderUnavailable("CoinGecko is unavailable (HTTP 500)")


@pytest.fixture
def btc() -> Asset:
    from tests.bots.conftest import make_asset

    return make_asset()


def test_a_silent_provider_turns_the_price_stale_everywhere(
    btc: Asset, alice: Any, client: Client
) -> None:
    from tests.bots.conftest import make_bot, run

    bot = run(make_bot(alice))
    feed = Feed([Stream("coingecko", failing, {"BTC-USD": btc}, live=True)])
    feed._start_clock()  # noqa: SLF001
    fresh = datetime.now(UTC) - timedelta(seconds=5)
    feed.record(Tick("BTC-USD", Decimal("9000.5"), fresh, "live"))
    feed.heartbeat()
    assert feed_status()["status"] == "ok"
    client.force_login(alice)
    quote = client.get("/api/market/assets/BTC-USD/price/").json()
    assert quote["source"] == "live" and quote["stale"] is False

    # 40 s later nothing new has come: the loop still beats, the price is stale.
    old = datetime.now(UTC) - timedelta(seconds=40)
    feed._seen["BTC-USD"] = old  # noqa: SLF001 - as if the tick was 40 s ago
    from apps.market.prices import store_tick

    store_tick(asset_id=btc.pk, price=9000.5, time=old, source="live")
    feed.heartbeat()
    feed.check_stale()
    status = feed_status()
    assert status["status"] == "stale" and status["stale_symbols"] == ["BTC-USD"]
    assert 39 < status["age_seconds"] < 60
    health = client.get("/api/health")
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    quote = client.get("/api/market/assets/BTC-USD/price/").json()
    assert quote["stale"] is True and quote["price"] == 9000.5
    assert "stale since" in client.get("/markets/").content.decode()
    (note,) = JournalEntry.objects.filter(bot=bot, inputs__stale_price=True)
    assert "No order is placed or filled" in note.message
    feed.check_stale()  # within STALE_RETELL: nothing more
    assert (
        JournalEntry.objects.filter(bot=bot, inputs__has_key="stale_price").count() == 1
    )

    # The provider answers again: one fresh tick clears it all.
    feed.record(Tick("BTC-USD", Decimal("9010"), datetime.now(UTC), "live"))
    feed.heartbeat()
    feed.check_stale()
    assert feed_status()["status"] == "ok" and feed_status()["stale_symbols"] == []
    assert client.get("/api/market/assets/BTC-USD/price/").json()["stale"] is False
    assert JournalEntry.objects.filter(bot=bot, inputs__stale_price=False).count() == 1


def test_a_feed_that_stopped_beating_is_stale(btc: Asset) -> None:
    from django.core.cache import cache

    from apps.market.live import HEARTBEAT_KEY

    now = datetime.now(UTC)
    two = now - timedelta(seconds=2)
    cache.set(HEARTBEAT_KEY, {"time": now - timedelta(minutes=5), "seen": {}})
    assert feed_status()["status"] == "stale"
    cache.set(HEARTBEAT_KEY, {"time": now, "seen": {"BTC-USD": two}})
    assert feed_status()["status"] == "ok"
    # One live symbol silent past the limit is enough, even if another is fresh.
    old = now - timedelta(seconds=31)
    cache.set(HEARTBEAT_KEY, {"time": now, "seen": {"BTC-USD": two, "ETH-USD": old}})
    assert feed_status()["stale_symbols"] == ["ETH-USD"]
    assert feed_status()["status"] == "stale"


def test_a_slow_replay_is_never_stale_while_the_feed_beats(
    btc: Asset, settings: Any
) -> None:
    # One replayed hour an hour: ticks ten minutes apart are the replay's pace.
    feed = Feed([Stream("replay:BTC-USD", failing, {"BTC-USD": btc})])
    feed._start_clock()  # noqa: SLF001
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    feed.record(
        Tick("BTC-USD", Decimal("9000"), long_ago, "replay", long_ago, tick_index=0)
    )
    feed.heartbeat()
    assert feed_status()["status"] == "ok" and feed_status()["stale_symbols"] == []


@pytest.mark.django_db(transaction=True)
def test_a_failing_heartbeat_does_not_stop_the_feed(
    btc: Asset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis down: the heartbeat raises; the feed counts it and goes on. (Committed
    data: the feed records from its stream thread, on its own connection, which on
    PostgreSQL would wait for the test's open transaction holding the asset.)"""
    calls = {"n": 0}

    def broken(self: Feed) -> None:
        calls["n"] += 1
        raise ConnectionError("Redis is not answering")

    monkeypatch.setattr(Feed, "heartbeat", broken)
    now = datetime.now(UTC)
    ticks = [Tick("BTC-USD", Decimal("100"), now, "live")] * 3

    def slow(stop: Any) -> Any:
        for tick in ticks:
            import time

            time.sleep(0.6)  # past the 1 s heartbeat between ticks
            yield tick

    stats = Feed([Stream("live", slow, {"BTC-USD": btc}, live=True)]).run(max_ticks=3)
    assert stats.ticks == 3 and calls["n"] >= 2 and stats.errors >= 1
