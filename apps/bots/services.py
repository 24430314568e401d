"""Bots' lifecycle (create, edit, start, pause, stop, reset, delete), manual orders
and the tick entry point. Every user action is audited; engine actions (fills,
decisions, risk pauses) are journaled on the bot instead."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from apps import webhooks
from apps.audit.services import record_event
from apps.backtests.strategies import StrategyParamError, get_strategy
from apps.market.models import TIMEFRAMES, Asset
from apps.system.services import get_setting

from . import broker, engine, live
from .models import JournalEntry, Order, PaperAccount, Position, TradingBot

log = logging.getLogger(__name__)

CONFIG_FIELDS = (
    "fee_bps",
    "slippage_bps",
    "fraction",
    "max_position",
    "stop_loss",
    "take_profit",
    "max_daily_loss",
    "max_drawdown",
)


class BotError(Exception):
    """A request the bot cannot honour; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass
class BotSpec:
    name: str
    symbol: str
    strategy: str
    params: dict[str, Any]
    timeframe: str
    mode: str = "paper"
    starting_cash: Decimal = Decimal(10_000)
    config: dict[str, Any] | None = None


def _validate(owner: Any, spec: BotSpec) -> tuple[Asset, dict[str, Any]]:
    if spec.mode != TradingBot.Mode.PAPER:
        raise BotError(
            "Live trading is not available: no exchange broker is connected yet. "
            "Use paper mode.",
            "mode",
        )
    if spec.timeframe not in TIMEFRAMES:
        raise BotError(f"Unknown timeframe {spec.timeframe!r}.", "timeframe")
    try:
        asset = Asset.objects.resolve(owner, spec.symbol)
    except Asset.DoesNotExist:
        raise BotError(f"Unknown symbol {spec.symbol!r}.", "symbol") from None
    if asset.owner_id is not None:
        raise BotError(
            f"{asset.symbol} is a private asset: the live feed prices only shared "
            "assets, so a bot can trade only those.",
            "symbol",
        )
    try:
        strategy = get_strategy(spec.strategy)
    except StrategyParamError as exc:
        raise BotError(str(exc), "strategy") from None
    try:
        params = strategy.validate(spec.params)
    except StrategyParamError as exc:
        raise BotError(str(exc), "params") from None
    if params.get("allow_short"):
        raise BotError("Paper bots are long-only: allow_short must be false.", "params")
    if strategy.inputs:
        raise BotError(
            f"{strategy.label} needs model predictions; bots cannot run it yet.",
            "strategy",
        )
    if spec.starting_cash <= 0:
        raise BotError("Starting cash must be > 0.", "starting_cash")
    return asset, params


def _defaults() -> dict[str, Any]:
    return {
        "fee_bps": Decimal(str(get_setting("default_fee_bps"))),
        "slippage_bps": Decimal(str(get_setting("default_slippage_bps"))),
    }


@transaction.atomic
def create_bot(
    *, owner: Any, spec: BotSpec, request: HttpRequest | None = None
) -> TradingBot:
    asset, params = _validate(owner, spec)
    limit = int(get_setting("max_bots_per_user"))
    if TradingBot.objects.owned_by(owner).count() >= limit:
        raise BotError(f"You already have the maximum of {limit} bots.")
    config = {**_defaults(), **(spec.config or {})}
    bot = TradingBot.objects.create(
        owner=owner,
        name=spec.name,
        asset=asset,
        strategy=spec.strategy,
        params=params,
        timeframe=spec.timeframe,
        **{k: config[k] for k in CONFIG_FIELDS if k in config},
    )
    cash = spec.starting_cash
    PaperAccount.objects.create(
        bot=bot, starting_cash=cash, cash=cash, peak_equity=cash, day_start_equity=cash
    )
    Position.objects.create(bot=bot)
    record_event(
        action="bot.created",
        user=owner,
        request=request,
        resource=bot,
        details={"symbol": asset.symbol, "strategy": bot.strategy, "mode": bot.mode},
    )
    live.push_added(bot.pk)
    return bot


