"""Prophet (additive trend + seasonalities), through the ``prophet`` library.

Named ``prophet_model`` so it never shadows the library.

* Timestamps: pass the candles' UTC open times. Without them the series is placed
  on a synthetic clock starting 2000-01-01 00:00 UTC at ``freq`` spacing, which
  keeps Prophet working but makes its daily and weekly seasonalities meaningless.
* Intervals: Prophet simulates trend changes (``uncertainty_samples`` draws) and
  reads quantiles at ``interval_width``; we set that width per call from the
  requested level. The draws come from numpy's global generator, so we seed it
  with ``random_seed`` for the call and restore its previous state afterwards:
  the same model forecasts the same bands every time, reloaded or not.
* Artefact: ``prophet.serialize.model_to_json`` (plain JSON, no pickle).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from .base import (
    TIMEFRAMES,
    ArtefactError,
    FitContext,
    Forecaster,
    ParamSpec,
)

SYNTHETIC_START = np.datetime64("2000-01-01T00:00:00", "s")
SEASONALITY_CHOICES = ("auto", "on", "off")
SEASONALITY_VALUE = {"auto": "auto", "on": True, "off": False}


def _seasonality(name: str, period: str) -> ParamSpec:
    return ParamSpec(
        name,
        str,
        "auto",
        f"{period} seasonality: auto lets Prophet decide from the data's span.",
        choices=SEASONALITY_CHOICES,
    )


def _quiet_stan() -> None:
    # cmdstanpy and prophet log every fit at INFO; a worker log wants none of it.
    # cmdstanpy configures its logger lazily (to DEBUG) on first use: do that
    # first, then lower it, or our level would be overwritten.
    from cmdstanpy.utils import get_logger

    get_logger()
    for logger in ("cmdstanpy", "prophet", "prophet.plot"):
        logging.getLogger(logger).setLevel(logging.WARNING)


class ProphetForecaster(Forecaster):
    """``prophet.Prophet`` fitted on ``ds``/``y``, forecasting future rows only."""

    name: ClassVar[str] = "prophet"
    label: ClassVar[str] = "Prophet"
    one_step: ClassVar[bool] = True
    min_length: ClassVar[int] = 10
    param_specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("growth", str, "linear", "Trend shape.", choices=("linear", "flat")),
        ParamSpec(
            "changepoint_prior_scale",
            float,
            0.05,
            "Trend flexibility: larger follows turns faster, and overfits sooner.",
            min=0.001,
            max=0.5,
        ),
        ParamSpec(
            "seasonality_prior_scale",
            float,
            10.0,
            "Seasonality strength allowed.",
            min=0.01,
            max=10.0,
        ),
        ParamSpec(
            "seasonality_mode",
            str,
            "additive",
            "How seasonality combines with trend.",
            choices=("additive", "multiplicative"),
        ),
        ParamSpec(
            "n_changepoints",
            int,
            25,
            "Potential trend changepoints.",
            min=0,
            max=100,
        ),
        _seasonality("daily_seasonality", "Daily"),
        _seasonality("weekly_seasonality", "Weekly"),
        _seasonality("yearly_seasonality", "Yearly"),
        ParamSpec(
            "uncertainty_samples",
            int,
            1000,
            "Simulated paths behind the interval.",
            min=100,
            max=5000,
        ),
        ParamSpec(
            "random_seed",
            int,
            42,
            "Seed for the interval simulation.",
            min=0,
            max=2**31 - 1,
        ),
    )

    def _prophet_kwargs(self) -> dict[str, Any]:
        p = self.params
        return {
            "growth": p["growth"],
            "changepoint_prior_scale": p["changepoint_prior_scale"],
            "seasonality_prior_scale": p["seasonality_prior_scale"],
            "seasonality_mode": p["seasonality_mode"],
            "n_changepoints": p["n_changepoints"],
            "daily_seasonality": SEASONALITY_VALUE[p["daily_seasonality"]],
            "weekly_seasonality": SEASONALITY_VALUE[p["weekly_seasonality"]],
            "yearly_seasonality": SEASONALITY_VALUE[p["yearly_seasonality"]],
            "uncertainty_samples": p["uncertainty_samples"],
        }

    def _frame(self, y: np.ndarray, timestamps: np.ndarray | None) -> Any:
        import pandas as pd

        if timestamps is None:
            timestamps = SYNTHETIC_START + np.arange(y.size) * self.step()
        # Prophet wants naive datetimes; ours are UTC already.
        return pd.DataFrame({"ds": pd.to_datetime(timestamps), "y": y})

    def _fit(
        self, y: np.ndarray, timestamps: np.ndarray | None, ctx: FitContext
    ) -> None:
        from prophet import Prophet

        _quiet_stan()
        self.model = Prophet(**self._prophet_kwargs())
        self.model.fit(self._frame(y, timestamps))

    def _forecast(
        self, h: int, level: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        freq = f"{TIMEFRAMES[self.freq]}min"
        future = self.model.make_future_dataframe(
            periods=h, freq=freq, include_history=False
        )
        self.model.interval_width = level
        saved = np.random.get_state()
        np.random.seed(self.params["random_seed"])
        try:
            frame = self.model.predict(future)
        finally:
            np.random.set_state(saved)
        return (
            frame["yhat"].to_numpy(dtype=np.float64),
            frame["yhat_lower"].to_numpy(dtype=np.float64),
            frame["yhat_upper"].to_numpy(dtype=np.float64),
        )

    def _one_step(self, y_next: np.ndarray) -> np.ndarray:
        # Prophet is a function of time alone: bars after the fit do not move its
        # forecast, so the forecast path from the fit is its one-step forecasts.
        return self._forecast(y_next.size + 1, 0.8)[0]

    def _dump(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        from prophet.serialize import model_to_json

        return {}, {"model.json": model_to_json(self.model).encode()}

    def _restore(self, state: dict[str, Any], members: Mapping[str, bytes]) -> None:
        from prophet.serialize import model_from_json

        _quiet_stan()
        try:
            self.model = model_from_json(members["model.json"].decode())
        except (KeyError, ValueError) as exc:
            raise ArtefactError(f"prophet model is unreadable: {exc}") from exc
