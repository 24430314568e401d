"""Training: queue, claim, walk-forward evaluation, final fit, artefact,
progress, cancellation, failure. See the package docstring for the contract."""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import signal
import time
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone

from apps import webhooks
from apps.audit.services import record_event
from apps.market.models import Candle

from .. import forecasters
from ..forecasters import ArtefactError, Cancelled, ParamError
from ..models import (
    ACTIVE_RUN,
    MLModel,
    ModelStatus,
    RunStatus,
    TrainingRun,
)
from .common import (
    CANCEL_POLL_SECONDS,
    LIBRARIES,
    _error,
    _revoke,
    artefact_dir,
    complete_before,
    market_now,
    push_model,
)

logger = logging.getLogger(__name__)
# Deliveries of one training run whose worker died (SIGKILL, the OOM killer, a
# crash) before the run is failed rather than trained again: as for backtests.
MAX_ATTEMPTS = 3


def start_training(
    *,
    model: MLModel,
    actor: Any,
    request: HttpRequest | None = None,
    source: str = "manual",
    predict_after: bool = False,
    enqueue: bool = True,
) -> TrainingRun:
    """Queue a training run (one at a time per model), audit, and enqueue the
    task on the training queue after commit."""
    with transaction.atomic():
        model = MLModel.objects.select_for_update().get(pk=model.pk)
        if model.runs.filter(status__in=ACTIVE_RUN).exists():
            raise _error(
                "non_field_errors", "This model is already queued or training.", 409
            )
        try:
            with transaction.atomic():
                run = TrainingRun.objects.create(
                    model=model,
                    algorithm=model.algorithm,
                    params=model.params,
                    source=source,
                    predict_after=predict_after,
                    progress="queued",
                )
        except IntegrityError:
            raise _error(
                "non_field_errors", "This model is already queued or training.", 409
            ) from None
        model.status = ModelStatus.QUEUED
        model.save(update_fields=["status", "updated_at"])
        record_event(
            action="model.training_started",
            user=actor,
            request=request,
            resource=model,
            details={"run": run.pk, "source": source, "algorithm": model.algorithm},
        )
        if enqueue:
            transaction.on_commit(lambda: _enqueue_training(run.pk))
        push_model(model, run)
    return run


def _enqueue_training(run_id: int) -> None:
    from ..tasks import train_model_task

    result = train_model_task.delay(run_id)
    TrainingRun.objects.filter(pk=run_id, celery_task_id="").update(
        celery_task_id=result.id or ""
    )


def cancel_training(
    *, model: MLModel, actor: Any, request: HttpRequest | None = None
) -> TrainingRun:
    """A queued run is cancelled at once (and its message revoked); a training
    one gets the flag its ``should_cancel`` polls, and stops within a fold or an
    epoch."""
    with transaction.atomic():
        run = model.runs.filter(status__in=ACTIVE_RUN).first()
        if run is None:
            raise _error("non_field_errors", "Nothing to cancel: not training.", 409)
        cancelled_now = TrainingRun.objects.filter(
            pk=run.pk, status=RunStatus.QUEUED
        ).update(
            status=RunStatus.CANCELLED,
            cancel_requested=True,
            progress="cancelled before it started",
            finished_at=timezone.now(),
        )
        if not cancelled_now:
            TrainingRun.objects.filter(pk=run.pk).update(
                cancel_requested=True, progress="cancelling…"
            )
        else:
            _restore_status(model)
        record_event(
            action="model.training_cancelled",
            user=actor,
            request=request,
            resource=model,
            details={"run": run.pk},
        )
        if run.celery_task_id:
            task_id = run.celery_task_id
            transaction.on_commit(lambda: _revoke(task_id))
        run.refresh_from_db()
        model.refresh_from_db()
        push_model(model, run)
    return run


def _restore_status(model: MLModel) -> None:
    """After a cancelled run: trained if an earlier run's artefact serves, else
    untrained."""
    trained = MLModel.objects.filter(pk=model.pk, trained_run__isnull=False).exists()
    MLModel.objects.filter(pk=model.pk).update(
        status=ModelStatus.TRAINED if trained else ModelStatus.UNTRAINED,
        updated_at=timezone.now(),
    )