@transaction.atomic
def update_bot(
    *,
    bot: TradingBot,
    actor: Any,
    changes: dict[str, Any],
    request: HttpRequest | None = None,
) -> TradingBot:
    """Edit a stopped bot; ``changes`` may hold name, symbol, strategy, params,
    timeframe, mode and configuration fields."""
    bot = TradingBot.objects.select_for_update().get(pk=bot.pk)
    if bot.status != TradingBot.Status.STOPPED:
        raise BotError("Stop the bot before editing it.")
    spec = BotSpec(
        name=changes.get("name", bot.name),
        symbol=changes.get("symbol", bot.asset.symbol),
        strategy=changes.get("strategy", bot.strategy),
        params=changes.get("params", bot.params if "strategy" not in changes else {}),
        timeframe=changes.get("timeframe", bot.timeframe),
        mode=changes.get("mode", bot.mode),
    )
    asset, params = _validate(bot.owner, spec)
    bot.name, bot.asset, bot.strategy = spec.name, asset, spec.strategy
    bot.params, bot.timeframe = params, spec.timeframe
    for key in CONFIG_FIELDS:
        if key in changes:
            setattr(bot, key, changes[key])
    bot.last_bar_time = None
    bot.save()
    record_event(
        action="bot.updated",
        user=actor,
        request=request,
        resource=bot,
        details={"fields": sorted(changes)},
    )
    return bot


def _set_status(
    bot: TradingBot, status: str, action: str, actor: Any, request: Any, **details: Any
) -> TradingBot:
    bot.status = status
    if status != TradingBot.Status.PAUSED:
        bot.pause_reason = ""
    bot.last_active_at = timezone.now()
    bot.save(
        update_fields=["status", "pause_reason", "last_active_at", "last_bar_time"]
    )
    JournalEntry.objects.create(
        bot=bot,
        kind=JournalEntry.Kind.LIFECYCLE,
        message=f"{action.split('.')[-1].capitalize()} by {actor.email}"[:500],
        created_at=timezone.now(),
    )
    record_event(
        action=action, user=actor, request=request, resource=bot, details=details
    )
    push_bot(bot.pk)
    webhooks.bot_status_changed(bot, action.split(".")[-1])
    return bot


@transaction.atomic
def start_bot(
    *, bot: TradingBot, actor: Any, request: HttpRequest | None = None
) -> TradingBot:
    bot = TradingBot.objects.select_for_update().get(pk=bot.pk)
    if get_setting("emergency_stop"):
        raise BotError(
            "The emergency stop is on: no bot may start until an admin lifts it."
        )
    if bot.mode != TradingBot.Mode.PAPER:
        raise BotError("Live trading is not available; use paper mode.")
    if bot.status == TradingBot.Status.RUNNING:
        return bot
    if bot.status == TradingBot.Status.STOPPED:
        bot.last_bar_time = None
    return _set_status(bot, TradingBot.Status.RUNNING, "bot.started", actor, request)


@transaction.atomic
def pause_bot(
    *, bot: TradingBot, actor: Any, request: HttpRequest | None = None
) -> TradingBot:
    bot = TradingBot.objects.select_for_update().get(pk=bot.pk)
    if bot.status != TradingBot.Status.RUNNING:
        raise BotError("Only a running bot can be paused.")
    bot.pause_reason = f"paused by {actor.email}"
    return _set_status(bot, TradingBot.Status.PAUSED, "bot.paused", actor, request)


@transaction.atomic
def stop_bot(
    *,
    bot: TradingBot,
    actor: Any,
    close_position: bool = False,
    request: HttpRequest | None = None,
) -> TradingBot:
    """Stop the bot and cancel its pending orders; with ``close_position`` sell what
    it holds at the latest price (slippage and fee charged)."""
    bot = TradingBot.objects.select_for_update().select_related("asset").get(pk=bot.pk)
    now = timezone.now()
    bot.orders.filter(status=Order.Status.NEW).update(
        status=Order.Status.CANCELLED, reason="bot stopped", updated_at=now
    )
    closed = None
    position = Position.objects.get(bot=bot)
    if close_position and position.quantity > 0:
        closed = _close_now(bot, position, now)
    return _set_status(
        bot,
        TradingBot.Status.STOPPED,
        "bot.stopped",
        actor,
        request,
        close_position=close_position,
        closed_at=str(closed) if closed else None,
    )


def _close_now(bot: TradingBot, position: Position, now: datetime) -> Decimal:
    from apps.market.prices import latest_price

    latest = latest_price(bot.asset)
    if latest.price is None:
        raise BotError("No price for this asset yet: cannot close the position.")
    price = Decimal(str(latest.price))
    order = engine._create_order(  # noqa: SLF001 - one path for every order
        bot,
        key=f"{bot.pk}:close:{now.timestamp():.6f}",
        side=Order.Side.SELL,
        quantity=position.quantity,
        source=Order.Source.MANUAL,
        bar_time=now,
        size_at_fill=True,
    )
    if order is not None:
        broker.fill_order(bot=bot, order=order, market=price, time=now)
    return price


