"""The bots' engine: a tick in, fills, risk checks and decisions out.

For each running bot of the tick's asset, in one transaction:

1. pending orders fill at this tick's price (market orders always, limit orders
   when the price crosses), through the paper broker;
2. risk rules are checked on the marked-to-market account: stop loss and take
   profit of the position, maximum daily loss, maximum drawdown. A breach closes
   what it must and pauses the bot with the reason;
3. at the close of the bot's bar, the strategy (the backtester's own function) runs
   on the last ``WINDOW`` stored bars up to and including the closing bar, and a
   change of target becomes a market order, which fills at the NEXT tick: under
   replay that is the next bar's open, the backtester's fill rule.

Bar closes: under replay the last tick of a replayed bar (``tick_index ==
REPLAY_TICKS_PER_BAR - 1``, its price the stored close) closes the bot's bar when
the replayed bar ends on a boundary of the bot's timeframe. Live, the first tick
of a new bucket closes the previous one (its stored bar is complete by then).
Decisions move forward only (``last_bar_time``): a replay that starts a new lap
replays old bars without trading them again.

Idempotency: a decision's order key is ``"{bot}:{bar open epoch}:{side}"``, unique
per bot, and ``last_bar_time`` advances by a conditional update; so a tick handled
twice (fast ticks, two feed processes) never makes a second order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from apps import webhooks
from apps.backtests.engine import OHLCV
from apps.backtests.strategies import get_strategy
from apps.market.models import TIMEFRAMES, Candle

from . import broker
from .models import JournalEntry, Order, PaperAccount, Position, TradingBot

WINDOW = 500


@dataclass
class TickResult:
    """What one bot did on one tick, so callers push only when something changed."""

    decided: bool = False
    changed: bool = False
    events: list[str] = field(default_factory=list)


def market_time(tick: Any) -> datetime:
    return tick.bar_time if tick.bar_time is not None else tick.time


def closing_bar(bot: TradingBot, tick: Any) -> datetime | None:
    """The open time of the bot's bar this tick closes, or None."""
    step = TIMEFRAMES[bot.timeframe]
    if tick.source == "replay":
        if tick.tick_index != settings.REPLAY_TICKS_PER_BAR - 1:
            return None
        from apps.market.feed import finest_cached  # the feed imports the hooks

        end = tick.bar_time + timedelta(seconds=TIMEFRAMES[finest_cached(bot.asset)])
        epoch = int(end.timestamp())
        if epoch % step:
            return None
        return datetime.fromtimestamp(epoch - step, UTC)
    bucket = int(tick.time.timestamp()) // step * step
    previous = datetime.fromtimestamp(bucket - step, UTC)
    if bot.last_bar_time is not None and previous <= bot.last_bar_time:
        return None
    return previous


def running_bots(asset_id: int) -> list[TradingBot]:
    """Running bots of an asset with account, position and a pending-orders flag."""
    running = TradingBot.objects.filter(
        asset_id=asset_id, status=TradingBot.Status.RUNNING
    )
    if not running.exists():  # the usual case of a symbol: the cheapest query
        return []
    pending = Order.objects.filter(bot=OuterRef("pk"), status=Order.Status.NEW)
    return list(
        TradingBot.objects.filter(asset_id=asset_id, status=TradingBot.Status.RUNNING)
        .select_related("asset", "account", "position")
        .annotate(has_pending=Exists(pending))
    )


def needs_attention(bot: TradingBot, tick: Any) -> bool:
    """Whether ``tick`` may change anything for ``bot`` (read from the prefetched
    rows, no query): else the locked path is skipped. A new equity high alone is
    recorded here by one conditional update, outside any transaction."""
    if getattr(bot, "has_pending", True) or closing_bar(bot, tick) is not None:
        return True
    account, position = bot.account, bot.position
    price = Decimal(str(tick.price))
    if position.quantity > 0 and _stop_reason(bot, position, price):
        return True
    if account.day != market_time(tick).date():
        return True
    value = equity(account, position, price)
    if value > account.peak_equity:
        PaperAccount.objects.filter(pk=account.pk, peak_equity__lt=value).update(
            peak_equity=value
        )
        account.peak_equity = value
    if bot.max_daily_loss is not None and value < account.day_start_equity * (
        1 - Decimal(bot.max_daily_loss)
    ):
        return True
    return bot.max_drawdown is not None and value < account.peak_equity * (
        1 - Decimal(bot.max_drawdown)
    )


