"""Backtest and sweep pages. Lookups are owner-scoped: another user's job is a 404."""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import numpy as np
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from apps.market.services import load_arrays
from apps.system.services import get_setting

from . import services
from .forms import BacktestForm, SweepForm
from .models import Backtest, JobStatus, Sweep
from .services import BacktestRequestError, backtest_strategies, runnable_strategies
from .sweep import RANK_METRICS

TRADE_COLUMNS = {
    "entry_time": "Entry (UTC)",
    "exit_time": "Exit (UTC)",
    "side": "Side",
    "entry_price": "Entry price",
    "exit_price": "Exit price",
    "quantity": "Quantity",
    "fees": "Fees",
    "profit": "Profit",
    "return": "Return",
    "bars_held": "Bars",
    "exit_reason": "Exit",
}
TRADES_PER_PAGE = 100
CHART_BARS = 2000


def _defaults() -> dict[str, float]:
    return {
        "fee_bps": float(get_setting("default_fee_bps")),
        "slippage_bps": float(get_setting("default_slippage_bps")),
    }


def _refuse_viewer(request: HttpRequest, what: str) -> HttpResponse | None:
    if request.user.can_write:
        return None
    messages.error(request, f"Your role is viewer: you cannot {what}.")
    return redirect("backtests:index")


def _strategies_json() -> dict[str, Any]:
    return {name: s.as_dict() for name, s in runnable_strategies().items()}


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    user = request.user
    # A GET may prefill the form (the sweep page's "Backtest" links).
    form = BacktestForm(
        request.POST or None,
        user=user,
        defaults=_defaults(),
        initial=request.GET.dict(),
    )
    if request.method == "POST":
        if refused := _refuse_viewer(request, "run backtests"):
            return refused
        if form.is_valid():
            try:
                backtest = services.create_backtest(
                    owner=user, req=form.job_request(), request=request
                )
            except BacktestRequestError as exc:
                form.add_service_errors(exc, "p")
            else:
                messages.success(request, f"Backtest {backtest.pk} queued.")
                return redirect("backtests:detail", pk=backtest.pk)
    return render(
        request,
        "backtests/index.html",
        {
            "form": form,
            "backtests": Backtest.objects.owned_by(user)
            .select_related("asset")
            .defer("trades", "equity_chart", "equity_blob", "metrics")[:50],
            "sweep_count": Sweep.objects.owned_by(user).count(),
            "strategies": backtest_strategies().values(),
        },
        status=400 if form.errors else 200,
    )


def _metric_cards(backtest: Backtest) -> list[dict[str, Any]]:
    m = backtest.metrics
    # "signed": a gain or loss, coloured; "share": a plain proportion.
    pct, share, num = "signed", "share", "number"
    spec = [
        ("Total return", "total_return", pct),
        ("Buy and hold", "benchmark_return", pct),
        ("CAGR", "cagr", pct),
        ("Sharpe", "sharpe", num),
        ("Sortino", "sortino", num),
        ("Max drawdown", "max_drawdown", pct),
        ("Volatility (annual)", "volatility", share),
        ("Calmar", "calmar", num),
        ("Trades", "trade_count", "int"),
        ("Win rate", "win_rate", share),
        ("Profit factor", "profit_factor", num),
        ("Exposure", "exposure", share),
        ("Final equity", "final_equity", "money"),
        ("Fees paid", "fees_paid", "money"),
    ]
    cards = []
    for label, key, kind in spec:
        value = m.get(key)
        cards.append({"label": label, "key": key, "value": value, "kind": kind})
    return cards


def _price_series(backtest: Backtest) -> dict[str, Any] | None:
    """Candles of the backtest's period, merged into at most CHART_BARS buckets
    (first open, highest high, lowest low, last close) so the SVG chart stays light."""
    if backtest.asset is None:
        return None
    a = load_arrays(backtest.asset, backtest.timeframe, backtest.start, backtest.end)
    n = a["time"].shape[0]
    if n == 0:
        return None
    step = math.ceil(n / CHART_BARS)
    starts = np.arange(0, n, step)
    last = np.minimum(starts + step - 1, n - 1)
    return {
        "bars_per_point": step,
        "time": [_iso(t) for t in a["time"][starts]],
        "open": a["open"][starts].tolist(),
        "high": np.maximum.reduceat(a["high"], starts).tolist(),
        "low": np.minimum.reduceat(a["low"], starts).tolist(),
        "close": a["close"][last].tolist(),
    }