@transaction.atomic
def reset_bot(
    *, bot: TradingBot, actor: Any, request: HttpRequest | None = None
) -> TradingBot:
    """Back to the starting cash, flat, with no orders, fills or journal."""
    bot = TradingBot.objects.select_for_update().get(pk=bot.pk)
    if bot.status != TradingBot.Status.STOPPED:
        raise BotError("Stop the bot before resetting its paper account.")
    account = PaperAccount.objects.get(bot=bot)
    bot.fills.all().delete()
    bot.orders.all().delete()
    bot.journal.all().delete()
    Position.objects.filter(bot=bot).update(
        quantity=0, average_price=0, realised_pnl=0, opened_at=None
    )
    cash = account.starting_cash
    PaperAccount.objects.filter(pk=account.pk).update(
        cash=cash, peak_equity=cash, day_start_equity=cash, day=None
    )
    bot.metrics, bot.last_bar_time = {}, None
    bot.save(update_fields=["metrics", "last_bar_time"])
    record_event(
        action="bot.reset",
        user=actor,
        request=request,
        resource=bot,
        details={"starting_cash": str(cash)},
    )
    push_bot(bot.pk)
    return bot


@transaction.atomic
def delete_bot(
    *, bot: TradingBot, actor: Any, request: HttpRequest | None = None
) -> None:
    bot = TradingBot.objects.select_for_update().get(pk=bot.pk)
    if bot.status != TradingBot.Status.STOPPED:
        raise BotError("Stop the bot before deleting it.")
    record_event(
        action="bot.deleted",
        user=actor,
        request=request,
        resource=bot,
        details={"name": bot.name},
    )
    live.push_removed(bot.owner_id, bot.pk)
    bot.delete()


def place_manual_order(
    *,
    bot: TradingBot,
    actor: Any,
    key: str,
    side: str,
    quantity: Decimal,
    type: str = Order.Type.MARKET,
    limit_price: Decimal | None = None,
    request: HttpRequest | None = None,
) -> tuple[Order, bool]:
    """A manual paper order, pending until the next tick; ``(order, created)``.
    The same key returns the first order unchanged."""
    existing = bot.orders.filter(key=f"manual:{key}").first()
    if existing is not None:
        return existing, False
    if get_setting("emergency_stop"):
        raise BotError("The emergency stop is on: no orders are placed.")
    if type == Order.Type.LIMIT and limit_price is None:
        raise BotError("A limit order needs a limit price.", "limit_price")
    with transaction.atomic():
        order = engine._create_order(  # noqa: SLF001
            bot,
            key=f"manual:{key}",
            side=side,
            quantity=quantity,
            source=Order.Source.MANUAL,
            bar_time=None,
            type=type,
            limit_price=limit_price if type == Order.Type.LIMIT else None,
        )
        if order is None:
            return bot.orders.get(key=f"manual:{key}"), False
        record_event(
            action="bot.order_placed",
            user=actor,
            request=request,
            resource=bot,
            details={
                "order": order.pk,
                "side": side,
                "quantity": str(quantity),
                "type": type,
            },
        )
    push_bot(bot.pk)
    return order, True


def run_tick(*, bots: list[TradingBot], tick: Any) -> int:
    """The feed's path: every running bot (from ``engine.running_bots``) on this
    tick, each that needs it in its own transaction; returns how many decided.
    Changed bots are pushed at once (the dashboard once per owner); the others'
    marked-to-market equity is pushed throttled (``apps.bots.live``)."""
    if get_setting("emergency_stop"):
        return 0
    decided = 0
    quiet: list[TradingBot] = []
    changed: list[TradingBot] = []
    for bot in bots:
        if not engine.needs_attention(bot, tick):
            quiet.append(bot)
            continue
        try:
            result = engine.process_tick(bot_id=bot.pk, tick=tick)
        except Exception:  # noqa: BLE001 - one bot's failure must not stop the others
            log.exception("bot %s failed on a tick", bot.pk)
            continue
        decided += result.decided
        (changed if result.changed else quiet).append(bot)
    price = Decimal(str(tick.price))
    transaction.on_commit(
        lambda: live.push_tick(changed=changed, quiet=quiet, price=price)
    )
    return decided


def push_bot(bot_id: int, *, dashboard: bool = True) -> None:
    """After commit, push the bot's status, row and activity to its owner only
    (and the owner's dashboard unless the caller pushes it once for many bots)."""
    live.push_bot(bot_id, dashboard=dashboard)