def equity(account: PaperAccount, position: Position, price: Decimal) -> Decimal:
    return account.cash + position.quantity * price


def process_tick(*, bot_id: int, tick: Any) -> TickResult:
    """Run one bot on one tick (see the module docstring)."""
    result = TickResult()
    with transaction.atomic():
        bot = (
            TradingBot.objects.select_for_update()
            .select_related("asset")
            .filter(pk=bot_id, status=TradingBot.Status.RUNNING)
            .first()
        )
        if bot is None:
            return result
        price = Decimal(str(tick.price))
        when = market_time(tick)
        _fill_pending(bot, price, when, result)
        if _check_risk(bot, price, when, result):
            bar = closing_bar(bot, tick)
            if bar is not None:
                decide(bot=bot, bar_open=bar, price=price, result=result)
        if result.changed:
            _update_metrics(bot, price)
    return result


def _fill_pending(
    bot: TradingBot, price: Decimal, when: datetime, result: TickResult
) -> None:
    pending = list(bot.orders.filter(status=Order.Status.NEW).order_by("pk"))
    for order in pending:
        if broker.crosses(order, price):
            broker.fill_order(bot=bot, order=order, market=price, time=when)
            result.changed = True


def _check_risk(
    bot: TradingBot, price: Decimal, when: datetime, result: TickResult
) -> bool:
    """False when a rule paused the bot (no decision then)."""
    account = PaperAccount.objects.get(bot=bot)
    position = Position.objects.get(bot=bot)
    reason = None
    if position.quantity > 0:
        reason = _stop_reason(bot, position, price)
        if reason:
            order = _create_order(
                bot,
                key=f"{bot.pk}:{position.opened_at.timestamp():.0f}:exit",
                side=Order.Side.SELL,
                quantity=position.quantity,
                source=Order.Source.STOP,
                bar_time=when,
                size_at_fill=True,
            )
            if order is not None:
                broker.fill_order(bot=bot, order=order, market=price, time=when)
            account.refresh_from_db()
            position.refresh_from_db()
    value = equity(account, position, price)
    day = when.date()
    if account.day != day:
        PaperAccount.objects.filter(pk=account.pk).update(
            day=day, day_start_equity=value
        )
        account.day_start_equity = value
    if reason is None and bot.max_daily_loss is not None:
        floor = account.day_start_equity * (1 - Decimal(bot.max_daily_loss))
        if value < floor:
            reason = (
                f"maximum daily loss: equity {value:,.2f} below {floor:,.2f} "
                f"({Decimal(bot.max_daily_loss) * 100:g} % of the day's start)"
            )
    if reason is None and bot.max_drawdown is not None:
        floor = account.peak_equity * (1 - Decimal(bot.max_drawdown))
        if value < floor:
            reason = (
                f"maximum drawdown: equity {value:,.2f} below {floor:,.2f} "
                f"({Decimal(bot.max_drawdown) * 100:g} % under the peak)"
            )
    if value > account.peak_equity:
        PaperAccount.objects.filter(pk=account.pk, peak_equity__lt=value).update(
            peak_equity=value
        )
    if reason:
        pause_for_risk(bot, reason, when)
        result.changed = True
        result.events.append("paused")
        return False
    return True


def _stop_reason(bot: TradingBot, position: Position, price: Decimal) -> str | None:
    avg = position.average_price
    if bot.stop_loss is not None:
        level = avg * (1 - Decimal(bot.stop_loss))
        if price <= level:
            return f"stop loss: {price:,.2f} at or below {level:,.2f}"
    if bot.take_profit is not None:
        level = avg * (1 + Decimal(bot.take_profit))
        if price >= level:
            return f"take profit: {price:,.2f} at or above {level:,.2f}"
    return None


