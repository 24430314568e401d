"""No order on a stale price: a live tick older than FEED_STALE_SECONDS fills
nothing and decides nothing; the bot stays running, its journal says why once,
and the first fresh tick fills the pending order at its own price."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.bots import stale
from apps.bots.broker import fill_price
from apps.bots.hooks import on_tick
from apps.bots.models import Fill, JournalEntry, Order
from apps.bots.services import place_manual_order
from apps.market.providers.base import Tick

from .conftest import make_bot, run, tick

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limit(settings: Any) -> None:
    settings.FEED_STALE_SECONDS = 60
    stale._NOTED.clear()  # noqa: SLF001 - asset ids repeat between tests


@pytest.fixture
def bot(alice: Any, asset: Any) -> Any:
    bot = run(make_bot(alice))
    place_manual_order(
        bot=bot, actor=alice, key="k1", side="buy", quantity=Decimal("0.5")
    )
    return bot


def live(asset: Any, price: str, age_seconds: float) -> Tick:
    at = datetime.now(UTC) - timedelta(seconds=age_seconds)
    return Tick(asset.symbol, Decimal(price), at, "live")


def notes(bot: Any) -> list[JournalEntry]:
    return list(
        JournalEntry.objects.filter(bot=bot, inputs__has_key=stale.MARK).order_by("pk")
    )


def test_a_stale_tick_fills_nothing_and_the_bot_is_told_once(
    bot: Any, asset: Any
) -> None:
    assert on_tick(asset=asset, tick=live(asset, "1.00", 300)) == 0
    assert on_tick(asset=asset, tick=live(asset, "2.00", 200)) == 0
    order = Order.objects.get(bot=bot)
    assert order.status == Order.Status.NEW and not Fill.objects.exists()
    bot.refresh_from_db()
    assert bot.status == "running" and bot.last_bar_time is None  # nothing decided
    (note,) = notes(bot)
    assert note.kind == JournalEntry.Kind.RISK and note.inputs[stale.MARK] is True
    assert note.message.startswith("Price stale: BTC-USD last price at ")
    assert "(limit 60 s)" in note.message


def test_the_first_fresh_tick_fills_at_its_own_price_and_resumes(
    bot: Any, asset: Any
) -> None:
    on_tick(asset=asset, tick=live(asset, "1.00", 300))
    on_tick(asset=asset, tick=live(asset, "9100.50", 1))
    (fill,) = Fill.objects.filter(bot=bot)
    assert fill.price == fill_price(bot, "buy", Decimal("9100.50"))
    assert Order.objects.get(bot=bot).status == Order.Status.FILLED
    told, resumed = notes(bot)
    assert resumed.inputs == {stale.MARK: False, "price": "9100.50"}
    assert resumed.message.startswith("Price fresh again: BTC-USD 9,100.50 at ")
    # Fresh ticks after that add no note.
    on_tick(asset=asset, tick=live(asset, "9101", 0))
    assert len(notes(bot)) == 2


def test_the_limit_is_the_setting(bot: Any, asset: Any, settings: Any) -> None:
    settings.FEED_STALE_SECONDS = 600
    on_tick(asset=asset, tick=live(asset, "9000", 300))  # 5 min old: fresh enough
    assert Fill.objects.filter(bot=bot).count() == 1 and notes(bot) == []


def test_replay_ticks_are_never_stale(bot: Any, asset: Any) -> None:
    # A replay tick carries the replayed bar's time (years ago), made just now.
    old = datetime(2020, 1, 3, tzinfo=UTC)
    on_tick(asset=asset, tick=tick(asset, "9000", old, 0))
    assert Fill.objects.filter(bot=bot).count() == 1 and notes(bot) == []


def test_the_feeds_note_tells_each_running_bot_once(
    alice: Any, bob: Any, asset: Any, bot: Any
) -> None:
    from apps.bots.engine import running_bots

    other = run(make_bot(bob, name="bob's"))
    stopped = make_bot(alice, name="stopped")
    since = datetime.now(UTC) - timedelta(minutes=5)
    bots = running_bots(asset.pk)
    assert stale.note_stale(bots=bots, symbol="BTC-USD", price_time=since) == 2
    assert stale.note_stale(bots=bots, symbol="BTC-USD", price_time=since) == 0
    assert len(notes(bot)) == len(notes(other)) == 1 and notes(stopped) == []
    # Told again only once something else happened (here: started anew).
    JournalEntry.objects.create(
        bot=other, kind="lifecycle", message="Started.", created_at=datetime.now(UTC)
    )
    assert stale.note_stale(bots=bots, symbol="BTC-USD", price_time=since) == 1
