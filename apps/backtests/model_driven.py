"""Model-driven backtests: which model a backtest trades on, checked at creation,
and its predictions, computed in the worker (``forecast_inputs``).

A ``model_forecast`` backtest names one of its owner's models for the same symbol
and timeframe, and a refit mode (stored in its ``params`` beside the strategy's):

* ``walk_forward`` (default): the model's algorithm and params are refitted every
  ``refit_every`` bars on the bars up to each refit (at most the model's
  ``max_train_bars``, history before the backtest start included); no artefact
  is needed;
* ``frozen``: the trained artefact of the model's current run, accepted only if
  its training data ended strictly before the backtest start; the run is pinned
  (``training_run``) so a later retraining does not change what the job uses.

Either way each prediction for bar t + 1 is made at bar t's close from bars <= t.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from apps.market.models import Asset, Candle
from apps.mlmodels import forecasters
from apps.mlmodels.models import MLModel, TrainingRun

from .forecast_inputs import (
    DEFAULT_REFIT_EVERY,
    MAX_REFITS,
    REFIT_MODES,
    frozen_predictions,
    refit_count,
    walk_forward_predictions,
)

# Keys of ``Backtest.params`` that configure the model, not the strategy.
MODEL_KEYS = ("refit", "refit_every", "training_run")
MAX_REFIT_EVERY = 100_000


class ModelInputError(ValueError):
    """A field's message (``field``) for BacktestRequestError."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class ModelChoice:
    model: MLModel
    params: dict[str, Any]  # refit settings, merged into the backtest's params


def strategy_params(params: dict[str, Any]) -> dict[str, Any]:
    """The backtest's params without the model settings: what the strategy takes."""
    return {k: v for k, v in params.items() if k not in MODEL_KEYS}


def check_model(
    *,
    owner: Any,
    asset: Asset,
    timeframe: str,
    start: datetime,
    bars: int,
    model_id: Any,
    refit: str | None,
    refit_every: Any,
) -> ModelChoice:
    """Resolve the owner's model and check the refit settings (ModelInputError)."""
    model = _own_model(owner, model_id)
    if model.symbol.upper() != asset.symbol.upper() or model.timeframe != timeframe:
        raise ModelInputError(
            "model",
            f"{model.name} forecasts {model.symbol} {model.timeframe}; this backtest "
            f"is {asset.symbol} {timeframe}. Choose a model of the same series.",
        )
    cls = forecasters.FORECASTERS.get(model.algorithm)
    if cls is None or not cls.one_step:
        raise ModelInputError(
            "model", f"{model.algorithm} models cannot drive a backtest yet."
        )
    mode = refit or "walk_forward"
    if mode not in REFIT_MODES:
        raise ModelInputError("refit", f"One of {', '.join(REFIT_MODES)}.")
    if mode == "frozen":
        return ModelChoice(
            model, {"refit": mode, "training_run": _frozen_run(model, start).pk}
        )
    every = _refit_every(refit_every)
    history = min(model.max_train_bars, _bars_before(asset, timeframe, start))
    try:
        min_length = cls.min_length_for(cls(model.params).params)
    except forecasters.ParamError as exc:
        raise ModelInputError("model", f"{model.name}: {exc}") from None
    fits = refit_count(history + bars, history, min_length, every)
    if fits > MAX_REFITS:
        raise ModelInputError(
            "refit_every",
            f"Refitting every {every} bars over {bars} bars means {fits} fits "
            f"(at most {MAX_REFITS}); refit less often or shorten the period.",
        )
    return ModelChoice(model, {"refit": mode, "refit_every": every})


def _own_model(owner: Any, model_id: Any) -> MLModel:
    if model_id in (None, ""):
        raise ModelInputError("model", "Choose one of your models to trade on.")
    try:
        pk = int(model_id)
    except (TypeError, ValueError):
        raise ModelInputError("model", "A model id (an integer).") from None
    # Another user's model reads exactly like a missing one.
    model = MLModel.objects.owned_by(owner).filter(pk=pk).first()
    if model is None:
        raise ModelInputError("model", f"You have no model {pk}.")
    return model