def pause_for_risk(bot: TradingBot, reason: str, when: datetime | None) -> None:
    """Pause a running bot with ``reason`` and cancel its pending orders."""
    now = timezone.now()
    paused = TradingBot.objects.filter(
        pk=bot.pk, status=TradingBot.Status.RUNNING
    ).update(status=TradingBot.Status.PAUSED, pause_reason=reason[:300])
    if not paused:
        return
    bot.status, bot.pause_reason = TradingBot.Status.PAUSED, reason[:300]
    bot.orders.filter(status=Order.Status.NEW).update(
        status=Order.Status.CANCELLED, reason="bot paused", updated_at=now
    )
    JournalEntry.objects.create(
        bot=bot,
        kind=JournalEntry.Kind.RISK,
        message=f"Paused: {reason}"[:500],
        bar_time=when,
        created_at=now,
    )
    webhooks.bot_status_changed(bot, "risk_paused")


def _create_order(
    bot: TradingBot,
    *,
    key: str,
    side: str,
    quantity: Decimal,
    source: str,
    bar_time: datetime | None,
    size_at_fill: bool = False,
    type: str = Order.Type.MARKET,
    limit_price: Decimal | None = None,
) -> Order | None:
    """A new order, or None when one with this key exists (a duplicate decision)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            return Order.objects.create(
                bot=bot,
                key=key,
                side=side,
                type=type,
                source=source,
                quantity=quantity,
                limit_price=limit_price,
                size_at_fill=size_at_fill,
                bar_time=bar_time,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:
        return None


_BARS: dict[tuple[int, str, datetime, int], OHLCV] = {}


def recent_bars(bot: TradingBot, bar_open: datetime, limit: int = WINDOW) -> OHLCV:
    """The last ``limit`` stored bars of the bot's timeframe up to ``bar_open``.

    Many bots on one symbol close the same bar at the same tick, so the series is
    kept for the latest few closing bars in the process: a closed bar no longer
    changes. An empty or short read (the bar not stored yet) is not kept."""
    key = (bot.asset_id, bot.timeframe, bar_open, limit)
    cached = _BARS.get(key)
    if cached is not None:
        return cached
    data = _read_bars(bot, bar_open, limit)
    if len(data) and int(data.timestamp[-1]) == int(bar_open.timestamp()):
        if len(_BARS) >= 16:
            _BARS.pop(next(iter(_BARS)))
        _BARS[key] = data
    return data


def _read_bars(bot: TradingBot, bar_open: datetime, limit: int) -> OHLCV:
    rows = list(
        Candle.objects.filter(
            asset_id=bot.asset_id, timeframe=bot.timeframe, open_time__lte=bar_open
        )
        .order_by("-open_time")
        .values_list("open_time", "open", "high", "low", "close", "volume")[:limit]
    )
    rows.reverse()
    if not rows:
        empty = np.empty(0)
        return OHLCV(np.empty(0, np.int64), empty, empty, empty, empty, empty)
    times, o, h, lo, c, _v = zip(*rows, strict=True)
    return OHLCV(
        np.array([int(t.timestamp()) for t in times], dtype=np.int64),
        np.array(o, dtype=float),
        np.array(h, dtype=float),
        np.array(lo, dtype=float),
        np.array(c, dtype=float),
        np.zeros(len(rows)),
    )


def decide(
    *, bot: TradingBot, bar_open: datetime, price: Decimal, result: TickResult
) -> Order | None:
    """Run the strategy on the bars up to ``bar_open``; order on a change of target."""
    advanced = (
        TradingBot.objects.filter(pk=bot.pk)
        .filter(Q(last_bar_time__isnull=True) | Q(last_bar_time__lt=bar_open))
        .update(last_bar_time=bar_open, last_active_at=timezone.now())
    )
    if not advanced:
        return None  # decided already (an earlier tick or another process)
    bot.last_bar_time = bar_open
    result.decided = True
    data = recent_bars(bot, bar_open)
    if len(data) == 0 or int(data.timestamp[-1]) != int(bar_open.timestamp()):
        result.changed = True
        _journal(
            bot,
            bar_open,
            f"No stored {bot.timeframe} bar at {bar_open:%Y-%m-%d %H:%M}; no decision.",
            {},
        )
        return None
    target = float(get_strategy(bot.strategy).signals(data, **bot.params)[-1])
    target = min(max(target, 0.0), 1.0)  # paper bots are long-only
    account = PaperAccount.objects.get(bot=bot)
    position = Position.objects.get(bot=bot)
    close = Decimal(str(float(data.close[-1])))
    inputs = describe(bot, data, target)
    held = position.quantity > 0
    if (target > 0) == held:
        return None
    side = Order.Side.BUY if target > 0 else Order.Side.SELL
    value = equity(account, position, close)
    if side == Order.Side.BUY:
        qty = broker.entry_quantity(bot, value, broker.fill_price(bot, side, close))
        share = qty * close / value if value > 0 else Decimal(0)
        if share > Decimal(bot.max_position):
            reason = (
                f"maximum position: buying {qty.normalize():f} {bot.base} would hold "
                f"{share * 100:.1f} % of equity (limit {Decimal(bot.max_position) * 100:g} %)"
            )
            pause_for_risk(bot, reason, bar_open)
            result.changed = True
            return None
    else:
        qty = position.quantity
    if qty <= 0:
        return None
    order = _create_order(
        bot,
        key=f"{bot.pk}:{int(bar_open.timestamp())}:{side}",
        side=side,
        quantity=qty,
        source=Order.Source.STRATEGY,
        bar_time=bar_open,
        size_at_fill=True,
    )
    if order is not None:
        result.changed = True
        verb = "buy" if side == Order.Side.BUY else "sell"
        _journal(
            bot,
            bar_open,
            f"{inputs['why']} at {close:,.2f}: {verb} {qty:.6f} {bot.base}",
            {**inputs, "order": order.pk, "close": str(close), "quantity": str(qty)},
        )
    return order


def describe(bot: TradingBot, data: OHLCV, target: float) -> dict[str, Any]:
    """The decision's inputs in words and numbers, for the journal."""
    params = get_strategy(bot.strategy).validate(bot.params)
    inputs: dict[str, Any] = {
        "strategy": bot.strategy,
        "params": params,
        "target": target,
    }
    if bot.strategy in ("sma_cross", "ema_cross"):
        from apps.backtests import indicators as ind

        kind = "SMA" if bot.strategy == "sma_cross" else "EMA"
        if kind == "SMA":
            fast, slow = ind.smas(data.close, params["fast"], params["slow"])
        else:
            fast = ind.ema(data.close, params["fast"])
            slow = ind.ema(data.close, params["slow"])
        f, s = float(fast[-1]), float(slow[-1])
        if not (math.isfinite(f) and math.isfinite(s)):
            # Too few bars for the averages yet (a manual position is being closed
            # before the strategy has warmed up): say so, and store no NaN.
            inputs.update(fast=None, slow=None)
            inputs["why"] = (
                f"{kind} {params['slow']} has fewer than {params['slow']} bars: "
                f"target {target:g}"
            )
            return inputs
        inputs.update(fast=f, slow=s)
        where = "above" if target > 0 else "below"
        inputs["why"] = (
            f"{kind} {params['fast']} ({f:,.2f}) crossed {where} "
            f"{kind} {params['slow']} ({s:,.2f})"
        )
    else:
        inputs["why"] = f"{get_strategy(bot.strategy).label} target {target:g}"
    return inputs


