"""The paper broker against hand-computed Decimal fills (fees and slippage)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from apps.bots import broker
from apps.bots.engine import _create_order
from apps.bots.models import Order, PaperAccount, Position

from .conftest import make_bot

T = datetime(2020, 1, 1, tzinfo=UTC)
D = Decimal


@pytest.fixture
def bot(alice: Any, asset: Any) -> Any:
    return make_bot(alice, config={"fee_bps": D(10), "slippage_bps": D(20)})


def order(bot: Any, key: str, side: str, qty: str, **kw: Any) -> Order:
    o = _create_order(
        bot, key=key, side=side, quantity=D(qty), source="manual", bar_time=T, **kw
    )
    assert o is not None
    return o


def test_buy_then_sell_hand_checked(bot: Any) -> None:
    buy = broker.fill_order(
        bot=bot, order=order(bot, "a", "buy", "10"), market=D(100), time=T
    )
    assert buy is not None
    # buy at 100 * (1 + 0.002) = 100.2; notional 1002; fee 0.1 % = 1.002
    assert (buy.price, buy.quantity, buy.fee) == (D("100.2"), D(10), D("1.002"))
    assert buy.slippage == D("2")  # 0.2 * 10 paid to slippage
    assert PaperAccount.objects.get(bot=bot).cash == D("8996.998")
    sell = broker.fill_order(
        bot=bot, order=order(bot, "b", "sell", "10"), market=D(110), time=T
    )
    assert sell is not None
    # sell at 110 * 0.998 = 109.78; notional 1097.8; fee 1.0978
    assert (sell.price, sell.fee) == (D("109.78"), D("1.0978"))
    # profit 10 * (109.78 - 100.2) - 1.0978 = 94.7022
    assert sell.realised_pnl == D("94.7022")
    assert PaperAccount.objects.get(bot=bot).cash == D("10093.7002")
    position = Position.objects.get(bot=bot)
    assert position.quantity == 0
    assert position.realised_pnl == D("93.7002")  # both fees: equals the cash change


def test_average_price_of_two_buys(bot: Any) -> None:
    broker.fill_order(bot=bot, order=order(bot, "a", "buy", "1"), market=D(100), time=T)
    broker.fill_order(bot=bot, order=order(bot, "b", "buy", "3"), market=D(200), time=T)
    # (100.2 + 3 * 200.4) / 4 = 175.35
    assert Position.objects.get(bot=bot).average_price == D("175.35")


def test_all_in_sizing_is_the_backtesters(bot: Any) -> None:
    o = order(bot, "a", "buy", "1", size_at_fill=True)
    fill = broker.fill_order(bot=bot, order=o, market=D(100), time=T)
    assert fill is not None
    expected = D(10000) / (D("100.2") * D("1.001"))
    assert abs(fill.quantity - expected) / expected < D("1e-10")
    cash = PaperAccount.objects.get(bot=bot).cash
    assert D(0) <= cash < D("0.0001")


def test_buy_beyond_cash_is_rejected(bot: Any) -> None:
    o = order(bot, "a", "buy", "1000")
    assert broker.fill_order(bot=bot, order=o, market=D(100), time=T) is None
    o.refresh_from_db()
    assert o.status == "rejected" and "insufficient cash" in o.reason
    assert PaperAccount.objects.get(bot=bot).cash == D(10000)


def test_sell_more_than_held_is_rejected_long_only(bot: Any) -> None:
    o = order(bot, "a", "sell", "1")
    assert broker.fill_order(bot=bot, order=o, market=D(100), time=T) is None
    o.refresh_from_db()
    assert o.status == "rejected"
    assert Position.objects.get(bot=bot).quantity == 0


def test_limit_orders_fill_only_when_crossed(bot: Any) -> None:
    buy = order(bot, "a", "buy", "1", type="limit", limit_price=D(95))
    assert not broker.crosses(buy, D(96))
    assert broker.crosses(buy, D(95))
    sell = order(bot, "b", "sell", "1", type="limit", limit_price=D(105))
    assert not broker.crosses(sell, D(104))
    assert broker.crosses(sell, D("105.5"))


def test_an_order_fills_once(bot: Any) -> None:
    o = order(bot, "a", "buy", "1")
    assert broker.fill_order(bot=bot, order=o, market=D(100), time=T) is not None
    assert broker.fill_order(bot=bot, order=o, market=D(100), time=T) is None
    assert bot.fills.count() == 1
