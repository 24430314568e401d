"""Bots and stale prices: no order is filled or decided on a price older than
``FEED_STALE_SECONDS``.

A live tick carries the time its price was observed (CoinGecko's
``last_updated_at``). When the provider fails, no tick arrives, and the feed
notes every running bot of the symbol once the last price is older than the
limit (:func:`note_stale`, from ``market.feed``); when the provider answers with
an old price, :func:`hold_on_stale_tick` (the guard ``hooks.on_tick`` calls)
keeps the bots off that tick: pending orders stay pending, no bar is decided, no
risk exit is taken at a price nobody can trade at. The bot stays running; the
journal says why it is waiting ("Price stale: ..."), once per episode, and
"Price fresh again: trading resumes." with the first fresh tick, which fills the
pending orders at its own price.

Replay ticks are made from stored bars at the moment they are sent, so they are
never stale.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from .models import JournalEntry, TradingBot

MARK = "stale_price"  # the key in a journal entry's inputs: True stale, False fresh
# Assets whose running bots may carry an unanswered stale note, in this process.
# Unknown assets count as noted, so the first fresh tick after a start checks.
_NOTED: dict[int, bool] = {}


def price_age(tick: Any) -> float | None:
    """Seconds since a live tick's price was observed; None for replay ticks."""
    if tick.source != "live":
        return None
    return max(0.0, (timezone.now() - tick.time).total_seconds())


def hold_on_stale_tick(*, bots: list[TradingBot], tick: Any) -> bool:
    """True when ``tick`` is too old to trade on: the bots do nothing with it."""
    age = price_age(tick)
    asset_id = bots[0].asset_id
    if age is not None and age > settings.FEED_STALE_SECONDS:
        note_stale(bots=bots, symbol=tick.symbol, price_time=tick.time)
        return True
    if _NOTED.get(asset_id, True):
        _resume(bots, tick)
        _NOTED[asset_id] = False
    return False


def note_stale(
    *, bots: list[TradingBot], symbol: str, price_time: datetime | None
) -> int:
    """Journal "price stale" for each running bot not already told; return how
    many were. Called by the feed while no fresh price arrives."""
    if not bots:
        return 0
    _NOTED[bots[0].asset_id] = True
    limit = settings.FEED_STALE_SECONDS
    now = timezone.now()
    if price_time is None:
        since = "no price received yet"
        inputs: dict[str, Any] = {MARK: True, "price_time": None}
    else:
        age = (now - price_time).total_seconds()
        since = f"last price at {price_time:%Y-%m-%d %H:%M:%S} UTC, {age:.0f} s old"
        inputs = {MARK: True, "price_time": price_time.isoformat(), "age": age}
    message = (
        f"Price stale: {symbol} {since} (limit {limit} s). No order is placed or "
        "filled until a fresh price arrives."
    )
    told = 0
    for bot in bots:
        if _last_mark(bot) is True:
            continue
        _journal(bot, message, {**inputs, "limit_seconds": limit}, now)
        told += 1
    return told


def _resume(bots: list[TradingBot], tick: Any) -> None:
    now = timezone.now()
    message = (
        f"Price fresh again: {tick.symbol} {tick.price:,} at "
        f"{tick.time:%Y-%m-%d %H:%M:%S} UTC. Trading resumes."
    )
    for bot in bots:
        if _last_mark(bot) is True:
            inputs = {MARK: False, "price": str(tick.price)}
            _journal(bot, message, inputs, now)


def _last_mark(bot: TradingBot) -> bool | None:
    """The mark of the bot's latest journal entry: True when it is a stale note
    (the bot was told and nothing happened since), else False or None."""
    inputs = (
        JournalEntry.objects.filter(bot=bot)
        .order_by("-created_at", "-pk")
        .values_list("inputs", flat=True)
        .first()
    )
    return inputs.get(MARK) if isinstance(inputs, dict) else None


def _journal(
    bot: TradingBot, message: str, inputs: dict[str, Any], now: datetime
) -> None:
    from .services import push_bot

    JournalEntry.objects.create(
        bot=bot,
        kind=JournalEntry.Kind.RISK,
        message=message[:500],
        inputs=inputs,
        created_at=now,
    )
    push_bot(bot.pk)
