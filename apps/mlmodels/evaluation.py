"""Walk-forward evaluation of a forecaster, scored against the naive forecast.

Folds: ``folds`` rolling origins over the tail of the series, ``step`` bars apart
(default: the horizon, so the scored windows tile the tail without overlap). For
the fold with cut-off ``c`` the model is fitted on ``y[start:c]`` only (``start``
is 0, or ``c - max_train`` with a capped window) and scored on ``y[c:c + h]``.
Nothing at or after the cut-off is ever passed to ``fit``.

Metrics (pooled over every scored point of every fold unless said otherwise):

* ``mae``, ``rmse``;
* ``mape`` and ``smape`` in percent (sMAPE: 200 * |f - a| / (|a| + |f|));
* ``mase``: each fold's MAE over the in-sample MAE of the naive forecast
  (``season`` 1) or seasonal naive (``season`` m) on that fold's training part,
  averaged over folds;
* ``directional_accuracy``: share of points where the forecast's move from the
  last observed value (before the cut-off) has the sign of the actual move; a
  flat forecast therefore scores only where the price did not move;
* ``coverage``: share of actuals inside the prediction interval;
* ``skill``: 1 - RMSE / RMSE of the naive (last value) forecast on the same folds;
  below 0 the model loses to doing nothing clever.

Pure functions over numpy; no Django.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .forecasters import base, get
from .forecasters.base import (
    CancelCheck,
    Cancelled,
    Forecast,
    Forecaster,
    ParamError,
    ProgressCallback,
)

ModelFactory = Callable[[], Forecaster]
MAX_FOLDS = 100
TIE_BAND = 0.005  # |skill| below this is reported as a tie, not a win or loss


# -- metrics ------------------------------------------------------------------
def _pair(actual: Any, predicted: Any) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    if a.shape != p.shape or a.ndim != 1 or a.size == 0:
        raise ValueError("actual and predicted must be equal-length, non-empty 1-D")
    return a, p


def mae(actual: Any, predicted: Any) -> float:
    a, p = _pair(actual, predicted)
    return float(np.mean(np.abs(a - p)))


def rmse(actual: Any, predicted: Any) -> float:
    a, p = _pair(actual, predicted)
    return float(np.sqrt(np.mean((a - p) ** 2)))


def mape(actual: Any, predicted: Any) -> float:
    """Percent; NaN when an actual is zero (undefined, not infinite)."""
    a, p = _pair(actual, predicted)
    if np.any(a == 0):
        return float("nan")
    return float(100 * np.mean(np.abs((a - p) / a)))


def smape(actual: Any, predicted: Any) -> float:
    """Percent, 0 to 200; a point where both are zero counts as no error."""
    a, p = _pair(actual, predicted)
    denominator = np.abs(a) + np.abs(p)
    ratio = np.divide(
        np.abs(a - p), denominator, out=np.zeros_like(a), where=denominator > 0
    )
    return float(200 * np.mean(ratio))


def naive_scale(train: Any, season: int = 1) -> float:
    """In-sample MAE of the (seasonal) naive forecast: the MASE denominator."""
    y = np.asarray(train, dtype=np.float64)
    if y.size <= season:
        raise ValueError("training part is shorter than the season")
    return float(np.mean(np.abs(y[season:] - y[:-season])))


def mase(actual: Any, predicted: Any, train: Any, season: int = 1) -> float:
    scale = naive_scale(train, season)
    return mae(actual, predicted) / scale if scale > 0 else float("nan")


def directional_accuracy(actual: Any, predicted: Any, last_value: float) -> float:
    a, p = _pair(actual, predicted)
    return float(np.mean(np.sign(p - last_value) == np.sign(a - last_value)))


def coverage(actual: Any, lower: Any, upper: Any) -> float:
    a, lo = _pair(actual, lower)
    _, hi = _pair(actual, upper)
    return float(np.mean((a >= lo) & (a <= hi)))


def skill_score(model_rmse: float, naive_rmse: float) -> float:
    return 1 - model_rmse / naive_rmse if naive_rmse > 0 else float("nan")


# -- folds --------------------------------------------------------------------
def fold_cutoffs(
    n: int, *, horizon: int, folds: int, step: int | None = None
) -> list[int]:
    """Cut-offs (first unseen index) of each fold, oldest first; last ends at n."""
    step = horizon if step is None else step
    if not 1 <= folds <= MAX_FOLDS:
        raise ParamError("folds", f"folds must be an integer from 1 to {MAX_FOLDS}")
    if step < 1:
        raise ParamError("step", "step must be at least 1")
    last = n - horizon
    return [last - (folds - 1 - i) * step for i in range(folds)]


@dataclass(frozen=True)
class FoldResult:
    index: int  # 1-based, oldest first
    cutoff: int  # index of the first bar not seen in training
    train_start: int
    actual: np.ndarray
    forecast: Forecast
    naive: np.ndarray  # last training value repeated: the skill reference
    metrics: dict[str, float]


@dataclass(frozen=True)
class Evaluation:
    algorithm: str
    params: dict[str, Any]
    horizon: int
    level: float
    folds: list[FoldResult]
    metrics: dict[str, float]
    naive_metrics: dict[str, float]
    verdict: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def skill(self) -> float:
        return self.metrics["skill"]

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe summary (NaN becomes None) for the TrainingRun row."""
        return {
            "algorithm": self.algorithm,
            "params": self.params,
            "horizon": self.horizon,
            "level": self.level,
            "metrics": _json_floats(self.metrics),
            "naive_metrics": _json_floats(self.naive_metrics),
            "verdict": self.verdict,
            "folds": [
                {
                    "index": f.index,
                    "cutoff": f.cutoff,
                    "train_start": f.train_start,
                    "metrics": _json_floats(f.metrics),
                }
                for f in self.folds
            ],
        }


