"""The paper broker: fills orders at a tick price with slippage and fees, in Decimal.

A buy fills at ``price * (1 + slip)``, a sell at ``price * (1 - slip)``; the fee is
``fee_bps`` of the filled notional on each side, as in the backtest engine. An
order is claimed by a conditional update (new -> filled), so two processes handling
the same tick never fill it twice; cash and the long-only position change by
conditional updates too, so neither ever goes negative.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps import webhooks

from .models import Fill, JournalEntry, Order, PaperAccount, Position, TradingBot

BPS = Decimal(10_000)
Q_MONEY = Decimal("1e-10")
Q_QTY = Decimal("1e-12")


def fee_rate(bot: TradingBot) -> Decimal:
    return Decimal(bot.fee_bps) / BPS


def fill_price(bot: TradingBot, side: str, market: Decimal) -> Decimal:
    slip = Decimal(bot.slippage_bps) / BPS
    factor = 1 + slip if side == Order.Side.BUY else 1 - slip
    return (market * factor).quantize(Q_MONEY)


def entry_quantity(bot: TradingBot, equity: Decimal, price: Decimal) -> Decimal:
    """All-in sizing of the backtester: fraction * equity / (price * (1 + fee))."""
    qty = Decimal(bot.fraction) * equity / (price * (1 + fee_rate(bot)))
    return qty.quantize(Q_QTY, rounding=ROUND_DOWN)


def crosses(order: Order, market: Decimal) -> bool:
    if order.type == Order.Type.MARKET:
        return True
    if order.limit_price is None:
        return False
    if order.side == Order.Side.BUY:
        return market <= order.limit_price
    return market >= order.limit_price


def _reject(order: Order, reason: str, now: datetime) -> None:
    Order.objects.filter(pk=order.pk).update(
        status=Order.Status.REJECTED, reason=reason[:300], updated_at=now
    )
    order.status, order.reason = Order.Status.REJECTED, reason
    JournalEntry.objects.create(
        bot_id=order.bot_id,
        kind=JournalEntry.Kind.ORDER,
        message=f"Order {order.side} rejected: {reason}"[:500],
        inputs={"order": order.pk},
        created_at=now,
    )


@transaction.atomic
def fill_order(
    *, bot: TradingBot, order: Order, market: Decimal, time: datetime
) -> Fill | None:
    """Fill ``order`` at ``market`` now, or return None (already handled, rejected)."""
    now = timezone.now()
    claimed = Order.objects.filter(pk=order.pk, status=Order.Status.NEW).update(
        status=Order.Status.FILLED, updated_at=now
    )
    if not claimed:
        return None
    order.status = Order.Status.FILLED
    account = PaperAccount.objects.get(bot=bot)
    position = Position.objects.get(bot=bot)
    price = fill_price(bot, order.side, market)
    if order.side == Order.Side.BUY:
        return _buy(bot, order, account, position, market, price, time, now)
    return _sell(bot, order, position, market, price, time, now)


def _buy(
    bot: TradingBot,
    order: Order,
    account: PaperAccount,
    position: Position,
    market: Decimal,
    price: Decimal,
    time: datetime,
    now: datetime,
) -> Fill | None:
    qty = order.quantity
    if order.size_at_fill:
        equity = account.cash + position.quantity * market
        qty = min(entry_quantity(bot, equity, price), _affordable(bot, account, price))
    if qty <= 0:
        _reject(order, "insufficient cash", now)
        return None
    notional = (qty * price).quantize(Q_MONEY, rounding=ROUND_UP)
    fee = (qty * price * fee_rate(bot)).quantize(Q_MONEY, rounding=ROUND_UP)
    total = notional + fee
    paid = PaperAccount.objects.filter(pk=account.pk, cash__gte=total).update(
        cash=F("cash") - total
    )
    if not paid:
        _reject(order, f"insufficient cash for {total:.2f}", now)
        return None
    held = position.quantity + qty
    average = (position.quantity * position.average_price + qty * price) / held
    Position.objects.filter(pk=position.pk).update(
        quantity=F("quantity") + qty,
        average_price=average.quantize(Q_MONEY),
        realised_pnl=F("realised_pnl") - fee,
        opened_at=position.opened_at or time,
    )
    return _record(bot, order, Order.Side.BUY, qty, price, market, fee, -fee, time)


def _affordable(bot: TradingBot, account: PaperAccount, price: Decimal) -> Decimal:
    qty = account.cash / (price * (1 + fee_rate(bot)) * (1 + Q_QTY))
    return qty.quantize(Q_QTY, rounding=ROUND_DOWN)


def _sell(
    bot: TradingBot,
    order: Order,
    position: Position,
    market: Decimal,
    price: Decimal,
    time: datetime,
    now: datetime,
) -> Fill | None:
    qty = position.quantity if order.size_at_fill else order.quantity
    if qty <= 0 or qty > position.quantity:
        _reject(order, f"position holds only {position.quantity.normalize()}", now)
        return None
    notional = (qty * price).quantize(Q_MONEY, rounding=ROUND_DOWN)
    fee = (qty * price * fee_rate(bot)).quantize(Q_MONEY, rounding=ROUND_UP)
    pnl = (qty * (price - position.average_price)).quantize(Q_MONEY) - fee
    sold = Position.objects.filter(pk=position.pk, quantity__gte=qty).update(
        quantity=F("quantity") - qty, realised_pnl=F("realised_pnl") + pnl
    )
    if not sold:
        _reject(order, "position changed; nothing to sell", now)
        return None
    if qty == position.quantity:
        Position.objects.filter(pk=position.pk, quantity=0).update(
            average_price=0, opened_at=None
        )
    PaperAccount.objects.filter(bot=bot).update(cash=F("cash") + notional - fee)
    return _record(bot, order, Order.Side.SELL, qty, price, market, fee, pnl, time)


def _record(
    bot: TradingBot,
    order: Order,
    side: str,
    qty: Decimal,
    price: Decimal,
    market: Decimal,
    fee: Decimal,
    pnl: Decimal,
    time: datetime,
) -> Fill:
    if qty != order.quantity:
        Order.objects.filter(pk=order.pk).update(quantity=qty)
        order.quantity = qty
    slippage = (abs(price - market) * qty).quantize(Q_MONEY)
    fill = Fill.objects.create(
        bot=bot,
        order=order,
        side=side,
        price=price,
        market_price=market,
        quantity=qty,
        fee=fee,
        slippage=slippage,
        realised_pnl=pnl,
        time=time,
    )
    JournalEntry.objects.create(
        bot=bot,
        kind=JournalEntry.Kind.FILL,
        message=(
            f"Filled {side} {qty.normalize():f} {bot.base} at {price:,.2f} "
            f"(market {market:,.2f}, fee {fee:,.4f})"
        )[:500],
        inputs={"order": order.pk, "price": str(price), "quantity": str(qty)},
        bar_time=time,
        created_at=timezone.now(),
    )
    webhooks.trade_executed(fill)
    return fill
