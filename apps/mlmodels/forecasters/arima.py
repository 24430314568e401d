"""ARIMA(p, d, q) through statsmodels, with an optional small AIC search.

Artefact: the estimated parameter vector and the training series (``state.npz``),
not a pickle. statsmodels' own ``results.save`` pickles the results object; that
would be acceptable here only because the checksum is verified before anything is
parsed, but we avoid unpickling altogether: loading rebuilds the same model on the
same data and runs one Kalman filter pass with the saved parameters
(``model.filter(params)``), which is cheap next to estimation and yields the same
forecasts bit for bit. Forecasts right after fit come from that same filter pass,
so a reloaded model forecasts exactly what the fitted one did.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from .base import (
    ArtefactError,
    FitContext,
    Forecaster,
    ParamError,
    ParamSpec,
    npz_bytes,
    npz_load,
)

TREND_CHOICES = ("auto", "n", "c", "t", "ct")
TREND_HELP = (
    "Deterministic trend: auto (constant if d = 0, none otherwise), n none, "
    "c constant, t linear (a drift when d = 1), ct both."
)


def order_spec(name: str, default: int, high: int, label: str, help_: str) -> ParamSpec:
    return ParamSpec(name, int, default, help_, min=0, max=high, label=label)


def check_trend(trend: str, d: int) -> None:
    """statsmodels refuses trend terms of lower order than the differencing."""
    lowest = {"n": None, "c": 0, "t": 1, "ct": 0}.get(trend)
    if lowest is not None and lowest < d:
        raise ParamError(
            "trend",
            f"trend {trend!r} is not allowed with d = {d}; use 't' (drift) or 'n'",
        )


def statsmodels_trend(trend: str) -> str | None:
    return None if trend == "auto" else trend


def quiet_fit(model: Any, **kwargs: Any) -> Any:
    """Fit without statsmodels' convergence chatter; callers read mle_retvals."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(**kwargs)


class StatespaceForecaster(Forecaster):
    """Shared forecast/save/load for statsmodels state-space models."""

    def _build(self, y: np.ndarray, **overrides: Any) -> Any:
        raise NotImplementedError

    def _set_results(self, y: np.ndarray, params: Any, results: Any = None) -> None:
        """Keep what forecasting needs; without ``results``, re-filter (load path).

        A filter pass with the estimated parameters reproduces the fitted
        results' forecasts exactly (same model, same data, same parameters).
        """
        self.train_y = y
        self.fitted_params = np.asarray(params, dtype=np.float64)
        if results is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                results = self._build(y).filter(self.fitted_params)
        self.results = results

    def _forecast(
        self, h: int, level: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        prediction = self.results.get_forecast(steps=h)
        interval = np.asarray(prediction.conf_int(alpha=1 - level))
        return np.asarray(prediction.predicted_mean), interval[:, 0], interval[:, 1]

    def _extended(self, y_next: np.ndarray) -> Any:
        """One filter pass over training data + new bars, parameters as fitted."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = np.concatenate((self.train_y, y_next))
            return self._build(y).filter(self.fitted_params)

    def _one_step(self, y_next: np.ndarray) -> np.ndarray:
        # In-sample predictions of a filter are one-step-ahead: the prediction of
        # bar s uses observations before s only.
        n = self.train_y.size
        results = self._extended(y_next)
        return np.asarray(results.predict(start=n, end=n + y_next.size))

    def _dump(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        blob = npz_bytes(y=self.train_y, params=self.fitted_params)
        return self._extra_state(), {"state.npz": blob}

    def _restore(self, state: dict[str, Any], members: Mapping[str, bytes]) -> None:
        try:
            arrays = npz_load(members["state.npz"])
        except (KeyError, ValueError, OSError) as exc:
            raise ArtefactError(f"artefact state is unreadable: {exc}") from exc
        self._restore_extra(state)
        self._set_results(arrays["y"], arrays["params"])

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _restore_extra(self, state: dict[str, Any]) -> None:
        return None


class ArimaForecaster(StatespaceForecaster):
    """statsmodels ``ARIMA(y, order=(p, d, q), trend=...)``.

    With ``search`` on, every order with p' <= p and q' <= q (d fixed) is fitted
    and the one with the lowest AIC kept; ``selected_order`` reports it.
    """

    name: ClassVar[str] = "arima"
    label: ClassVar[str] = "ARIMA"
    one_step: ClassVar[bool] = True
    param_specs: ClassVar[tuple[ParamSpec, ...]] = (
        order_spec("p", 1, 5, "order p", "Autoregressive order (max when searching)."),
        order_spec("d", 1, 2, "order d", "Differences: 1 models changes, not levels."),
        order_spec("q", 0, 5, "order q", "Moving-average order (max when searching)."),
        ParamSpec("trend", str, "auto", TREND_HELP, choices=TREND_CHOICES),
        ParamSpec(
            "search",
            bool,
            False,
            "Pick p and q (up to the values above) by lowest AIC.",
            label="AIC order search",
        ),
    )

    @classmethod
    def check_combination(cls, params: Mapping[str, Any]) -> None:
        check_trend(params["trend"], params["d"])

    @classmethod
    def min_length_for(cls, params: Mapping[str, Any]) -> int:
        return max(10, 2 * (params["p"] + params["d"] + params["q"]) + 2)

    def _build(self, y: np.ndarray, **overrides: Any) -> Any:
        from statsmodels.tsa.arima.model import ARIMA

        order = overrides.get("order") or self.selected_order
        return ARIMA(y, order=order, trend=statsmodels_trend(self.params["trend"]))

    def _candidate_orders(self) -> list[tuple[int, int, int]]:
        p, d, q = self.params["p"], self.params["d"], self.params["q"]
        if not self.params["search"]:
            return [(p, d, q)]
        return [(i, d, j) for i, j in itertools.product(range(p + 1), range(q + 1))]

    def _fit(
        self, y: np.ndarray, timestamps: np.ndarray | None, ctx: FitContext
    ) -> None:
        best: tuple[float, tuple[int, int, int], Any] | None = None
        for order in self._candidate_orders():
            ctx.check_cancel()
            result = quiet_fit(self._build(y, order=order))
            if best is None or result.aic < best[0]:
                best = (float(result.aic), order, result)
        if best is None:  # _candidate_orders always yields (p, d, q) at least
            raise ValueError("ARIMA has no candidate order to fit")
        self.aic, self.selected_order, result = best
        self.converged = bool(result.mle_retvals.get("converged", True))
        self._set_results(y, result.params, result)

    def _extra_state(self) -> dict[str, Any]:
        return {
            "selected_order": list(self.selected_order),
            "aic": self.aic,
            "converged": self.converged,
        }

    def _restore_extra(self, state: dict[str, Any]) -> None:
        self.selected_order = tuple(int(v) for v in state["selected_order"])
        self.aic = float(state["aic"])
        self.converged = bool(state["converged"])
