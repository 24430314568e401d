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
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.template.loader import render_to_string

from apps.system.live import Part, push_parts

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


class Outbox:
    """Fragments collected for several bots, sent as one message per owner: a tick
    that changes 100 bots of one owner costs one channel send and one frame per
    socket, not 200."""

    def __init__(self) -> None:
        self.parts: dict[int, list[Part]] = defaultdict(list)
        self.dashboards: dict[int, tuple[str, ...]] = {}

    def add_bot(self, bot: TradingBot, *, activity: bool = True) -> None:
        self.parts[bot.owner_id].append(
            ([f"bot:{bot.pk}"], _status_html(bot, activity=activity))
        )
        self.parts[bot.owner_id].append((["bots"], _row_html(bot)))
        _bot_pushed[bot.pk] = (time.monotonic(), bot.metrics.get("equity", ""))

    def add_dashboard(self, owner_id: int, *cards: str) -> None:
        _user_pushed[owner_id] = time.monotonic()
        self.dashboards[owner_id] = cards

    def send(self) -> None:
        """The bots' fragments first; the dashboard cards (rendered from several
        queries) in a second message, so they never delay an order's fragment."""
        from apps.system.dashboard import dashboard_part

        for owner_id, parts in self.parts.items():
            push_parts(owner_id, parts)
        for owner_id, cards in self.dashboards.items():
            push_parts(owner_id, [dashboard_part(owner_id, *cards)])
        self.parts.clear()
        self.dashboards.clear()


def load(bot_ids: Iterable[int], price: Decimal | None = None) -> list[TradingBot]:
    """The bots with account, position and asset, marked at ``price`` (or at each
    asset's latest cached price)."""
    bots = list(
        TradingBot.objects.select_related("asset", "account", "position").filter(
            pk__in=list(bot_ids)
        )
    )
    if price is None:
        return mark_latest(bots)
    return [mark(bot, price) for bot in bots]


def push_bot(bot_id: int, *, dashboard: bool = True) -> None:
    """After commit: the bot's fragments, and (``dashboard``) its owner's dashboard."""

    def send() -> None:
        outbox = Outbox()
        for bot in load([bot_id]):
            outbox.add_bot(bot)
            if dashboard:
                outbox.add_dashboard(bot.owner_id, "paper", "fills")
        outbox.send()

    transaction.on_commit(send)


def push_added(bot_id: int) -> None:
    """After commit: a new bot's row appended to the bots list (a list page opened
    before the bot existed has no row for its later updates to replace)."""

    def send() -> None:
        for bot in load([bot_id]):
            row = render_to_string("bots/_row.html", {"bot": bot, "oob": False})
            html = f'<tbody hx-swap-oob="beforeend:#bots-body">{row}</tbody>'
            outbox = Outbox()
            outbox.parts[bot.owner_id].append((["bots"], html))
            outbox.add_dashboard(bot.owner_id, "paper", "fills")
            outbox.send()

    transaction.on_commit(send)


def push_removed(owner_id: int, bot_id: int) -> None:
    """After commit: a deleted bot's row removed from the bots list."""
    forget(bot_id)
    html = f'<tr id="bot-{bot_id}-row" hx-swap-oob="delete"></tr>'

    def send() -> None:
        outbox = Outbox()
        outbox.parts[owner_id].append((["bots"], html))
        outbox.add_dashboard(owner_id, "paper", "fills")
        outbox.send()

    transaction.on_commit(send)


def push_tick(
    *, changed: list[TradingBot], quiet: Iterable[TradingBot], price: Decimal
) -> None:
    """After one tick: every changed bot's fragments, the throttled equity of quiet
    bots holding a position, and each concerned owner's dashboard, one message
    per owner."""
    outbox = Outbox()
    owners = {bot.owner_id for bot in changed}
    for bot in load([b.pk for b in changed], price):
        outbox.add_bot(bot)
    marked = add_marks(outbox, quiet, price)
    now = time.monotonic()
    for owner in owners:
        outbox.add_dashboard(owner, "paper", "fills")
    for owner in marked - owners:
        if now - _user_pushed.get(owner, 0.0) >= EQUITY_PUSH_SECONDS:
            outbox.add_dashboard(owner, "paper")
    outbox.send()


def add_marks(outbox: Outbox, bots: Iterable[TradingBot], price: Decimal) -> set[int]:
    """For bots the tick did not otherwise change: the equity of those holding a
    position, at most once per ``EQUITY_PUSH_SECONDS`` per bot and only when it
    moved; return the owners of the bots added."""
    now = time.monotonic()
    owners: set[int] = set()
    for bot in bots:
        if bot.position.quantity <= 0:
            continue
        last = _bot_pushed.get(bot.pk)
        if last is not None and now - last[0] < EQUITY_PUSH_SECONDS:
            continue
        mark(bot, price)
        if last is not None and last[1] == bot.metrics["equity"]:
            continue
        outbox.add_bot(bot, activity=False)
        owners.add(bot.owner_id)
    return owners


def push_marks(bots: Iterable[TradingBot], price: Decimal) -> int:
    """The throttled equity pushes alone (``push_tick`` without changed bots);
    return how many bots were pushed."""
    outbox = Outbox()
    owners = add_marks(outbox, bots, price)
    now = time.monotonic()
    for owner in owners:
        if now - _user_pushed.get(owner, 0.0) >= EQUITY_PUSH_SECONDS:
            outbox.add_dashboard(owner, "paper")
    pushed = sum(
        1 for parts in outbox.parts.values() for t, _ in parts if t == ["bots"]
    )
    outbox.send()
    return pushed


def forget(bot_id: int) -> None:
    _bot_pushed.pop(bot_id, None)


def reset_throttle() -> None:
    """For tests and benchmarks: forget when anything was last pushed."""
    _bot_pushed.clear()
    _user_pushed.clear()
