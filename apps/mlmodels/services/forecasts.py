"""Forecasts from the trained artefact, their scoring against the candles that
arrive, live accuracy, the leaderboard and the beat schedule."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from apps.audit.services import record_event
from apps.market.models import TIMEFRAMES, Candle

from .. import forecasters
from ..forecasters import ArtefactError, ParamError
from ..models import (
    ForecastJob,
    JobStatus,
    MLModel,
    ModelStatus,
    Prediction,
)
from .common import (
    DRIFT_MIN_SCORED,
    DRIFT_RATIO,
    MAX_FORECAST_GAP,
    ModelRequestError,
    _error,
    complete_before,
    market_now,
    push_predictions,
)
from .training import start_training

logger = logging.getLogger(__name__)


def request_forecast(
    *,
    model: MLModel,
    actor: Any,
    request: HttpRequest | None = None,
    source: str = "manual",
    enqueue: bool = True,
) -> ForecastJob:
    """Queue a forecast from the model's trained artefact; the worker loads it."""
    if not model.can_predict:
        raise _error("non_field_errors", "Train the model before forecasting.", 409)
    with transaction.atomic():
        job = ForecastJob.objects.create(
            model=model, run_id=model.trained_run_id, source=source
        )
        if actor is not None:
            record_event(
                action="model.forecast_requested",
                user=actor,
                request=request,
                resource=model,
                details={"job": job.pk, "run": model.trained_run_id},
            )
        if enqueue:
            transaction.on_commit(lambda: _enqueue_forecast(job.pk))
    push_predictions(model)
    return job


def _enqueue_forecast(job_id: int) -> None:
    from ..tasks import forecast_task

    result = forecast_task.delay(job_id)
    ForecastJob.objects.filter(pk=job_id, celery_task_id="").update(
        celery_task_id=result.id or ""
    )


def run_forecast(*, job_id: int) -> ForecastJob | None:
    """The forecast task's body: load the artefact (checksum verified), forecast
    the next ``horizon`` bars after the last complete one, store one Prediction per
    bar. A model that has not seen the bars closed since its training forecasts
    from its training end; those already-closed steps are not stored."""
    claimed = ForecastJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING
    )
    if not claimed:
        return None
    job = ForecastJob.objects.select_related("model__asset", "run").get(pk=job_id)
    try:
        _forecast(job)
    except (ParamError, ArtefactError, ValueError) as exc:
        _fail_job(job, str(exc))
    except Exception as exc:
        logger.exception("forecast %s failed", job_id)
        _fail_job(job, f"Internal error ({type(exc).__name__}: {exc}).")
    job.refresh_from_db()
    push_predictions(job.model)
    return job