def _json_floats(values: Mapping[str, float]) -> dict[str, float | None]:
    return {k: (None if np.isnan(v) else float(v)) for k, v in values.items()}


def point_metrics(
    actual: np.ndarray, fc: Forecast, last_value: float, train: np.ndarray, season: int
) -> dict[str, float]:
    return {
        "mae": mae(actual, fc.mean),
        "rmse": rmse(actual, fc.mean),
        "mape": mape(actual, fc.mean),
        "smape": smape(actual, fc.mean),
        "mase": mase(actual, fc.mean, train, season),
        "directional_accuracy": directional_accuracy(actual, fc.mean, last_value),
        "coverage": coverage(actual, fc.lower, fc.upper),
    }


def evaluate_fold(
    y: np.ndarray,
    cutoff: int,
    make_model: ModelFactory,
    *,
    horizon: int,
    level: float = 0.95,
    max_train: int | None = None,
    season: int = 1,
    index: int = 1,
    timestamps: np.ndarray | None = None,
    freq: str = base.DEFAULT_FREQ,
    on_epoch: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> FoldResult:
    """Fit on y[start:cutoff], forecast ``horizon`` bars, score on y[cutoff:...]."""
    y = np.asarray(y, dtype=np.float64)
    start = 0 if not max_train else max(0, cutoff - max_train)
    # Slices are copied by fit(); nothing from cutoff on is visible to the model.
    train = y[start:cutoff]
    stamps = None if timestamps is None else timestamps[start:cutoff]
    model = make_model().fit(
        train, stamps, freq=freq, on_epoch=on_epoch, should_cancel=should_cancel
    )
    fc = model.forecast(horizon, level)
    actual = np.asarray(y[cutoff : cutoff + horizon], dtype=np.float64)
    last_value = float(train[-1])
    metrics = point_metrics(actual, fc, last_value, train, season)
    metrics["naive_rmse"] = rmse(actual, np.full(horizon, last_value))
    return FoldResult(
        index=index,
        cutoff=cutoff,
        train_start=start,
        actual=actual,
        forecast=fc,
        naive=np.full(horizon, last_value),
        metrics=metrics,
    )


# -- walk-forward ---------------------------------------------------------------
def _factory(
    algorithm: str | ModelFactory, params: Mapping[str, Any] | None
) -> tuple[str, dict[str, Any], ModelFactory]:
    if callable(algorithm):
        probe = algorithm()
        return probe.name, probe.params, algorithm
    cls = get(algorithm)
    checked = cls(params).params  # validate once, before any fold runs
    return cls.name, checked, lambda: cls(checked)


def _check_sizes(
    n: int, cutoffs: list[int], min_length: int, max_train: int | None
) -> None:
    if cutoffs[0] < min_length:
        raise ParamError(
            "folds",
            f"series of {n} bars is too short for these folds: the first fold "
            f"would train on {max(cutoffs[0], 0)} bars, the model needs {min_length}",
        )
    if max_train is not None and max_train < min_length:
        raise ParamError(
            "max_train", f"training window must be at least {min_length} bars"
        )


def walk_forward(
    y: Any,
    algorithm: str | ModelFactory,
    params: Mapping[str, Any] | None = None,
    *,
    horizon: int = 24,
    folds: int = 5,
    step: int | None = None,
    max_train: int | None = None,
    level: float = 0.95,
    season: int = 1,
    timestamps: Any = None,
    freq: str = base.DEFAULT_FREQ,
    progress: ProgressCallback | None = None,
    on_epoch: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> Evaluation:
    """Rolling-origin evaluation; ``progress(i, k)`` after fold i of k.

    ``should_cancel`` is polled before each fold (and each LSTM epoch); when it
    returns True, Cancelled is raised and no result is produced.
    """
    horizon = base.check_horizon(horizon)
    level = base.normalise_level(level)
    name, checked, make_model = _factory(algorithm, params)
    series = base.as_series(y, min_length=2)
    stamps = base.as_timestamps(timestamps, series.size)
    cutoffs = fold_cutoffs(series.size, horizon=horizon, folds=folds, step=step)
    _check_sizes(series.size, cutoffs, make_model().min_length_for(checked), max_train)
    results = []
    for i, cutoff in enumerate(cutoffs, start=1):
        if should_cancel is not None and should_cancel():
            raise Cancelled(f"cancelled before fold {i} of {len(cutoffs)}")
        results.append(
            evaluate_fold(
                series,
                cutoff,
                make_model,
                horizon=horizon,
                level=level,
                max_train=max_train,
                season=season,
                index=i,
                timestamps=stamps,
                freq=freq,
                on_epoch=on_epoch,
                should_cancel=should_cancel,
            )
        )
        if progress is not None:
            progress(i, len(cutoffs))
    return summarise(name, checked, horizon, level, results, series, season)


def summarise(
    name: str,
    params: dict[str, Any],
    horizon: int,
    level: float,
    results: list[FoldResult],
    series: np.ndarray,
    season: int,
) -> Evaluation:
    metrics = _pooled(results, series, season, naive=False)
    naive_metrics = _pooled(results, series, season, naive=True)
    metrics["skill"] = skill_score(metrics["rmse"], naive_metrics["rmse"])
    naive_metrics["skill"] = 0.0
    return Evaluation(
        algorithm=name,
        params=params,
        horizon=horizon,
        level=level,
        folds=results,
        metrics=metrics,
        naive_metrics=naive_metrics,
        verdict=verdict(metrics, level, len(results), horizon),
    )


def _pooled(
    results: list[FoldResult], series: np.ndarray, season: int, *, naive: bool
) -> dict[str, float]:
    actual = np.concatenate([r.actual for r in results])
    mean = np.concatenate([r.naive if naive else r.forecast.mean for r in results])
    last = np.concatenate([np.full(r.actual.size, r.naive[0]) for r in results])
    mases = [
        mase(
            r.actual,
            r.naive if naive else r.forecast.mean,
            series[r.train_start : r.cutoff],
            season,
        )
        for r in results
    ]
    pooled = {
        "mae": mae(actual, mean),
        "rmse": rmse(actual, mean),
        "mape": mape(actual, mean),
        "smape": smape(actual, mean),
        "mase": float(np.mean(mases)),
        "directional_accuracy": float(
            np.mean(np.sign(mean - last) == np.sign(actual - last))
        ),
    }
    if not naive:
        lower = np.concatenate([r.forecast.lower for r in results])
        upper = np.concatenate([r.forecast.upper for r in results])
        pooled["coverage"] = coverage(actual, lower, upper)
    return pooled


def verdict(
    metrics: Mapping[str, float], level: float, folds: int, horizon: int
) -> str:
    """One plain sentence a trader can act on."""
    skill = metrics["skill"]
    scope = f"over {folds} fold{'s' if folds > 1 else ''} of {horizon} bars"
    if np.isnan(skill):
        head = "cannot be compared with the naive forecast (it made no error)"
    elif skill <= -TIE_BAND:
        head = f"loses to the naive forecast: skill {skill:.2f}"
    elif skill < TIE_BAND:
        head = f"ties with the naive forecast: skill {skill:.2f}"
    else:
        head = f"beats the naive forecast: skill {skill:.2f}"
    covered = metrics.get("coverage", float("nan"))
    tail = ""
    if not np.isnan(covered):
        tail = f"; its {level:.0%} interval held {covered:.0%} of actual prices"
        if covered < level - 0.10:
            tail += " (too narrow)"
    return f"{head} {scope}{tail}"
