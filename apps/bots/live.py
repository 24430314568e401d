"""What the bots push to their owner's pages, and how often.

A change (a fill, an order, a decision, a lifecycle step) is pushed at once: the
bot's status and activity to its page (topic ``bot:<id>``), its row to the bots
list (``bots``), and the paper cards and latest fills to the dashboard
(``dashboard``). Between changes, a bot holding a position is worth a little more
or less on every tick: that mark-to-market equity is pushed at most once per
``EQUITY_PUSH_SECONDS`` per bot (status and row), and the owner's dashboard total at
most once per ``EQUITY_PUSH_SECONDS`` per user, so 100 bots on a fast feed send a
bounded number of frames and the feed spends a bounded time rendering.

Equity shown anywhere is the paper account marked at the latest price in the cache
(the feed's last tick), not a stored figure that would lag between fills.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.template.loader import render_to_string

from apps.system.live import push_to_user

from .broker import Q_MONEY
from .models import TradingBot

EQUITY_PUSH_SECONDS = 1.0

_bot_pushed: dict[int, tuple[float, str]] = {}  # bot -> (monotonic, equity)
_user_pushed: dict[int, float] = {}  # owner -> monotonic


def mark(bot: TradingBot, price: Decimal | None) -> TradingBot:
    """Set ``bot.metrics``' equity, profit and return at ``price`` from the bot's
    loaded account and position (no query); ``price`` None keeps what is stored."""
    if price is None:
        return bot
    account, position = bot.account, bot.position
    value = account.cash + position.quantity * price
    profit = value - account.starting_cash
    bot.metrics = {
        **(bot.metrics or {}),
        "equity": str(value.quantize(Q_MONEY)),
        "profit": str(profit.quantize(Q_MONEY)),
        "return_pct": float(profit / account.starting_cash * 100),
        "price": str(price),
    }
    return bot


def mark_latest(bots: Iterable[TradingBot]) -> list[TradingBot]:
    """Mark each bot (with account, position and asset loaded) at its asset's latest
    cached price: one cache read per asset."""
    from apps.market.prices import latest_price

    bots = list(bots)
    prices: dict[int, Decimal | None] = {}
    for bot in bots:
        if bot.asset_id not in prices:
            quote = latest_price(bot.asset)
            prices[bot.asset_id] = (
                Decimal(str(quote.price)) if quote.price is not None else None
            )
        mark(bot, prices[bot.asset_id])
    return bots


def _status_html(bot: TradingBot, *, activity: bool) -> str:
    html = render_to_string("bots/_status.html", {"bot": bot, "oob": True})
    if activity:
        html += render_to_string("bots/_activity.html", {"bot": bot, "oob": True})
    return html


def _row_html(bot: TradingBot) -> str:
    # A bare <tr>: htmx 2 parses a fragment inside a <template>, where a row is
    # valid; a <template> wrapper of our own would be swapped as an element
    # without an id (htmx:oobErrorNoTarget, "#null").
    return render_to_string("bots/_row.html", {"bot": bot, "oob": True})


def push_added(bot_id: int) -> None:
    """After commit: a new bot's row appended to the bots list (a list page opened
    before the bot existed has no row for its later updates to replace)."""

    def send() -> None:
        bot = load(bot_id)
        if bot is None:
            return
        row = render_to_string("bots/_row.html", {"bot": bot, "oob": False})
        html = f'<tbody hx-swap-oob="beforeend:#bots-body">{row}</tbody>'
        push_to_user(bot.owner_id, html, topics=["bots"])
        push_dashboard(bot.owner_id)

    transaction.on_commit(send)


def push_removed(owner_id: int, bot_id: int) -> None:
    """After commit: a deleted bot's row removed from the bots list."""
    forget(bot_id)
    html = f'<tr id="bot-{bot_id}-row" hx-swap-oob="delete"></tr>'

    def send() -> None:
        push_to_user(owner_id, html, topics=["bots"])
        push_dashboard(owner_id)

    transaction.on_commit(send)


def send_bot(bot: TradingBot, *, activity: bool = True) -> None:
    """Push the bot's page fragments and list row now."""
    push_to_user(
        bot.owner_id, _status_html(bot, activity=activity), topics=[f"bot:{bot.pk}"]
    )
    push_to_user(bot.owner_id, _row_html(bot), topics=["bots"])


def load(bot_id: int) -> TradingBot | None:
    bot = (
        TradingBot.objects.select_related("asset", "account", "position")
        .filter(pk=bot_id)
        .first()
    )
    return mark_latest([bot])[0] if bot is not None else None


def push_bot(bot_id: int, *, dashboard: bool = True) -> None:
    """After commit: the bot's fragments, and (``dashboard``) its owner's dashboard."""

    def send() -> None:
        bot = load(bot_id)
        if bot is None:
            return
        send_bot(bot)
        _bot_pushed[bot.pk] = (time.monotonic(), bot.metrics.get("equity", ""))
        if dashboard:
            push_dashboard(bot.owner_id)

    transaction.on_commit(send)


def push_dashboard(owner_id: int) -> None:
    from apps.system.dashboard import push_dashboard as push

    _user_pushed[owner_id] = time.monotonic()
    push(owner_id, "paper", "fills")


def push_marks(bots: Iterable[TradingBot], price: Decimal) -> int:
    """Per tick, for bots the tick did not otherwise change: push the equity of
    those holding a position, throttled per bot and per owner; return how many
    bots were pushed."""
    now = time.monotonic()
    owners: set[int] = set()
    pushed = 0
    for bot in bots:
        if bot.position.quantity <= 0:
            continue
        last = _bot_pushed.get(bot.pk)
        if last is not None and now - last[0] < EQUITY_PUSH_SECONDS:
            continue
        mark(bot, price)
        equity = bot.metrics["equity"]
        if last is not None and last[1] == equity:
            continue
        _bot_pushed[bot.pk] = (now, equity)
        send_bot(bot, activity=False)
        pushed += 1
        owners.add(bot.owner_id)
    for owner in owners:
        if now - _user_pushed.get(owner, 0.0) >= EQUITY_PUSH_SECONDS:
            _user_pushed[owner] = now
            from apps.system.dashboard import push_dashboard as push

            push(owner, "paper")
    return pushed


def forget(bot_id: int) -> None:
    _bot_pushed.pop(bot_id, None)


def reset_throttle() -> None:
    """For tests and benchmarks: forget when anything was last pushed."""
    _bot_pushed.clear()
    _user_pushed.clear()
