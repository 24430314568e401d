"""Baselines every model must beat: naive (last value), seasonal naive, drift.

Intervals follow Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*
(3rd ed., section 5.5), assuming normal, uncorrelated one-step residuals:

* naive: sigma_h = sigma * sqrt(h), sigma = RMS of y_t - y_{t-1}
* seasonal naive (period m): sigma_h = sigma * sqrt(k + 1), k = floor((h - 1) / m),
  sigma = RMS of y_t - y_{t-m}
* drift: sigma_h = sigma * sqrt(h * (1 + h / (T - 1))), sigma = standard deviation of
  y_t - y_{t-1} - slope with T - 2 degrees of freedom
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from .base import FitContext, Forecaster, ParamSpec, z_value


class NaiveForecaster(Forecaster):
    """Every future value equals the last observed value (a random walk)."""

    name: ClassVar[str] = "naive"
    label: ClassVar[str] = "Naive (last value)"
    param_specs: ClassVar[tuple[ParamSpec, ...]] = ()
    min_length: ClassVar[int] = 2
    one_step: ClassVar[bool] = True

    def _fit(
        self, y: np.ndarray, timestamps: np.ndarray | None, ctx: FitContext
    ) -> None:
        self.last_value = float(y[-1])
        self.sigma = float(np.sqrt(np.mean(np.diff(y) ** 2)))

    def _forecast(
        self, h: int, level: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mean = np.full(h, self.last_value)
        half = z_value(level) * self.sigma * np.sqrt(np.arange(1, h + 1))
        return mean, mean - half, mean + half

    def _one_step(self, y_next: np.ndarray) -> np.ndarray:
        return np.concatenate(([self.last_value], y_next))

    def _dump(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        return {"last_value": self.last_value, "sigma": self.sigma}, {}

    def _restore(self, state: dict[str, Any], members: Mapping[str, bytes]) -> None:
        self.last_value = float(state["last_value"])
        self.sigma = float(state["sigma"])


class SeasonalNaiveForecaster(Forecaster):
    """Each future value equals the value one season earlier."""

    name: ClassVar[str] = "seasonal_naive"
    label: ClassVar[str] = "Seasonal naive"
    param_specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec(
            "season",
            int,
            24,
            "Season length in bars (24 = daily cycle on hourly bars).",
            min=2,
            max=1000,
            label="season length",
        ),
    )
    one_step: ClassVar[bool] = True

    @classmethod
    def min_length_for(cls, params: Mapping[str, Any]) -> int:
        return int(params["season"]) + 1

    def _fit(
        self, y: np.ndarray, timestamps: np.ndarray | None, ctx: FitContext
    ) -> None:
        m = self.params["season"]
        self.last_season = y[-m:].copy()
        self.sigma = float(np.sqrt(np.mean((y[m:] - y[:-m]) ** 2)))

    def _forecast(
        self, h: int, level: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = self.params["season"]
        steps = np.arange(h)
        mean = self.last_season[steps % m]
        half = z_value(level) * self.sigma * np.sqrt(steps // m + 1)
        return mean, mean - half, mean + half

    def _one_step(self, y_next: np.ndarray) -> np.ndarray:
        # The value one season before each target: history then the new bars.
        return np.concatenate((self.last_season, y_next))[: y_next.size + 1]

    def _dump(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        return {"last_season": self.last_season.tolist(), "sigma": self.sigma}, {}

    def _restore(self, state: dict[str, Any], members: Mapping[str, bytes]) -> None:
        self.last_season = np.asarray(state["last_season"], dtype=np.float64)
        self.sigma = float(state["sigma"])


class DriftForecaster(Forecaster):
    """Last value plus the average change over the history, extended h steps."""

    name: ClassVar[str] = "drift"
    label: ClassVar[str] = "Drift"
    param_specs: ClassVar[tuple[ParamSpec, ...]] = ()
    min_length: ClassVar[int] = 3
    one_step: ClassVar[bool] = True

    def _fit(
        self, y: np.ndarray, timestamps: np.ndarray | None, ctx: FitContext
    ) -> None:
        n = y.size
        self.last_value = float(y[-1])
        self.slope = float((y[-1] - y[0]) / (n - 1))
        residuals = np.diff(y) - self.slope
        self.sigma = float(np.sqrt(np.sum(residuals**2) / (n - 2)))
        self.train_size = n

    def _forecast(
        self, h: int, level: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        steps = np.arange(1, h + 1)
        mean = self.last_value + steps * self.slope
        spread = np.sqrt(steps * (1 + steps / (self.train_size - 1)))
        half = z_value(level) * self.sigma * spread
        return mean, mean - half, mean + half

    def _one_step(self, y_next: np.ndarray) -> np.ndarray:
        # The slope stays as estimated at fit; the level follows each new bar.
        return np.concatenate(([self.last_value], y_next)) + self.slope

    def _dump(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        state = {
            "last_value": self.last_value,
            "slope": self.slope,
            "sigma": self.sigma,
            "train_size": self.train_size,
        }
        return state, {}

    def _restore(self, state: dict[str, Any], members: Mapping[str, bytes]) -> None:
        self.last_value = float(state["last_value"])
        self.slope = float(state["slope"])
        self.sigma = float(state["sigma"])
        self.train_size = int(state["train_size"])
