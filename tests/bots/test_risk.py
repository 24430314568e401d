"""Risk rules: each breach pauses the bot with its reason; the emergency stop
halts every bot (no orders while on)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from apps.bots import broker
from apps.bots.engine import _create_order, process_tick
from apps.bots.models import Order, PaperAccount, Position, TradingBot

from .conftest import START, feed, make_bot, run, set_setting, tick

D = Decimal
FREE = {"fee_bps": D(0), "slippage_bps": D(0)}
BAR = START + timedelta(hours=50)


def holding(bot: Any, qty: str = "1", price: str = "100") -> Any:
    o = _create_order(
        bot, key="seed", side="buy", quantity=D(qty), source="manual", bar_time=BAR
    )
    broker.fill_order(bot=bot, order=o, market=D(price), time=BAR)
    return run(bot)


def paused(bot: Any) -> TradingBot:
    return TradingBot.objects.get(pk=bot.pk)


def test_stop_loss_sells_and_pauses(alice: Any, asset: Any) -> None:
    bot = holding(make_bot(alice, config={"stop_loss": D("0.05"), **FREE}))
    process_tick(bot_id=bot.pk, tick=tick(asset, "96", BAR, 1))
    assert paused(bot).status == "running"
    process_tick(bot_id=bot.pk, tick=tick(asset, "94.5", BAR, 2))
    b = paused(bot)
    assert b.status == "paused" and b.pause_reason.startswith("stop loss: 94.50")
    assert Position.objects.get(bot=bot).quantity == 0
    exit_ = Order.objects.get(bot=bot, source="stop")
    assert exit_.status == "filled" and exit_.fill.market_price == D("94.5")
    assert bot.journal.filter(
        kind="risk", message__startswith="Paused: stop loss"
    ).exists()


def test_take_profit_sells_and_pauses(alice: Any, asset: Any) -> None:
    bot = holding(make_bot(alice, config={"take_profit": D("0.10"), **FREE}))
    process_tick(bot_id=bot.pk, tick=tick(asset, "111", BAR, 1))
    b = paused(bot)
    assert b.status == "paused" and b.pause_reason.startswith("take profit")
    assert Position.objects.get(bot=bot).quantity == 0


def test_max_daily_loss_pauses(alice: Any, asset: Any) -> None:
    bot = holding(make_bot(alice, config={"max_daily_loss": D("0.02"), **FREE}), "100")
    process_tick(bot_id=bot.pk, tick=tick(asset, "100", BAR, 0))  # the day starts here
    process_tick(bot_id=bot.pk, tick=tick(asset, "99", BAR, 1))  # -100: 1 %
    assert paused(bot).status == "running"
    process_tick(bot_id=bot.pk, tick=tick(asset, "97.9", BAR, 2))  # -210: 2.1 %
    b = paused(bot)
    assert b.status == "paused" and b.pause_reason.startswith("maximum daily loss")
    assert Position.objects.get(bot=bot).quantity == 100  # paused, not liquidated


def test_max_drawdown_pauses(alice: Any, asset: Any) -> None:
    bot = holding(make_bot(alice, config={"max_drawdown": D("0.05"), **FREE}), "50")
    process_tick(bot_id=bot.pk, tick=tick(asset, "120", BAR, 1))  # peak 11000
    assert PaperAccount.objects.get(bot=bot).peak_equity == D(11000)
    process_tick(bot_id=bot.pk, tick=tick(asset, "110", BAR, 2))  # 10500: 4.5 % under
    assert paused(bot).status == "running"
    process_tick(bot_id=bot.pk, tick=tick(asset, "108", BAR, 3))  # 10400: 5.5 % under
    b = paused(bot)
    assert b.status == "paused" and b.pause_reason.startswith("maximum drawdown")


def test_max_position_refuses_the_entry_and_pauses(alice: Any, asset: Any) -> None:
    bot = run(make_bot(alice, config={"max_position": D("0.5")}))
    feed(asset, end=START + timedelta(hours=80))
    b = paused(bot)
    assert b.status == "paused" and b.pause_reason.startswith("maximum position")
    assert not Order.objects.filter(bot=bot, side="buy").exists()


def test_pausing_cancels_pending_orders(alice: Any, asset: Any) -> None:
    bot = holding(make_bot(alice, config={"stop_loss": D("0.05")}))
    pending = _create_order(
        bot,
        key="p",
        side="buy",
        quantity=D(1),
        source="manual",
        bar_time=BAR,
        type="limit",
        limit_price=D(1),
    )
    process_tick(bot_id=bot.pk, tick=tick(asset, "90", BAR, 1))
    pending.refresh_from_db()
    assert pending.status == "cancelled"


def test_emergency_stop_halts_every_bot(alice: Any, bob: Any, asset: Any) -> None:
    bots = [run(make_bot(alice)), run(make_bot(bob))]
    set_setting("emergency_stop", True)
    feed(asset, end=START + timedelta(hours=80))
    assert not Order.objects.filter(bot__in=bots).exists()
    set_setting("emergency_stop", False)
    feed(asset, start=START + timedelta(hours=80), end=START + timedelta(hours=120))
    assert Order.objects.filter(bot__in=bots).exists()