def _forecast(job: ForecastJob) -> None:
    model, run = job.model, job.run
    if run is None or not run.artefact_path or run.data_end is None:
        raise ValueError("The training run of this model is gone; train it again.")
    forecaster = forecasters.load(
        run.artefact_path, expected_sha256=run.artefact_sha256
    )
    step = TIMEFRAMES[model.timeframe]
    now = market_now(model.asset, model.timeframe) if model.asset else timezone.now()
    origin = run.data_end
    gap = max(0, int((now - origin).total_seconds() // step) - 1)
    if gap > MAX_FORECAST_GAP:
        raise ValueError(
            f"{gap} bars have closed since this model's training data ends "
            f"({origin:%Y-%m-%d %H:%M} UTC); train it again."
        )
    fc = forecaster.forecast(gap + model.horizon, model.level)
    origin_close = (
        Candle.objects.filter(
            asset_id=model.asset_id, timeframe=model.timeframe, open_time=origin
        )
        .values_list("close", flat=True)
        .first()
    )
    made = timezone.now()
    features = {
        "run": run.pk,
        "origin_time": origin.isoformat(),
        "origin_close": origin_close,
        "bars_trained": run.bars,
        "bars_since_origin": gap,
        "market_time": now.isoformat(),
    }
    rows = [
        Prediction(
            model=model,
            job=job,
            symbol=model.symbol,
            timestamp=made,
            horizon=k,
            target_time=origin + timedelta(seconds=step * k),
            value=float(fc.mean[k - 1]),
            lower=float(min(fc.lower[k - 1], fc.upper[k - 1])),
            upper=float(max(fc.lower[k - 1], fc.upper[k - 1])),
            confidence=fc.level,
            features=features,
        )
        for k in range(gap + 1, gap + model.horizon + 1)
    ]
    with transaction.atomic():
        Prediction.objects.bulk_create(rows)
        ForecastJob.objects.filter(pk=job.pk).update(
            status=JobStatus.DONE,
            origin_time=origin,
            market_time=now,
            finished_at=timezone.now(),
        )


def _fail_job(job: ForecastJob, message: str) -> None:
    ForecastJob.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED, error=message[:2000], finished_at=timezone.now()
    )


def score_predictions(*, model: MLModel | None = None) -> int:
    """Fill ``actual`` and ``error`` of every prediction whose target bar is
    complete at market time and stored; returns how many were scored. A target
    bar missing from the data (a gap) stays unscored."""
    pending = Prediction.objects.unscored()
    if model is not None:
        pending = pending.filter(model=model)
    model_ids = pending.values_list("model_id", flat=True).distinct()
    scored = 0
    for m in MLModel.objects.filter(pk__in=list(model_ids)).select_related("asset"):
        if m.asset is None:
            continue
        now = market_now(m.asset, m.timeframe)
        due = list(
            pending.filter(
                model=m, target_time__lt=complete_before(now, m.timeframe)
            ).order_by("target_time")[:5000]
        )
        if not due:
            continue
        closes = dict(
            Candle.objects.filter(
                asset=m.asset,
                timeframe=m.timeframe,
                open_time__in={p.target_time for p in due},
            ).values_list("open_time", "close")
        )
        stamp = timezone.now()
        done = []
        for p in due:
            actual = closes.get(p.target_time)
            if actual is None:
                continue
            p.actual, p.error, p.scored_at = actual, actual - p.value, stamp
            done.append(p)
        Prediction.objects.bulk_update(done, ["actual", "error", "scored_at"])
        scored += len(done)
        if done:
            push_predictions(m)
    return scored


@dataclass(frozen=True)
class LiveAccuracy:
    scored: int
    pending: int
    mae: float | None
    rmse: float | None
    coverage: float | None
    walk_forward_mae: float | None
    walk_forward_coverage: float | None
    drifting: bool

    @property
    def ratio(self) -> float | None:
        if self.mae is None or not self.walk_forward_mae:
            return None
        return self.mae / self.walk_forward_mae

    def as_dict(self) -> dict[str, Any]:
        return {
            "scored": self.scored,
            "pending": self.pending,
            "mae": self.mae,
            "rmse": self.rmse,
            "coverage": self.coverage,
            "walk_forward_mae": self.walk_forward_mae,
            "walk_forward_coverage": self.walk_forward_coverage,
            "ratio": self.ratio,
            "drifting": self.drifting,
        }


def live_accuracy(model: MLModel) -> LiveAccuracy:
    """MAE and interval coverage over the scored predictions of the model's
    current trained run, beside its walk-forward estimate. Drifting: live MAE
    above 1.5x the walk-forward MAE over at least 10 scored predictions."""
    preds = Prediction.objects.filter(model=model)
    if model.trained_run_id:
        preds = preds.filter(job__run_id=model.trained_run_id)
    rows = list(preds.scored().values_list("error", "actual", "lower", "upper"))
    pending = preds.unscored().count()
    wf = (model.metrics or {}).get("metrics") or {}
    wf_mae, wf_cov = wf.get("mae"), wf.get("coverage")
    if not rows:
        return LiveAccuracy(0, pending, None, None, None, wf_mae, wf_cov, False)
    err = np.array([r[0] for r in rows], dtype=np.float64)
    inside = [lo <= a <= hi for _, a, lo, hi in rows]
    mae = float(np.mean(np.abs(err)))
    drifting = bool(
        len(rows) >= DRIFT_MIN_SCORED and wf_mae and mae > DRIFT_RATIO * wf_mae
    )
    return LiveAccuracy(
        scored=len(rows),
        pending=pending,
        mae=mae,
        rmse=float(np.sqrt(np.mean(err**2))),
        coverage=float(np.mean(inside)),
        walk_forward_mae=wf_mae,
        walk_forward_coverage=wf_cov,
        drifting=drifting,
    )


def leaderboard(*, owner: Any, symbol: str, timeframe: str) -> list[dict[str, Any]]:
    """The owner's trained models of one symbol and timeframe, grouped by
    evaluation window (same horizon, folds and scored bars, so the same naive
    reference), best RMSE first, with the naive forecast as a reference row."""
    models = (
        MLModel.objects.owned_by(owner)
        .trained()
        .filter(symbol=symbol.upper(), timeframe=timeframe)
        .select_related("trained_run")
    )
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for m in models:
        metrics = m.metrics or {}
        window = metrics.get("window") or {}
        key = (m.horizon, m.folds, window.get("start"), window.get("end"))
        group = groups.setdefault(
            key,
            {
                "horizon": m.horizon,
                "folds": m.folds,
                "window_start": window.get("start"),
                "window_end": window.get("end"),
                "naive": metrics.get("naive_metrics") or {},
                "models": [],
            },
        )
        values = metrics.get("metrics") or {}
        group["models"].append(
            {
                "id": m.pk,
                "name": m.name,
                "algorithm": m.algorithm,
                "params": m.params,
                "skill": values.get("skill"),
                "rmse": values.get("rmse"),
                "mae": values.get("mae"),
                "mase": values.get("mase"),
                "coverage": values.get("coverage"),
                "directional_accuracy": values.get("directional_accuracy"),
                "verdict": metrics.get("verdict"),
            }
        )
    result = []
    for group in groups.values():
        group["models"].sort(
            key=lambda r: (r["rmse"] is None, r["rmse"] or 0.0, r["name"])
        )
        for rank, row in enumerate(group["models"], start=1):
            row["rank"] = rank
        result.append(group)
    result.sort(key=lambda g: (g["window_end"] or "", g["horizon"]), reverse=True)
    return result


def run_schedules() -> dict[str, int]:
    """For each scheduled, trained, idle model: retrain (then forecast) when bars
    have closed since its training data ends; else forecast once per run."""
    counts = {"retrained": 0, "forecast": 0}
    models = (
        MLModel.objects.filter(scheduled=True, trained_run__isnull=False)
        .exclude(status__in=[ModelStatus.QUEUED, ModelStatus.TRAINING])
        .select_related("asset", "trained_run")
    )
    for model in models:
        if model.asset is None or model.trained_run.data_end is None:
            continue
        now = market_now(model.asset, model.timeframe)
        newer = Candle.objects.filter(
            asset=model.asset,
            timeframe=model.timeframe,
            open_time__gt=model.trained_run.data_end,
            open_time__lt=complete_before(now, model.timeframe),
        ).exists()
        try:
            if newer:
                start_training(
                    model=model, actor=None, source="schedule", predict_after=True
                )
                counts["retrained"] += 1
            elif not ForecastJob.objects.filter(
                model=model, run=model.trained_run
            ).exists():
                request_forecast(model=model, actor=None, source="schedule")
                counts["forecast"] += 1
        except ModelRequestError:
            continue  # started meanwhile by its owner
    return counts