def _iso(epoch: int | float) -> str:
    return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _chart_config(backtest: Backtest) -> dict[str, Any]:
    trades = backtest.trades
    return {
        "symbol": backtest.symbol,
        "initial_capital": backtest.initial_capital,
        "equity": {
            "time": [_iso(p[0]) for p in backtest.equity_chart],
            "equity": [p[1] for p in backtest.equity_chart],
            "drawdown": [p[2] for p in backtest.equity_chart],
        },
        "prices": _price_series(backtest),
        "entries": {
            "time": [_iso(t["entry_time"]) for t in trades],
            "price": [t["entry_price"] for t in trades],
            "side": [t["side"] for t in trades],
        },
        "exits": {
            "time": [_iso(t["exit_time"]) for t in trades],
            "price": [t["exit_price"] for t in trades],
            "reason": [t["exit_reason"] for t in trades],
            "profit": [t["profit"] for t in trades],
        },
    }


def _sorted_trades(
    backtest: Backtest, sort: str
) -> tuple[list[dict[str, Any]], str, bool]:
    key = sort.lstrip("-")
    if key not in TRADE_COLUMNS:
        key, sort = "entry_time", "entry_time"
    descending = sort.startswith("-")
    rows = sorted(
        backtest.trades,
        key=lambda t: (t[key] is None, t[key]),
        reverse=descending,
    )
    return rows, key, descending


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    backtest = get_object_or_404(Backtest.objects.owned_by(request.user), pk=pk)
    context: dict[str, Any] = {"backtest": backtest, "oob": False}
    if backtest.status == JobStatus.SUCCEEDED:
        rows, key, descending = _sorted_trades(backtest, request.GET.get("sort", ""))
        page = Paginator(rows, TRADES_PER_PAGE).get_page(request.GET.get("page"))
        context.update(
            {
                "cards": _metric_cards(backtest),
                "chart_config": _chart_config(backtest),
                "trade_page": page,
                "columns": [
                    {
                        "key": k,
                        "label": label,
                        "active": k == key,
                        "descending": descending,
                        "next": k if (k != key or descending) else f"-{k}",
                    }
                    for k, label in TRADE_COLUMNS.items()
                ],
                "sort": request.GET.get("sort", ""),
            }
        )
    return render(request, "backtests/detail.html", context)


@login_required
def status(request: HttpRequest, pk: int) -> HttpResponse:
    """The status fragment over HTTP (polled while running, and after a missed push)."""
    backtest = get_object_or_404(Backtest.objects.owned_by(request.user), pk=pk)
    return render(request, "backtests/_status.html", {"backtest": backtest})


