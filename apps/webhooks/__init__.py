"""Signed webhooks: a user's endpoints receive trade, bot, backtest and training
events, signed with HMAC-SHA256 and delivered by Celery with retries.

The functions here are what other apps call, one line per place. They import
lazily, so importing this package never touches the app registry.
"""

from __future__ import annotations

from typing import Any


def emit(user: Any, event: str, data: dict[str, Any]) -> int:
    """Queue ``event`` for every active endpoint of ``user`` (a user or its id)
    subscribed to it; sent after the current transaction commits."""
    from .services import emit_event

    return emit_event(user=user, event=event, data=data)


def trade_executed(fill: Any) -> int:
    from .events import trade_executed as build

    return build(fill)


def bot_status_changed(bot: Any, action: str) -> int:
    from .events import bot_status_changed as build

    return build(bot, action)


def backtest_completed(backtest: Any, status: str, **extra: Any) -> int:
    from .events import backtest_completed as build

    return build(backtest, status, **extra)


def training_completed(run: Any, status: str, **extra: Any) -> int:
    from .events import training_completed as build

    return build(run, status, **extra)


def setting_changed(*, key: str, old: Any, new: Any) -> int:
    from .events import setting_changed as build

    return build(key=key, old=old, new=new)
