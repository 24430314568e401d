"""A forecaster's out-of-sample predictions of the next close, bar by bar: the
``predictions`` input of the ``model_forecast`` strategy.

``predictions[t]`` is the forecast of ``close[t + 1]`` made at bar t's close, from
bars <= t only; NaN where there is none (too little history). Two modes:

* walk-forward: the algorithm is refitted with its params every ``refit_every``
  bars, each time on the bars up to and including that bar (at most ``max_train``
  of them); between refits the fitted parameters forecast one step ahead through
  the bars that have closed since (``Forecaster.one_step_ahead``), never refitted
  on them;
* frozen: one fitted model (a trained artefact) forecasts one step ahead through
  every bar after its training data, its parameters never re-estimated.

Pure numpy over the forecaster registry; no Django. Heavy libraries load inside
``fit``/``load``, so call this in the worker only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from apps.mlmodels import forecasters
from apps.mlmodels.forecasters import Forecaster

REFIT_MODES = ("walk_forward", "frozen")
DEFAULT_REFIT_EVERY = 24
MAX_REFITS = 2000  # walk-forward fits per backtest: bounds the worker's time

Progress = Callable[[int, int], None]


def first_refit(first: int, min_length: int) -> int:
    """The first bar a model can be fitted at: ``first`` or, with too little
    history before it, the bar where ``min_length`` bars have closed."""
    return max(first, min_length - 1)


def refit_count(n: int, first: int, min_length: int, refit_every: int) -> int:
    start = first_refit(first, min_length)
    return max(0, math.ceil((n - start) / refit_every))


def walk_forward_predictions(
    close: np.ndarray,
    *,
    first: int,
    algorithm: str,
    params: Mapping[str, Any],
    refit_every: int,
    freq: str,
    max_train: int | None = None,
    timestamps: np.ndarray | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Predictions for bars ``first`` onwards (NaN before). A refit at bar r sees
    ``close[lo : r + 1]``; the bars r + 1 .. r + K - 1 it then forecasts through
    are each seen only by the forecasts made at or after them."""
    close = np.asarray(close, dtype=np.float64)
    n = close.size
    out = np.full(n, np.nan)
    cls = forecasters.get(algorithm)
    min_length = cls.min_length_for(cls(params).params)
    if max_train is not None and max_train < min_length:
        max_train = min_length
    starts = range(first_refit(first, min_length), n, refit_every)
    for i, r in enumerate(starts, start=1):
        lo = 0 if not max_train else max(0, r + 1 - max_train)
        stamps = None if timestamps is None else timestamps[lo : r + 1]
        model = cls(params).fit(close[lo : r + 1], stamps, freq=freq)
        stop = min(r + refit_every, n)
        # Forecasts of close[r + 1 .. stop], made at bars r .. stop - 1.
        out[r:stop] = model.one_step_ahead(close[r + 1 : stop])
        if progress is not None:
            progress(i, len(starts))
    return out


def frozen_predictions(model: Forecaster, close_after_fit: np.ndarray) -> np.ndarray:
    """Predictions for the bars after the model's training data, in order:
    ``out[i]`` forecasts the bar after bar i, from the training data and bars
    <= i."""
    close_after_fit = np.asarray(close_after_fit, dtype=np.float64)
    return model.one_step_ahead(close_after_fit)[1:]
