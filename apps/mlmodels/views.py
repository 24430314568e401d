"""Model pages: list and create, one model (metrics, chart, predictions, runs,
live accuracy, train / cancel / forecast), and the leaderboard.

Actions are real forms (POST, redirect back) that htmx enhances: an htmx request
gets just the fragment it swaps."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.market.models import TIMEFRAMES

from . import services
from .forms import ModelForm
from .models import MLModel

METRIC_ROWS = [
    ("mae", "MAE", "number"),
    ("rmse", "RMSE", "number"),
    ("mape", "MAPE %", "number"),
    ("smape", "sMAPE %", "number"),
    ("mase", "MASE", "ratio"),
    ("directional_accuracy", "Direction right", "share"),
    ("coverage", "Interval coverage", "share"),
    ("skill", "Skill vs naive (1 - RMSE ratio)", "ratio"),
]


def _own(request: HttpRequest, pk: int) -> MLModel:
    return get_object_or_404(
        MLModel.objects.select_related("trained_run", "asset"),
        pk=pk,
        owner=request.user,
    )


def _refuse_viewer(request: HttpRequest, model: MLModel) -> HttpResponse | None:
    """Viewers read but change nothing: 403 to htmx, a message and redirect else."""
    if request.user.can_write:
        return None
    text = "Your role is viewer: you cannot change models."
    if request.htmx:
        return HttpResponse(text, status=403)
    messages.error(request, text)
    return redirect("mlmodels:detail", pk=model.pk)


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ModelForm(request.POST or None, user=user, initial={"symbol": "BTC-USD"})
    status = 200
    if request.method == "POST":
        if not user.can_write:
            messages.error(request, "Your role is viewer: you cannot create models.")
            return redirect("mlmodels:index")
        if form.is_valid():
            try:
                model = services.create_model(
                    owner=user, spec=form.spec(), request=request
                )
            except services.ModelRequestError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, f"Model {model.name} created; train it next.")
                return redirect("mlmodels:detail", pk=model.pk)
        status = 400
    models = list(MLModel.objects.owned_by(user).select_related("trained_run"))
    runs = {
        m.pk: services.latest_run(m)
        for m in models
        if m.is_busy or m.status == "failed"
    }
    rows = [{"model": m, "run": runs.get(m.pk)} for m in models]
    pairs = sorted({(m.symbol, m.timeframe) for m in models if m.can_predict})
    return render(
        request,
        "mlmodels/index.html",
        {"rows": rows, "form": form, "pairs": pairs},
        status=status,
    )


def _metric_table(model: MLModel) -> list[dict[str, Any]]:
    metrics = (model.metrics or {}).get("metrics") or {}
    naive = (model.metrics or {}).get("naive_metrics") or {}
    return [
        {
            "key": key,
            "label": label,
            "kind": kind,
            "model": metrics.get(key),
            "naive": naive.get(key),
        }
        for key, label, kind in METRIC_ROWS
    ]


def _chart_config(model: MLModel, context: dict[str, Any]) -> dict[str, Any] | None:
    run = model.trained_run
    if run is None or not run.chart:
        return None
    return {
        "symbol": model.symbol,
        "level": model.level,
        "walk_forward": run.chart,
        "forecast": context["forecast"],
    }


@login_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    model = _own(request, pk)
    pred = services.predictions_context(model)
    runs = list(model.runs.all()[:20])
    return render(
        request,
        "mlmodels/detail.html",
        {
            **pred,
            "model": model,
            "run": runs[0] if runs else None,
            "runs": runs,
            "metric_rows": _metric_table(model),
            "verdict": (model.metrics or {}).get("verdict"),
            "window": (model.metrics or {}).get("window"),
            "live": services.live_accuracy(model),
            "chart_config": _chart_config(model, pred),
            "drift_ratio": services.DRIFT_RATIO,
            "drift_min": services.DRIFT_MIN_SCORED,
        },
    )


def _status_fragment(request: HttpRequest, model: MLModel) -> HttpResponse:
    context = {"model": model, "run": services.latest_run(model)}
    return HttpResponse(
        render_to_string("mlmodels/_status.html", context, request=request)
    )


def _predictions_fragment(request: HttpRequest, model: MLModel) -> HttpResponse:
    context = services.predictions_context(model)
    return HttpResponse(
        render_to_string("mlmodels/_predictions.html", context, request=request)
    )


@login_required
@require_GET
def status(request: HttpRequest, pk: int) -> HttpResponse:
    """The status fragment, polled while training (the WebSocket's fallback)."""
    return _status_fragment(request, _own(request, pk))


@login_required
@require_GET
def predictions(request: HttpRequest, pk: int) -> HttpResponse:
    return _predictions_fragment(request, _own(request, pk))


def _action(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    model = _own(request, pk)
    refused = _refuse_viewer(request, model)
    if refused is not None:
        return refused
    try:
        if verb == "train":
            services.start_training(model=model, actor=request.user, request=request)
            note = "Training queued."
        elif verb == "cancel":
            services.cancel_training(model=model, actor=request.user, request=request)
            note = "Cancellation requested."
        else:
            services.request_forecast(model=model, actor=request.user, request=request)
            note = "Forecast requested."
    except services.ModelRequestError as exc:
        message = " ".join(m for ms in exc.fields.values() for m in ms)
        if request.htmx:
            return HttpResponse(message, status=exc.status)
        messages.error(request, message)
        return redirect("mlmodels:detail", pk=model.pk)
    model.refresh_from_db()
    if request.htmx:
        if verb == "predict":
            return _predictions_fragment(request, model)
        return _status_fragment(request, model)
    messages.success(request, note)
    return redirect("mlmodels:detail", pk=model.pk)


@login_required
@require_POST
def train(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, "train")


@login_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, "cancel")


@login_required
@require_POST
def predict(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, "predict")


@login_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    model = _own(request, pk)
    refused = _refuse_viewer(request, model)
    if refused is not None:
        return refused
    name = model.name
    services.delete_model(model=model, actor=request.user, request=request)
    messages.success(request, f"Model {name} deleted.")
    return redirect("mlmodels:index")


@login_required
@require_GET
def leaderboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    pairs = sorted(
        set(MLModel.objects.owned_by(user).trained().values_list("symbol", "timeframe"))
    )
    symbol = (request.GET.get("symbol") or (pairs[0][0] if pairs else "")).upper()
    timeframe = request.GET.get("timeframe") or (pairs[0][1] if pairs else "1h")
    if timeframe not in TIMEFRAMES:
        timeframe = "1h"
    groups = (
        services.leaderboard(owner=user, symbol=symbol, timeframe=timeframe)
        if symbol
        else []
    )
    return render(
        request,
        "mlmodels/leaderboard.html",
        {"groups": groups, "pairs": pairs, "symbol": symbol, "timeframe": timeframe},
    )
