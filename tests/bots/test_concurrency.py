"""Fast ticks and two feed processes at once never duplicate an order, and cash and
the long-only position never go negative. Transactional tests with threads: no
audit rows are written here (the audit table refuses the flush's DELETE)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import OperationalError, connection

from apps.bots import broker
from apps.bots.engine import _create_order, process_tick
from apps.bots.models import Fill, Order, PaperAccount, Position

from .conftest import START, make_asset, make_bot, run, ticks

pytestmark = pytest.mark.django_db(transaction=True)


def _threads(fn: Any, items: list[Any], workers: int = 4) -> list[Any]:
    """Run ``fn`` over ``items`` in threads, each with its own connection.

    The test database is SQLite in shared-cache memory, whose table locks fail at
    once ("database table is locked") instead of waiting like the file database's
    busy timeout; so a locked attempt, rolled back whole by its transaction, is
    retried here, as the busy timeout would wait. (On PostgreSQL the rows' locks
    wait by themselves.)"""

    def wrapped(item: Any) -> Any:
        try:
            for _ in range(2000):
                try:
                    return fn(item)
                except OperationalError as exc:
                    if "locked" not in str(exc):
                        raise
                    time.sleep(0.002)
            raise AssertionError("still locked after 2000 attempts")
        finally:
            connection.close()

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(wrapped, items))


def test_two_feeds_on_the_same_ticks_make_each_order_once(alice: Any) -> None:
    asset = make_asset(n=70)
    bot = run(make_bot(alice, audited=False))
    stream = list(ticks(asset, end=START + timedelta(hours=70)))
    # each tick handled by two "feeds" at once, in order
    for tick in stream:
        _threads(lambda t: process_tick(bot_id=bot.pk, tick=t), [tick, tick], workers=2)
    keys = list(Order.objects.filter(bot=bot).values_list("key", flat=True))
    assert keys and len(keys) == len(set(keys))
    assert (
        Fill.objects.filter(bot=bot).count()
        == Order.objects.filter(bot=bot, status="filled").count()
    )
    filled = Order.objects.filter(bot=bot, status="filled").count()
    assert filled >= 2
    assert PaperAccount.objects.get(bot=bot).cash >= 0
    assert Position.objects.get(bot=bot).quantity >= 0


def test_concurrent_fills_of_one_order(alice: Any) -> None:
    make_asset(n=5)
    bot = make_bot(alice, audited=False)
    order = _create_order(
        bot, key="x", side="buy", quantity=Decimal(1), source="manual", bar_time=START
    )
    results = _threads(
        lambda _: broker.fill_order(
            bot=bot,
            order=Order.objects.get(pk=order.pk),
            market=Decimal(100),
            time=START,
        ),
        range(8),
    )
    assert sum(r is not None for r in results) == 1
    assert Fill.objects.filter(bot=bot).count() == 1


def test_concurrent_buys_never_overdraw(alice: Any) -> None:
    make_asset(n=5)
    bot = make_bot(
        alice, audited=False, config={"fee_bps": Decimal(0), "slippage_bps": Decimal(0)}
    )
    orders = [
        _create_order(
            bot,
            key=f"b{i}",
            side="buy",
            quantity=Decimal(30),
            source="manual",
            bar_time=START,
        )
        for i in range(8)
    ]
    _threads(
        lambda o: broker.fill_order(bot=bot, order=o, market=Decimal(100), time=START),
        orders,
    )
    # 10,000 buys three lots of 3,000 at most
    assert Fill.objects.filter(bot=bot).count() == 3
    assert PaperAccount.objects.get(bot=bot).cash == Decimal(1000)
    assert Position.objects.get(bot=bot).quantity == 90


def test_concurrent_sells_never_go_short(alice: Any) -> None:
    make_asset(n=5)
    bot = make_bot(
        alice, audited=False, config={"fee_bps": Decimal(0), "slippage_bps": Decimal(0)}
    )
    seed = _create_order(
        bot,
        key="seed",
        side="buy",
        quantity=Decimal(10),
        source="manual",
        bar_time=START,
    )
    broker.fill_order(bot=bot, order=seed, market=Decimal(100), time=START)
    orders = [
        _create_order(
            bot,
            key=f"s{i}",
            side="sell",
            quantity=Decimal(4),
            source="manual",
            bar_time=START,
        )
        for i in range(6)
    ]
    _threads(
        lambda o: broker.fill_order(bot=bot, order=o, market=Decimal(100), time=START),
        orders,
    )
    assert Position.objects.get(bot=bot).quantity == 2
    assert Fill.objects.filter(bot=bot, side="sell").count() == 2