def _refit_every(value: Any) -> int:
    if value in (None, ""):
        return DEFAULT_REFIT_EVERY
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ModelInputError("refit_every", "A whole number of bars, at least 1.")
    try:
        number = float(value)
    except ValueError:
        raise ModelInputError(
            "refit_every", "A whole number of bars, at least 1."
        ) from None
    if number != int(number) or not 1 <= number <= MAX_REFIT_EVERY:
        raise ModelInputError(
            "refit_every", f"A whole number of bars from 1 to {MAX_REFIT_EVERY}."
        )
    return int(number)


def _frozen_run(model: MLModel, start: datetime) -> TrainingRun:
    run = model.trained_run
    if run is None or not run.artefact_path or run.data_end is None:
        raise ModelInputError(
            "refit",
            f"{model.name} has no trained artefact; train it first, or use "
            "walk-forward refitting.",
        )
    if run.data_end >= start:
        raise ModelInputError(
            "refit",
            f"Frozen mode needs a model trained only on bars before the backtest "
            f"start: {model.name} was trained on bars up to "
            f"{run.data_end:%Y-%m-%d %H:%M} UTC, on or after the start "
            f"{start:%Y-%m-%d %H:%M} UTC. Start later, or use walk-forward refitting.",
        )
    return run


def _bars_before(asset: Asset, timeframe: str, start: datetime) -> int:
    return Candle.objects.series(asset, timeframe, None, start).count()


# --- in the worker -----------------------------------------------------------------


def compute_predictions(
    *,
    backtest: Any,
    time: np.ndarray,
    close: np.ndarray,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """``predictions`` for the backtest's bars (``time``, ``close``); raises
    ValueError with the user's message when the model or its run is gone."""
    model = backtest.model
    if model is None:
        raise ValueError("the model of this backtest was deleted")
    settings = backtest.params
    if settings.get("refit") == "frozen":
        return _frozen(backtest, model, time)
    history_time, history_close = _history(backtest, model.max_train_bars)
    stamps = np.concatenate((history_time, time)).astype("datetime64[s]")
    return walk_forward_predictions(
        np.concatenate((history_close, close)),
        first=history_close.size,
        algorithm=model.algorithm,
        params=model.params,
        refit_every=int(settings.get("refit_every", DEFAULT_REFIT_EVERY)),
        freq=backtest.timeframe,
        max_train=model.max_train_bars,
        timestamps=stamps,
        progress=progress,
    )[history_close.size :]


def _history(backtest: Any, count: int) -> tuple[np.ndarray, np.ndarray]:
    rows = list(
        Candle.objects.series(backtest.asset, backtest.timeframe, None, backtest.start)
        .order_by("-open_time")
        .values_list("open_time", "close")[:count]
    )[::-1]
    time = np.array([int(t.timestamp()) for t, _ in rows], dtype=np.int64)
    return time, np.array([c for _, c in rows], dtype=np.float64)


def _frozen(backtest: Any, model: MLModel, time: np.ndarray) -> np.ndarray:
    run = TrainingRun.objects.filter(
        pk=backtest.params.get("training_run"), model=model
    ).first()
    if run is None or not run.artefact_path or run.data_end is None:
        raise ValueError("the training run this backtest was set up with is gone")
    if run.data_end >= backtest.start:
        raise ValueError("the model's training data does not end before the start")
    fitted = forecasters.load(run.artefact_path, expected_sha256=run.artefact_sha256)
    after = run.data_end + timedelta(microseconds=1)
    rows = list(
        Candle.objects.series(
            backtest.asset, backtest.timeframe, after, backtest.end
        ).values_list("open_time", "close")
    )
    after_time = np.array([int(t.timestamp()) for t, _ in rows], dtype=np.int64)
    out = frozen_predictions(fitted, np.array([c for _, c in rows], dtype=np.float64))
    tail = out[after_time.size - time.size :]
    if not np.array_equal(after_time[after_time.size - time.size :], time):
        raise ValueError("the stored bars changed while the backtest ran")
    return tail