def _claim_run(run_id: int, task_id: str, *, redelivered: bool = False) -> bool:
    """Queued -> training, counting the attempt. A training claim is taken over
    when its holder is dead: its message came back (``redelivered``: messages are
    acknowledged late, so one returns when the worker holding it died) or the
    claim is older than the task's hard time limit. The MAX_ATTEMPTS-th death
    fails the run, so a run that kills every worker (out of memory) cannot loop."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    dead = Q(status=RunStatus.TRAINING, started_at__lt=stale)
    if redelivered:
        dead = Q(status=RunStatus.TRAINING)
    claimable = Q(status=RunStatus.QUEUED) | (dead & Q(attempts__lt=MAX_ATTEMPTS))
    values: dict[str, Any] = {
        "status": RunStatus.TRAINING,
        "started_at": now,
        "progress": "loading candles",
        "attempts": F("attempts") + 1,
    }
    if task_id:
        values["celery_task_id"] = task_id
    runs = TrainingRun.objects.filter(pk=run_id, cancel_requested=False)
    if runs.filter(claimable).update(**values) == 1:
        return True
    worn = runs.filter(dead, attempts__gte=MAX_ATTEMPTS).select_related("model")
    run = worn.first()
    if run is not None:
        _fail(
            run,
            f"The worker died {run.attempts} times running this training (killed, "
            "out of memory or crashed); it is not retried again.",
            0.0,
        )
    return False


def _die_if_told(run_id: int) -> None:
    """Test hook, only under AAITI_TESTING: SIGKILL this process once it has claimed
    the run named by AAITI_TEST_KILL_WORKER_ON_RUN, as the OOM killer would."""
    if not settings.TESTING:
        return
    if os.environ.get("AAITI_TEST_KILL_WORKER_ON_RUN", "") == str(run_id):
        os.kill(os.getpid(), signal.SIGKILL)


class _Progress:
    """Progress text on the run row and live to the owner's page; the cancel
    flag, polled at most every CANCEL_POLL_SECONDS."""

    def __init__(self, run: TrainingRun, folds: int) -> None:
        self.run = run
        self.folds = folds
        self.stage = ""
        self.percent = 0
        self.checked = 0.0
        self.cancelled = False

    def set(self, stage: str, percent: int) -> None:
        self.stage, self.percent = stage, percent
        self._write(stage)

    def fold_done(self, i: int, k: int) -> None:
        self.percent = int(90 * i / (k + 1))
        self.stage = f"fold {i + 1} of {k}" if i < k else "final fit"
        self._write(self.stage)

    def epoch(self, j: int, n: int) -> None:
        self._write(f"{self.stage}, epoch {j} of {n}")

    def _write(self, text: str) -> None:
        TrainingRun.objects.filter(pk=self.run.pk, status=RunStatus.TRAINING).update(
            progress=text[:200], progress_percent=self.percent
        )
        self.run.progress, self.run.progress_percent = text[:200], self.percent
        push_model(self.run.model, self.run)

    def should_cancel(self) -> bool:
        if self.cancelled:
            return True
        now = time.monotonic()
        if now - self.checked < CANCEL_POLL_SECONDS:
            return False
        self.checked = now
        row = TrainingRun.objects.filter(pk=self.run.pk).values("cancel_requested")
        flag = row.first()
        self.cancelled = flag is None or bool(flag["cancel_requested"])
        return self.cancelled


def run_training(
    *, run_id: int, task_id: str = "", redelivered: bool = False
) -> TrainingRun | None:
    """The training task's body: evaluate walk-forward, fit on all (capped) data,
    save the artefact, store metrics on the run and the model. None when another
    delivery has the run (or it is gone or cancelled, or its worker died
    MAX_ATTEMPTS times: then it is failed). ``redelivered``: the broker's flag
    that this message was delivered before and not acknowledged. Never raises for
    a bad model or data: the run fails with the message."""
    from celery.exceptions import SoftTimeLimitExceeded

    if not _claim_run(run_id, task_id, redelivered=redelivered):
        return None
    _die_if_told(run_id)
    run = TrainingRun.objects.select_related("model__asset", "model__owner").get(
        pk=run_id
    )
    model = run.model
    MLModel.objects.filter(pk=model.pk).update(status=ModelStatus.TRAINING)
    model.status = ModelStatus.TRAINING
    progress = _Progress(run, model.folds)
    progress.set(f"fold 1 of {model.folds}", 0)
    started = time.monotonic()
    try:
        _train(run, model, progress)
    except Cancelled:
        _finish_cancelled(run, time.monotonic() - started)
    except SoftTimeLimitExceeded:
        from ..tasks import TRAINING_SOFT_TIME_LIMIT as limit

        _fail(
            run,
            "Training exceeded its time limit"
            + (f" of {limit} s" if limit else "")
            + " and was stopped; use fewer bars, folds or epochs.",
            time.monotonic() - started,
        )
    except (ParamError, ArtefactError, ValueError) as exc:
        _fail(run, str(exc), time.monotonic() - started)
    except Exception as exc:  # a defect: logged in full, summarised to the user
        logger.exception("training run %s failed", run_id)
        _fail(
            run,
            f"Internal error ({type(exc).__name__}: {exc}); the run stopped.",
            time.monotonic() - started,
        )
    else:
        _finish_trained(run, time.monotonic() - started)
    if not TrainingRun.objects.filter(pk=run_id).exists():
        return None
    run.refresh_from_db()
    return run


def training_data(model: MLModel, now: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Epoch-second open times and closes of the bars training uses: the most
    recent ``max_train_bars + folds * horizon`` complete at ``now``."""
    if model.asset_id is None:
        raise ValueError("The market data of this model was deleted.")
    needed = model.max_train_bars + model.folds * model.horizon
    rows = list(
        Candle.objects.filter(
            asset_id=model.asset_id,
            timeframe=model.timeframe,
            open_time__lt=complete_before(now, model.timeframe),
        )
        .order_by("-open_time")
        .values_list("open_time", "close")[:needed]
    )
    rows.reverse()
    times = np.array([int(t.timestamp()) for t, _ in rows], dtype=np.int64)
    closes = np.array([c for _, c in rows], dtype=np.float64)
    return times, closes


