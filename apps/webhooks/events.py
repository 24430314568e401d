"""What each event says. Other apps call these (through ``apps.webhooks``) from
the code path where the thing happens, inside its transaction."""

from __future__ import annotations

from typing import Any

from .models import (
    BACKTEST_COMPLETED,
    BOT_STATUS_CHANGED,
    TRADE_EXECUTED,
    TRAINING_COMPLETED,
)
from .services import emit_event


def trade_executed(fill: Any) -> int:
    bot = fill.bot
    return emit_event(
        user=bot.owner_id,
        event=TRADE_EXECUTED,
        data=lambda: {
            "bot": bot.pk,
            "bot_name": bot.name,
            "symbol": bot.asset.symbol,
            "order": fill.order_id,
            "fill": fill.pk,
            "side": fill.side,
            "quantity": fill.quantity,
            "price": fill.price,
            "market_price": fill.market_price,
            "fee": fill.fee,
            "realised_pnl": fill.realised_pnl,
            "time": fill.time,
        },
    )


def _bot_data(bot: Any, action: str, **extra: Any) -> dict[str, Any]:
    return {
        "bot": bot.pk,
        "bot_name": bot.name,
        "symbol": bot.asset.symbol,
        "status": bot.status,
        "action": action,
        "reason": bot.pause_reason,
        **extra,
    }


def bot_status_changed(bot: Any, action: str) -> int:
    """``action``: started, paused, stopped, risk_paused."""
    return emit_event(
        user=bot.owner_id,
        event=BOT_STATUS_CHANGED,
        data=lambda: _bot_data(bot, action, halted=False),
    )


def setting_changed(*, key: str, old: Any, new: Any) -> int:
    """The emergency stop halts (or frees) every running bot without changing its
    stored status: each owner hears it as a status change of each running bot."""
    if key != "emergency_stop" or bool(old) == bool(new):
        return 0
    from apps.bots.models import TradingBot

    action = "emergency_stop" if new else "emergency_stop_lifted"
    sent = 0
    for bot in TradingBot.objects.running().select_related("asset"):
        sent += emit_event(
            user=bot.owner_id,
            event=BOT_STATUS_CHANGED,
            data=_bot_data(bot, action, halted=bool(new)),
        )
    return sent


def backtest_completed(backtest: Any, status: str, **extra: Any) -> int:
    """``status``: succeeded or failed; ``metrics`` and ``trades``, or ``error``,
    in ``extra``."""
    metrics = extra.get("metrics") or {}
    return emit_event(
        user=backtest.owner_id,
        event=BACKTEST_COMPLETED,
        data={
            "backtest": backtest.pk,
            "status": status,
            "symbol": backtest.symbol,
            "timeframe": backtest.timeframe,
            "strategy": backtest.strategy,
            "total_return": metrics.get("total_return"),
            "trades": extra.get("trades"),
            "sharpe": metrics.get("sharpe"),
            "max_drawdown": metrics.get("max_drawdown"),
            "error": str(extra.get("error") or "")[:500],
        },
    )


def training_completed(run: Any, status: str, **extra: Any) -> int:
    """``status``: trained or failed; ``error`` in ``extra``."""
    model = run.model
    metrics = (run.metrics or {}).get("metrics") or {}
    return emit_event(
        user=model.owner_id,
        event=TRAINING_COMPLETED,
        data=lambda: {
            "model": model.pk,
            "model_name": model.name,
            "run": run.pk,
            "status": status,
            "algorithm": run.algorithm,
            "symbol": model.symbol,
            "timeframe": model.timeframe,
            "skill": metrics.get("skill"),
            "verdict": (run.metrics or {}).get("verdict"),
            "error": str(extra.get("error") or "")[:500],
        },
    )
