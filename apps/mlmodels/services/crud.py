"""Create, change and delete models (checked, quota-bound, audited)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from apps.audit.services import record_event
from apps.market.models import TIMEFRAMES, Asset
from apps.system.services import get_setting

from .. import forecasters
from ..forecasters import ParamError
from ..models import (
    ACTIVE_RUN,
    MLModel,
    ModelStatus,
)
from .common import (
    LEVEL_CHOICES,
    MAX_FOLDS,
    MAX_HORIZON,
    MAX_TRAIN_BARS,
    MIN_TRAIN_BARS,
    _error,
    _revoke,
    artefact_dir,
)

logger = logging.getLogger(__name__)


@dataclass
class ModelSpec:
    """What a model's owner chooses; checked by ``check_spec``."""

    name: str
    algorithm: str
    symbol: str
    timeframe: str
    params: dict[str, Any]
    horizon: int = 24
    folds: int = 5
    max_train_bars: int = 2000
    level: float = 0.95
    scheduled: bool = False


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
    ):
        raise _error(name, f"A whole number from {low} to {high}.")
    return value


def check_params(algorithm: str, params: Any) -> dict[str, Any]:
    """The registry's validation; a bad field is reported as ``params.<name>``."""
    if not isinstance(params, dict):
        raise _error("params", "An object of parameter values.")
    try:
        forecasters.get(algorithm)
    except ParamError as exc:
        raise _error("algorithm", str(exc)) from None
    try:
        return forecasters.validate(algorithm, params)
    except ParamError as exc:
        raise _error(f"params.{exc.field}", str(exc)) from None


def check_spec(*, owner: Any, spec: ModelSpec, instance: MLModel | None = None) -> Any:
    """Check everything; return the resolved Asset (or raise ModelRequestError)."""
    name = (spec.name or "").strip()
    if not name or len(name) > 100:
        raise _error("name", "A name of 1 to 100 characters.")
    clash = MLModel.objects.filter(owner=owner, name=name)
    if instance is not None:
        clash = clash.exclude(pk=instance.pk)
    if clash.exists():
        raise _error("name", "You already have a model with this name.")
    if spec.timeframe not in TIMEFRAMES:
        raise _error("timeframe", f"One of {', '.join(TIMEFRAMES)}.")
    try:
        asset = Asset.objects.resolve(owner, spec.symbol or "")
    except Asset.DoesNotExist:
        raise _error("symbol", f"No market data for {spec.symbol!r}.") from None
    spec.params = check_params(spec.algorithm, spec.params)
    spec.horizon = _check_int("horizon", spec.horizon, 1, MAX_HORIZON)
    spec.folds = _check_int("folds", spec.folds, 1, MAX_FOLDS)
    spec.max_train_bars = _check_int(
        "max_train_bars", spec.max_train_bars, MIN_TRAIN_BARS, MAX_TRAIN_BARS
    )
    minimum = forecasters.get(spec.algorithm).min_length_for(spec.params)
    if spec.max_train_bars < minimum:
        raise _error(
            "max_train_bars", f"This configuration needs at least {minimum} bars."
        )
    try:
        level = float(spec.level)
    except (TypeError, ValueError):
        level = -1.0
    level = level / 100 if level > 1 else level
    if not any(abs(level - c) < 1e-9 for c in LEVEL_CHOICES):
        raise _error("level", "0.8 or 0.95 (80 or 95 percent).")
    spec.level = level
    spec.name = name
    return asset


def _describe(model: MLModel) -> dict[str, Any]:
    return {
        "name": model.name,
        "algorithm": model.algorithm,
        "symbol": model.symbol,
        "timeframe": model.timeframe,
        "params": model.params,
        "horizon": model.horizon,
        "folds": model.folds,
        "max_train_bars": model.max_train_bars,
        "level": model.level,
        "scheduled": model.scheduled,
    }


def create_model(
    *, owner: Any, spec: ModelSpec, request: HttpRequest | None = None
) -> MLModel:
    """Check (the owner's quota included), store untrained, audit."""
    asset = check_spec(owner=owner, spec=spec)
    limit = int(get_setting("max_models_per_user"))
    with transaction.atomic():
        if MLModel.objects.filter(owner=owner).count() >= limit:
            raise _error(
                "non_field_errors",
                f"You have reached the limit of {limit} models; delete one first.",
            )
        model = MLModel.objects.create(
            owner=owner,
            name=spec.name,
            algorithm=spec.algorithm,
            symbol=asset.symbol,
            asset=asset,
            timeframe=spec.timeframe,
            params=spec.params,
            horizon=spec.horizon,
            folds=spec.folds,
            max_train_bars=spec.max_train_bars,
            level=spec.level,
            scheduled=spec.scheduled,
        )
        record_event(
            action="model.created",
            user=owner,
            request=request,
            resource=model,
            details=_describe(model),
        )
    return model


UPDATABLE = (
    "name",
    "params",
    "horizon",
    "folds",
    "max_train_bars",
    "level",
    "scheduled",
)


RETRAIN_FIELDS = ("params", "horizon", "folds", "max_train_bars", "level")


def update_model(
    *,
    model: MLModel,
    actor: Any,
    changes: dict[str, Any],
    request: HttpRequest | None = None,
) -> MLModel:
    """Change name, parameters or evaluation settings while not training.

    Changing what training depends on makes the model untrained again (its old
    runs and predictions stay as history)."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise _error(sorted(unknown)[0], "This field cannot be changed.")
    with transaction.atomic():
        model = MLModel.objects.select_for_update().get(pk=model.pk)
        if model.is_busy:
            raise _error(
                "non_field_errors",
                "The model is training; cancel or wait before changing it.",
                status=409,
            )
        spec = ModelSpec(
            name=model.name,
            algorithm=model.algorithm,
            symbol=model.symbol,
            timeframe=model.timeframe,
            params=model.params,
            horizon=model.horizon,
            folds=model.folds,
            max_train_bars=model.max_train_bars,
            level=model.level,
            scheduled=model.scheduled,
        )
        for key, value in changes.items():
            setattr(spec, key, value)
        check_spec(owner=model.owner, spec=spec, instance=model)
        before = _describe(model)
        for key in UPDATABLE:
            setattr(model, key, getattr(spec, key))
        after = _describe(model)
        changed = {k: after[k] for k in after if after[k] != before[k]}
        if any(k in changed for k in RETRAIN_FIELDS):
            model.status = ModelStatus.UNTRAINED
            model.trained_run = None
            model.metrics = {}
            model.skill = None
        model.save()
        record_event(
            action="model.updated",
            user=actor,
            request=request,
            resource=model,
            details={"changed": changed},
        )
    return model


def delete_model(
    *, model: MLModel, actor: Any, request: HttpRequest | None = None
) -> None:
    """Delete the model, its runs, predictions and artefact files. A training in
    progress finds its run gone at its next cancellation check and stops."""
    task_ids = list(
        model.runs.filter(status__in=ACTIVE_RUN)
        .exclude(celery_task_id="")
        .values_list("celery_task_id", flat=True)
    )
    folder = artefact_dir(model)
    with transaction.atomic():
        record_event(
            action="model.deleted",
            user=actor,
            request=request,
            resource=model,
            details={"name": model.name, "algorithm": model.algorithm},
        )
        model.delete()
        transaction.on_commit(lambda: _cleanup(folder, task_ids))


def _cleanup(folder: Path, task_ids: list[str]) -> None:
    for task_id in task_ids:
        _revoke(task_id)
    if folder.is_dir():
        for path in folder.iterdir():
            path.unlink(missing_ok=True)
        folder.rmdir()