def data_checksum(times: np.ndarray, closes: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(times, dtype="<i8").tobytes())
    digest.update(np.ascontiguousarray(closes, dtype="<f8").tobytes())
    return digest.hexdigest()


def library_versions(algorithm: str) -> dict[str, str]:
    """Versions read from package metadata: nothing heavy is imported here."""
    versions = {"python": platform.python_version()}
    for name in ("numpy", *LIBRARIES.get(algorithm, ())):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _stamp(epoch: int) -> datetime:
    return datetime.fromtimestamp(int(epoch), tz=UTC)


def _train(run: TrainingRun, model: MLModel, progress: _Progress) -> None:
    from ..evaluation import walk_forward

    now = market_now(model.asset, model.timeframe) if model.asset else timezone.now()
    times, closes = training_data(model, now)
    if times.size == 0:
        raise ValueError(
            f"No complete {model.timeframe} candles of {model.symbol} to train on."
        )
    seed = int(model.params.get("random_seed", 0))
    np.random.seed(seed)  # noqa: NPY002 - libraries that draw from the global RNG
    TrainingRun.objects.filter(pk=run.pk).update(
        data_start=_stamp(times[0]),
        data_end=_stamp(times[-1]),
        bars=int(times.size),
        data_sha256=data_checksum(times, closes),
        library_versions=library_versions(model.algorithm),
        random_seed=seed,
    )
    stamps = times.astype("datetime64[s]")
    evaluation = walk_forward(
        closes,
        model.algorithm,
        model.params,
        horizon=model.horizon,
        folds=model.folds,
        max_train=model.max_train_bars,
        level=model.level,
        timestamps=stamps,
        freq=model.timeframe,
        progress=progress.fold_done,
        on_epoch=progress.epoch,
        should_cancel=progress.should_cancel,
    )
    progress.set("final fit", 90)
    fit_y, fit_t = closes[-model.max_train_bars :], stamps[-model.max_train_bars :]
    forecaster = forecasters.create(model.algorithm, model.params).fit(
        fit_y,
        fit_t,
        freq=model.timeframe,
        on_epoch=progress.epoch,
        should_cancel=progress.should_cancel,
    )
    if progress.should_cancel():
        raise Cancelled("cancelled before saving")
    progress.set("saving the artefact", 97)
    folder = artefact_dir(model)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run.pk}.zip"
    sha256 = forecaster.save(path)
    summary = evaluation.as_dict()
    first = evaluation.folds[0]
    summary["window"] = {
        "start": _stamp(times[first.cutoff]).isoformat(),
        "end": _stamp(times[-1]).isoformat(),
        "bars": int(times.size - first.cutoff),
    }
    summary["final_fit_bars"] = int(fit_y.size)
    run.metrics = summary
    run.chart = _chart(times, closes, evaluation)
    run.artefact_path = str(path)
    run.artefact_sha256 = sha256