def _journal(
    bot: TradingBot, bar: datetime | None, message: str, inputs: dict[str, Any]
) -> None:
    JournalEntry.objects.create(
        bot=bot,
        kind=JournalEntry.Kind.DECISION,
        message=message[:500],
        inputs=inputs,
        bar_time=bar,
        created_at=timezone.now(),
    )


def snapshot(bot: TradingBot, price: Decimal | None) -> dict[str, Any]:
    """Cash, position, equity and profit, marked at ``price`` (or the average)."""
    account = PaperAccount.objects.get(bot=bot)
    position = Position.objects.get(bot=bot)
    mark = price if price is not None else position.average_price
    value = equity(account, position, mark)
    profit = value - account.starting_cash
    return {
        "cash": str(account.cash),
        "quantity": str(position.quantity),
        "average_price": str(position.average_price),
        "realised_pnl": str(position.realised_pnl),
        "equity": str(value.quantize(broker.Q_MONEY)),
        "profit": str(profit.quantize(broker.Q_MONEY)),
        "return_pct": float(profit / account.starting_cash * 100),
        "peak_equity": str(account.peak_equity),
        "price": str(mark),
    }


def _update_metrics(bot: TradingBot, price: Decimal) -> None:
    metrics = snapshot(bot, price)
    metrics["fills"] = bot.fills.count()
    TradingBot.objects.filter(pk=bot.pk).update(
        metrics=metrics, last_active_at=timezone.now()
    )
    bot.metrics = metrics
