"""Shared by the model services: errors, market time, live pushes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from apps.market.models import TIMEFRAMES, Asset, Candle
from apps.market.prices import latest_price
from apps.system.dashboard import push_dashboard
from apps.system.live import push_to_user_on_commit

from .. import forecasters
from ..models import (
    JobStatus,
    MLModel,
    TrainingRun,
)

logger = logging.getLogger(__name__)


LEVEL_CHOICES = (0.8, 0.95)


MAX_HORIZON = 500


MAX_FOLDS = 20


MIN_TRAIN_BARS = 20


MAX_TRAIN_BARS = 50_000


MAX_FORECAST_GAP = 2000  # bars since training after which a forecast is refused


DRIFT_RATIO = 1.5


DRIFT_MIN_SCORED = 10


CANCEL_POLL_SECONDS = 0.5


LIBRARIES = {
    "arima": ("statsmodels", "scipy"),
    "sarima": ("statsmodels", "scipy"),
    "prophet": ("prophet", "cmdstanpy", "pandas"),
    "lstm": ("tensorflow", "keras"),
}


class ModelRequestError(ValueError):
    """Bad input: messages by field, for 400s and form errors."""

    def __init__(self, fields: dict[str, list[str]], status: int = 400) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields
        self.status = status


def _error(name: str, message: str, status: int = 400) -> ModelRequestError:
    return ModelRequestError({name: [message]}, status)


def algorithms() -> list[dict[str, Any]]:
    """Every algorithm with its parameters (``forecasters.describe()``)."""
    return forecasters.describe()


def market_now(asset: Asset, timeframe: str) -> datetime:
    """The market's "now" for one series: the replayed time under replay, the
    last tick's time with a live feed, and without a feed the end of the last
    stored bar (the market as far as the stored data goes; importing newer bars
    moves it on). The wall clock only when nothing is stored."""
    quote = latest_price(asset)
    if quote.source == "replay" and quote.replay_time is not None:
        return quote.replay_time
    if quote.source == "live" and quote.time is not None:
        return quote.time
    last = (
        Candle.objects.filter(asset=asset, timeframe=timeframe)
        .order_by("-open_time")
        .values_list("open_time", flat=True)
        .first()
    )
    if last is None:
        return timezone.now()
    return last + timedelta(seconds=TIMEFRAMES[timeframe])


def complete_before(now: datetime, timeframe: str) -> datetime:
    """Exclusive bound on open times of bars complete at ``now``."""
    return now - timedelta(seconds=TIMEFRAMES[timeframe]) + timedelta(microseconds=1)


def _revoke(task_id: str) -> None:
    """Stop a message that has not started; a started one stops via the flag."""
    try:
        from aaiti.celery import app

        app.control.revoke(task_id)
    except Exception:
        logger.warning("could not revoke task %s", task_id, exc_info=True)


def artefact_dir(model: MLModel) -> Path:
    return Path(settings.VAR_DIR) / "models" / str(model.owner_id) / str(model.pk)


def _push(user_id: int, html: str, topics: list[str], dashboard: str) -> None:
    push_to_user_on_commit(user_id, html, topics=topics)
    push_dashboard(user_id, dashboard, on_commit=True)


def latest_run(model: MLModel) -> TrainingRun | None:
    return model.runs.order_by("-created_at", "-pk").first()


def push_model(model: MLModel, run: TrainingRun | None = None) -> None:
    html = render_to_string(
        "mlmodels/_status.html",
        {"model": model, "run": run or latest_run(model), "oob": True},
    )
    _push(model.owner_id, html, ["models", f"model:{model.pk}"], "jobs")


def predictions_context(model: MLModel) -> dict[str, Any]:
    jobs = list(model.forecast_jobs.select_related("run")[:5])
    latest = next((j for j in jobs if j.status == JobStatus.DONE), None)
    rows = list(latest.predictions.order_by("horizon")) if latest else []
    forecast = {
        "time": [int(p.target_time.timestamp()) for p in rows],
        "mean": [p.value for p in rows],
        "lower": [p.lower for p in rows],
        "upper": [p.upper for p in rows],
        "actual": [p.actual for p in rows],
    }
    return {
        "model": model,
        "jobs": jobs,
        "latest": latest,
        "rows": rows,
        "forecast": forecast,
    }


def push_predictions(model: MLModel) -> None:
    html = render_to_string(
        "mlmodels/_predictions.html", {**predictions_context(model), "oob": True}
    )
    _push(model.owner_id, html, [f"model:{model.pk}"], "predictions")