@login_required
def trades_csv(request: HttpRequest, pk: int) -> HttpResponse:
    backtest = get_object_or_404(Backtest.objects.owned_by(request.user), pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="backtest-{backtest.pk}-trades.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(list(TRADE_COLUMNS))
    for trade in backtest.trades:
        row = []
        for key in TRADE_COLUMNS:
            value = trade[key]
            if key in ("entry_time", "exit_time"):
                value = _iso(value)
            elif key == "side":
                value = "long" if value > 0 else "short"
            row.append(repr(value) if isinstance(value, float) else value)
        writer.writerow(row)
    return response


@login_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    backtest = get_object_or_404(Backtest.objects.owned_by(request.user), pk=pk)
    if refused := _refuse_viewer(request, "delete backtests"):
        return refused
    services.delete_backtest(backtest=backtest, actor=request.user, request=request)
    messages.success(request, f"Backtest {pk} deleted.")
    return redirect("backtests:index")


# --- sweeps -----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def sweeps(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = SweepForm(request.POST or None, user=user, defaults=_defaults())
    if request.method == "POST":
        if refused := _refuse_viewer(request, "run sweeps"):
            return refused
        if form.is_valid():
            try:
                sweep = services.create_sweep(
                    owner=user,
                    req=form.job_request({}),
                    grid=form.cleaned_data["grid"],
                    metric=form.cleaned_data["metric"],
                    in_sample=form.cleaned_data["in_sample"] / 100.0,
                    request=request,
                )
            except BacktestRequestError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(
                    request, f"Sweep {sweep.pk} queued: {sweep.combinations} runs."
                )
                return redirect("backtests:sweep", pk=sweep.pk)
    return render(
        request,
        "backtests/sweeps.html",
        {
            "form": form,
            "sweeps": Sweep.objects.owned_by(user).defer("results")[:50],
            "max_combinations": services.sweeps.MAX_COMBINATIONS,
        },
        status=400 if form.errors else 200,
    )


def _heatmap(sweep: Sweep) -> dict[str, Any] | None:
    """In-sample and out-of-sample metric over the two swept parameters, the
    others at their best in-sample values."""
    names = [n for n, v in sweep.grid.items() if len(v) > 1]
    if len(names) != 2 or not sweep.results:
        return None
    x_name, y_name = names
    xs, ys = sweep.grid[x_name], sweep.grid[y_name]
    best = sweep.results[0]["params"]
    others = {k: v for k, v in best.items() if k not in (x_name, y_name)}
    grids = {side: [[None] * len(xs) for _ in ys] for side in ("is", "oos")}
    for row in sweep.results:
        params = row["params"]
        if any(params.get(k) != v for k, v in others.items()):
            continue
        i, j = ys.index(params[y_name]), xs.index(params[x_name])
        for side in grids:
            grids[side][i][j] = row[side].get(sweep.metric)
    return {"x_name": x_name, "y_name": y_name, "x": xs, "y": ys, **grids}


def _backtest_link(sweep: Sweep, params: dict[str, Any]) -> str:
    """The backtest form prefilled with one combination over the whole period."""
    query: dict[str, Any] = {
        "symbol": sweep.symbol,
        "timeframe": sweep.timeframe,
        "strategy": sweep.strategy,
        "start": sweep.start.strftime("%Y-%m-%d %H:%M"),
        "end": sweep.end.strftime("%Y-%m-%d %H:%M"),
        "initial_capital": sweep.initial_capital,
        "fee_bps": sweep.fee_bps,
        "slippage_bps": sweep.slippage_bps,
        "fraction": sweep.fraction * 100,
    }
    for name, value in params.items():
        if value is not False:  # an unchecked box is absent, not "False"
            query[f"p_{sweep.strategy}_{name}"] = "on" if value is True else value
    return f"{reverse('backtests:index')}?{urlencode(query)}#new-backtest"


@login_required
def sweep_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sweep = get_object_or_404(Sweep.objects.owned_by(request.user), pk=pk)
    top = [
        {**row, "backtest_url": _backtest_link(sweep, row["params"])}
        for row in sweep.results[:50]
    ]
    context = {
        "sweep": sweep,
        "metric_label": RANK_METRICS.get(sweep.metric, sweep.metric),
        "top": top,
        "grid_params": sweep.grid_params,
        "heatmap": _heatmap(sweep) if sweep.status == JobStatus.SUCCEEDED else None,
    }
    if context["heatmap"]:
        context["heatmap_config"] = {
            **context["heatmap"],
            "metric": context["metric_label"],
        }
    return render(request, "backtests/sweep_detail.html", context)


@login_required
def sweep_status(request: HttpRequest, pk: int) -> HttpResponse:
    sweep = get_object_or_404(Sweep.objects.owned_by(request.user), pk=pk)
    return render(request, "backtests/_sweep_status.html", {"sweep": sweep})


@login_required
@require_POST
def sweep_delete(request: HttpRequest, pk: int) -> HttpResponse:
    sweep = get_object_or_404(Sweep.objects.owned_by(request.user), pk=pk)
    if refused := _refuse_viewer(request, "delete sweeps"):
        return refused
    services.delete_sweep(sweep=sweep, actor=request.user, request=request)
    messages.success(request, f"Sweep {pk} deleted.")
    return redirect("backtests:sweeps")
