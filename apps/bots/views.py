"""Bots' pages: list, create, edit, detail (status, equity, orders, fills,
journal), lifecycle actions through htmx, and the comparison with the backtest."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.backtests.strategies import STRATEGIES
from apps.system.services import get_setting

from . import live, parity, services
from .forms import PERCENT_FIELDS, BotForm
from .models import Fill, TradingBot


def _bot(request: HttpRequest, pk: int) -> TradingBot:
    bot = get_object_or_404(
        TradingBot.objects.owned_by(request.user).select_related(
            "asset", "account", "position"
        ),
        pk=pk,
    )
    return mark(bot)


def mark(bot: TradingBot) -> TradingBot:
    """Equity and profit at the latest price, as the live pushes show them."""
    return live.mark_latest([bot])[0]


def _writer(request: HttpRequest) -> None:
    if not request.user.can_write:
        raise PermissionDenied("Viewers cannot change bots.")


@login_required
def index(request: HttpRequest) -> HttpResponse:
    bots = live.mark_latest(
        TradingBot.objects.owned_by(request.user).select_related(
            "asset", "account", "position"
        )
    )
    return render(request, "bots/index.html", {"bots": bots})


def _strategies() -> list[dict[str, Any]]:
    return [s.as_dict() for s in STRATEGIES.values() if not s.inputs]


def _form_page(
    request: HttpRequest, form: BotForm, bot: TradingBot | None, status: int = 200
) -> HttpResponse:
    params = form.params or form.raw_params or (bot.params if bot else {})
    context = {
        "form": form,
        "bot": bot,
        "strategies": _strategies(),
        "params_values": params,
    }
    return render(request, "bots/form.html", context, status=status)


@login_required
def create(request: HttpRequest) -> HttpResponse:
    _writer(request)
    form = BotForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        spec = services.BotSpec(
            name=d["name"],
            symbol=d["symbol"],
            strategy=d["strategy"],
            params=form.params,
            timeframe=d["timeframe"],
            mode=d["mode"],
            starting_cash=d["starting_cash"],
            config=form.config(),
        )
        try:
            bot = services.create_bot(owner=request.user, spec=spec, request=request)
        except services.BotError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Bot {bot.name} created. Start it when ready.")
            return redirect("bots:detail", pk=bot.pk)
    status = 400 if request.method == "POST" else 200
    return _form_page(request, form, None, status)


@login_required
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    _writer(request)
    bot = _bot(request, pk)
    initial = {
        "name": bot.name,
        "symbol": bot.asset.symbol,
        "timeframe": bot.timeframe,
        "strategy": bot.strategy,
        "mode": bot.mode,
        "starting_cash": bot.account.starting_cash,
        "fee_bps": bot.fee_bps,
        "slippage_bps": bot.slippage_bps,
        "fraction": bot.fraction * 100,
        "max_position": bot.max_position * 100,
        **{
            k: (getattr(bot, k) * 100 if getattr(bot, k) is not None else None)
            for k in PERCENT_FIELDS
        },
    }
    form = BotForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        changes = {
            "name": d["name"],
            "symbol": d["symbol"],
            "timeframe": d["timeframe"],
            "strategy": d["strategy"],
            "params": form.params,
            "mode": d["mode"],
            **form.config(),
        }
        try:
            services.update_bot(
                bot=bot, actor=request.user, changes=changes, request=request
            )
        except services.BotError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Bot saved.")
            return redirect("bots:detail", pk=bot.pk)
    status = 400 if request.method == "POST" else 200
    return _form_page(request, form, bot, status)


def equity_curve(bot: TradingBot) -> dict[str, list[Any]]:
    """Equity after each fill, at the fill price (cash plus position at that price)."""
    start = bot.account.starting_cash
    cash, qty = start, 0
    times: list[str] = []
    values: list[float] = []
    for f in Fill.objects.filter(bot=bot).order_by("time", "pk"):
        notional = f.quantity * f.price
        if f.side == "buy":
            cash, qty = cash - notional - f.fee, qty + f.quantity
        else:
            cash, qty = cash + notional - f.fee, qty - f.quantity
        times.append(f.time.isoformat())
        values.append(float(cash + qty * f.market_price))
    return {"time": times, "equity": values}


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    bot = _bot(request, pk)
    if request.htmx:
        return render(request, "bots/_status.html", {"bot": bot})
    context = {
        "bot": bot,
        "equity_curve": equity_curve(bot),
        "emergency_stop": get_setting("emergency_stop"),
    }
    return render(request, "bots/detail.html", context)


ACTIONS = ("start", "pause", "stop", "reset", "delete")


@login_required
@require_POST
def action(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    _writer(request)
    bot = _bot(request, pk)
    if name not in ACTIONS:
        return HttpResponse("Unknown action.", status=404)
    try:
        if name == "start":
            bot = services.start_bot(bot=bot, actor=request.user, request=request)
        elif name == "pause":
            bot = services.pause_bot(bot=bot, actor=request.user, request=request)
        elif name == "stop":
            close = bool(request.POST.get("close_position"))
            bot = services.stop_bot(
                bot=bot, actor=request.user, close_position=close, request=request
            )
        elif name == "reset":
            bot = services.reset_bot(bot=bot, actor=request.user, request=request)
        else:
            services.delete_bot(bot=bot, actor=request.user, request=request)
            messages.success(request, "Bot deleted.")
            return redirect("bots:index")
        error = None
    except services.BotError as exc:
        error = exc.message
    bot = _bot(request, pk)
    if request.htmx:
        return render(request, "bots/_status.html", {"bot": bot, "error": error})
    if error:
        messages.error(request, error)
    return redirect("bots:detail", pk=bot.pk)


@login_required
def compare(request: HttpRequest, pk: int) -> HttpResponse:
    bot = _bot(request, pk)
    result = parity.compare(bot)
    context = {"bot": bot, "tolerance": parity.TOLERANCE, **result}
    return render(request, "bots/compare.html", context)
