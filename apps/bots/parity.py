"""Paper trades against the backtest of the same strategy, parameters and costs.

The paper ledger is Decimal and the backtester float64, so prices and quantities
are compared with a relative tolerance (``TOLERANCE``); times exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from apps.backtests.engine import BacktestConfig, run_backtest
from apps.backtests.strategies import get_strategy
from apps.market.models import TIMEFRAMES, Candle

from .engine import WINDOW, recent_bars
from .models import Fill, JournalEntry, TradingBot

TOLERANCE = 1e-6


def paper_trades(bot: TradingBot) -> list[dict[str, Any]]:
    """Fills paired into round trips (buy then sell), oldest first."""
    trades: list[dict[str, Any]] = []
    open_: dict[str, Any] | None = None
    for fill in Fill.objects.filter(bot=bot).order_by("time", "pk"):
        if fill.side == "buy" and open_ is None:
            open_ = {
                "entry_time": fill.time,
                "entry_price": float(fill.price),
                "quantity": float(fill.quantity),
                "exit_time": None,
                "exit_price": None,
            }
        elif fill.side == "sell" and open_ is not None:
            open_.update(exit_time=fill.time, exit_price=float(fill.price))
            trades.append(open_)
            open_ = None
    if open_ is not None:
        trades.append(open_)
    return trades


def backtest_trades(
    bot: TradingBot, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The backtest's trades over the bars the bot decided on, ``start`` to ``end``
    (open times, inclusive), filling at the open of the bar after ``end`` when it
    is stored. Signals before ``start`` are zeroed: the bot was not running."""
    step = timedelta(seconds=TIMEFRAMES[bot.timeframe])
    last = (
        Candle.objects.filter(
            asset_id=bot.asset_id, timeframe=bot.timeframe, open_time__lte=end + step
        )
        .order_by("-open_time")
        .values_list("open_time", flat=True)
        .first()
    )
    if last is None:
        return []
    count = int(
        Candle.objects.filter(
            asset_id=bot.asset_id,
            timeframe=bot.timeframe,
            open_time__gte=start,
            open_time__lte=last,
        ).count()
    )
    data = recent_bars(bot, last, count + WINDOW)
    target = get_strategy(bot.strategy).signals(data, **bot.params)
    target[data.timestamp < int(start.timestamp())] = 0.0
    target[data.timestamp > int(end.timestamp())] = 0.0
    config = BacktestConfig(
        initial_capital=float(bot.account.starting_cash),
        fee_bps=float(bot.fee_bps),
        slippage_bps=float(bot.slippage_bps),
        fraction=float(bot.fraction),
    )
    result = run_backtest(data, np.clip(target, 0.0, 1.0), config)
    out = []
    for rec in result.trades.to_records():
        still_open = rec["exit_reason"] == "end"
        out.append(
            {
                "entry_time": datetime.fromtimestamp(rec["entry_time"], UTC),
                "entry_price": rec["entry_price"],
                "quantity": rec["quantity"],
                "exit_time": None
                if still_open
                else datetime.fromtimestamp(rec["exit_time"], UTC),
                "exit_price": None if still_open else rec["exit_price"],
            }
        )
    return out


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= TOLERANCE * max(abs(a), abs(b), 1e-12)


def compare(bot: TradingBot) -> dict[str, Any]:
    """Both trade lists side by side and every difference."""
    decisions = JournalEntry.objects.filter(
        bot=bot, kind=JournalEntry.Kind.DECISION, bar_time__isnull=False
    )
    first = decisions.order_by("bar_time").values_list("bar_time", flat=True).first()
    if first is None or bot.last_bar_time is None:
        return {"error": "The bot has made no decision yet: nothing to compare."}
    paper = paper_trades(bot)
    backtest = backtest_trades(bot, first, bot.last_bar_time)
    rows, differences = [], []
    for i in range(max(len(paper), len(backtest))):
        p = paper[i] if i < len(paper) else None
        b = backtest[i] if i < len(backtest) else None
        problem = _difference(p, b)
        rows.append(
            {"paper": p, "backtest": b, "match": problem is None, "problem": problem}
        )
        if problem:
            differences.append(f"trade {i + 1}: {problem}")
    return {"rows": rows, "differences": differences, "tolerance": TOLERANCE}


def _difference(p: dict[str, Any] | None, b: dict[str, Any] | None) -> str | None:
    if p is None or b is None:
        return "only in the " + ("backtest" if p is None else "paper trades")
    if p["entry_time"] != b["entry_time"]:
        return "entry time differs"
    if not close(p["entry_price"], b["entry_price"]):
        return "entry price differs"
    if not close(p["quantity"], b["quantity"]):
        return "quantity differs"
    if p["exit_time"] != b["exit_time"]:
        return "exit time differs"
    if not close(p["exit_price"], b["exit_price"]):
        return "exit price differs"
    return None
