"""Live pushes go to the bot owner's group only, each under the topic of the page
that shows it; per-tick equity pushes are throttled per bot and per owner."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.bots import engine, live
from apps.bots.models import PaperAccount, Position, TradingBot
from apps.system.consumers import user_group

from .conftest import START, feed, make_bot, run, tick


def _drain(layer: Any, channel: str) -> list[dict[str, Any]]:
    out = []

    async def take() -> None:
        import asyncio

        while True:
            try:
                out.append(await asyncio.wait_for(layer.receive(channel), 0.3))
            except TimeoutError:
                return

    async_to_sync(take)()
    return out


@pytest.mark.django_db(transaction=False)
def test_fills_push_to_the_owner_only_under_each_pages_topic(
    alice: Any, bob: Any, asset: Any, django_capture_on_commit_callbacks: Any
) -> None:
    layer = get_channel_layer()
    a = async_to_sync(layer.new_channel)()
    b = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(alice.pk), a)
    async_to_sync(layer.group_add)(user_group(bob.pk), b)
    try:
        bot = run(make_bot(alice))
        with django_capture_on_commit_callbacks(execute=True):
            feed(asset, end=START + timedelta(hours=40))
        got_a, got_b = _drain(layer, a), _drain(layer, b)
    finally:
        async_to_sync(layer.group_discard)(user_group(alice.pk), a)
        async_to_sync(layer.group_discard)(user_group(bob.pk), b)
    assert got_a and not got_b
    assert all(m["type"] == "push.html" for m in got_a)
    by_topic: dict[str, list[str]] = {}
    for m in got_a:
        for topics, html in m["parts"]:
            for t in topics:
                by_topic.setdefault(t, []).append(html)
    assert set(by_topic) == {f"bot:{bot.pk}", "bots", "dashboard"}
    # Each topic carries only the fragments its page has.
    page = by_topic[f"bot:{bot.pk}"][-1]
    assert f'id="bot-{bot.pk}-status"' in page and f'id="bot-{bot.pk}-activity"' in page
    assert "-row" not in page and "dash-" not in page
    row = by_topic["bots"][-1]
    assert f'id="bot-{bot.pk}-row"' in row and "-status" not in row
    dash = by_topic["dashboard"][-1]
    assert 'id="dash-equity"' in dash and 'id="dash-fills"' in dash
    assert 'hx-swap-oob="true"' in page and 'hx-swap-oob="true"' in dash
    assert f'id="bot-{bot.pk}-' not in dash


def _holding(asset: Any, alice: Any) -> tuple[TradingBot, Any]:
    """A running bot that holds a position and has no pending order, and the open
    time of the last bar fed."""
    bot = run(make_bot(alice))
    for hours in range(20, 200):
        bar = START + timedelta(hours=hours - 1)
        feed(asset, start=bar, end=START + timedelta(hours=hours))
        if (
            Position.objects.get(bot=bot).quantity > 0
            and not bot.orders.filter(status="new").exists()
        ):
            return TradingBot.objects.get(pk=bot.pk), bar
    raise AssertionError("the wave never bought")


@pytest.mark.django_db
def test_equity_pushes_per_tick_are_throttled_per_bot_and_owner(
    alice: Any, asset: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    bot, bar = _holding(asset, alice)
    sent: list[tuple[int, list[str], str]] = []

    def record(user_id: int, parts: Any) -> None:
        sent.extend((user_id, sorted(t), h) for t, h in parts)

    monkeypatch.setattr(live, "push_parts", record)
    clock = [1000.0]
    monkeypatch.setattr(live.time, "monotonic", lambda: clock[0])
    live.reset_throttle()
    position = Position.objects.get(bot=bot)
    account = PaperAccount.objects.get(bot=bot)
    prices = [str(9000 + i) for i in range(10)]
    for i, price in enumerate(prices):  # ten ticks within 0.9 s: one push
        quiet = engine.running_bots(asset.pk)
        t = tick(asset, price, bar, index=1 + i % 3)
        assert not engine.needs_attention(quiet[0], t)  # a tick that changes nothing
        from apps.bots.services import run_tick

        with django_capture_on_commit_callbacks(execute=True):
            run_tick(bots=quiet, tick=t)
        clock[0] += 0.09
    topics = [s[1] for s in sent]
    assert topics.count([f"bot:{bot.pk}"]) == 1
    assert topics.count(["bots"]) == 1
    assert topics.count(["dashboard"]) == 1
    # The pushed equity is the account marked at the first tick's price.
    expected = (account.cash + position.quantity * Decimal(prices[0])).quantize(
        Decimal("0.01")
    )
    status = next(s[2] for s in sent if s[1] == [f"bot:{bot.pk}"])
    assert f"{expected:,.2f}".replace(",", "") in status.replace(",", "")
    assert 'id="bot-' in status and "-activity" not in status  # no activity re-render
    clock[0] += 1.0  # a second later the next tick pushes again
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run_tick(bots=engine.running_bots(asset.pk), tick=tick(asset, "9100", bar, 2))
    assert sorted(s[1][0] for s in sent) == [f"bot:{bot.pk}", "bots", "dashboard"]
    # The same equity again is not pushed, however much time has passed.
    clock[0] += 5.0
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run_tick(bots=engine.running_bots(asset.pk), tick=tick(asset, "9100", bar, 3))
    assert sent == []


@pytest.mark.django_db
def test_a_flat_bot_pushes_nothing_on_quiet_ticks(
    alice: Any, asset: Any, monkeypatch: Any
) -> None:
    bot = run(make_bot(alice))
    sent: list[Any] = []
    monkeypatch.setattr(live, "push_parts", lambda _u, parts: sent.extend(parts))
    live.reset_throttle()
    bots = engine.running_bots(asset.pk)
    pushed = live.push_marks(bots, Decimal("9000"))
    assert pushed == 0 and sent == []
    assert Position.objects.get(bot=bot).quantity == 0


@pytest.mark.django_db
def test_hundred_bots_push_at_most_once_a_second_each(
    alice: Any, asset: Any, monkeypatch: Any, settings: Any
) -> None:
    from apps.system.services import get_setting  # noqa: F401 - settings cache warm

    holder, _bar = _holding(asset, alice)
    position = Position.objects.get(bot=holder)
    # 99 more bots holding the same position, written directly (no audit rows).
    for i in range(99):
        other = make_bot(alice, audited=False, name=f"b{i}")
        Position.objects.filter(bot=other).update(
            quantity=position.quantity, average_price=position.average_price
        )
        run(other)
    bots = engine.running_bots(asset.pk)
    assert len(bots) == 100
    messages: list[list[Any]] = []
    monkeypatch.setattr(live, "push_parts", lambda _u, parts: messages.append(parts))
    clock = [50.0]
    monkeypatch.setattr(live.time, "monotonic", lambda: clock[0])
    live.reset_throttle()
    for i in range(40):  # 40 ticks over 2 s
        live.push_marks(engine.running_bots(asset.pk), Decimal(9000 + i))
        clock[0] += 0.05
    # Per second (not per bot): one message with 100 x (status + row), then one
    # with the owner's dashboard.
    assert len(messages) == 4
    for bots_message, dashboard in (messages[0:2], messages[2:4]):
        topics = [t[0] for t, _h in bots_message]
        assert topics.count("bots") == 100
        assert len({t for t in topics if t.startswith("bot:")}) == 100
        assert [t for t, _h in dashboard] == [["dashboard"]]


@pytest.mark.django_db
def test_a_new_bot_is_appended_to_the_list_and_a_deleted_one_removed(
    alice: Any, asset: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from apps.bots.services import delete_bot

    sent: list[tuple[list[str], str]] = []

    def record(user_id: int, parts: Any) -> None:
        assert user_id == alice.pk
        sent.extend((sorted(t), h) for t, h in parts)

    monkeypatch.setattr(live, "push_parts", record)
    with django_capture_on_commit_callbacks(execute=True):
        bot = make_bot(alice, name="fresh")
    rows = [h for t, h in sent if t == ["bots"]]
    assert len(rows) == 1
    assert rows[0].startswith('<tbody hx-swap-oob="beforeend:#bots-body">')
    assert f'id="bot-{bot.pk}-row"' in rows[0] and "fresh" in rows[0]
    assert 'hx-swap-oob="true"' not in rows[0]  # appended, not swapped by id
    assert any(t == ["dashboard"] for t, _ in sent)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        delete_bot(bot=bot, actor=alice)
    assert (["bots"], f'<tr id="bot-{bot.pk}-row" hx-swap-oob="delete"></tr>') in sent