def _chart(times: np.ndarray, closes: np.ndarray, evaluation: Any) -> dict[str, Any]:
    """Walk-forward forecasts against the actual closes, for the model page."""
    first = evaluation.folds[0].cutoff
    start = max(0, first - 2 * evaluation.horizon)
    return {
        "time": times[start:].tolist(),
        "actual": closes[start:].tolist(),
        "folds": [
            {
                "index": f.index,
                "time": times[f.cutoff : f.cutoff + evaluation.horizon].tolist(),
                "mean": f.forecast.mean.tolist(),
                "lower": f.forecast.lower.tolist(),
                "upper": f.forecast.upper.tolist(),
            }
            for f in evaluation.folds
        ],
    }


def _finish_trained(run: TrainingRun, seconds: float) -> None:
    now = timezone.now()
    skill = (run.metrics.get("metrics") or {}).get("skill")
    with transaction.atomic():
        rows = TrainingRun.objects.filter(pk=run.pk, status=RunStatus.TRAINING).update(
            status=RunStatus.TRAINED,
            progress="trained",
            progress_percent=100,
            metrics=run.metrics,
            chart=run.chart,
            artefact_path=run.artefact_path,
            artefact_sha256=run.artefact_sha256,
            duration_seconds=seconds,
            finished_at=now,
            error="",
        )
        if not rows:  # cancelled or deleted meanwhile: keep no orphan file
            Path(run.artefact_path).unlink(missing_ok=True)
            Path(run.artefact_path + ".sha256").unlink(missing_ok=True)
            return
        MLModel.objects.filter(pk=run.model_id).update(
            status=ModelStatus.TRAINED,
            metrics=run.metrics,
            skill=skill,
            trained_run=run,
            last_trained_at=now,
            updated_at=now,
        )
        record_event(
            action="model.trained",
            user=run.model.owner,
            resource=run.model,
            details={
                "run": run.pk,
                "skill": skill,
                "verdict": run.metrics.get("verdict"),
                "seconds": round(seconds, 3),
            },
        )
        webhooks.training_completed(run, "trained")
        if run.predict_after:
            from .forecasts import request_forecast

            # Reloaded: the run's model object predates ``trained_run`` (a first
            # training's would still read as untrained and refuse to forecast).
            model_id = run.model_id
            transaction.on_commit(
                lambda: request_forecast(
                    model=MLModel.objects.get(pk=model_id),
                    actor=None,
                    source="schedule",
                )
            )
    _push_run(run)


def _fail(run: TrainingRun, message: str, seconds: float) -> None:
    with transaction.atomic():
        rows = TrainingRun.objects.filter(pk=run.pk, status=RunStatus.TRAINING).update(
            status=RunStatus.FAILED,
            error=message[:4000],
            progress="failed",
            duration_seconds=seconds,
            finished_at=timezone.now(),
        )
        if rows:
            MLModel.objects.filter(pk=run.model_id).update(
                status=ModelStatus.FAILED, updated_at=timezone.now()
            )
            record_event(
                action="model.training_failed",
                user=run.model.owner,
                resource=run.model,
                details={"run": run.pk, "error": message[:500]},
            )
            webhooks.training_completed(run, "failed", error=message)
    _push_run(run)


def _finish_cancelled(run: TrainingRun, seconds: float) -> None:
    with transaction.atomic():
        rows = TrainingRun.objects.filter(pk=run.pk, status=RunStatus.TRAINING).update(
            status=RunStatus.CANCELLED,
            progress="cancelled",
            duration_seconds=seconds,
            finished_at=timezone.now(),
        )
        if rows:
            _restore_status(run.model)
    _push_run(run)


def _push_run(run: TrainingRun) -> None:
    model = MLModel.objects.filter(pk=run.model_id).first()
    if model is None:
        return
    run.refresh_from_db()
    push_model(model, run)
