"""Seasonal ARIMA through statsmodels' SARIMAX.

Two estimation forms:

* default: the full state-space model, exact likelihood on every bar;
* ``simple_differencing``: the series is differenced (d, then D at period s) before
  estimation (conditional likelihood, a much smaller state vector, about 3x faster
  and 2-3x less memory). statsmodels then forecasts the *differenced* series w, so
  we bring it back to prices ourselves: the mean by inverting the difference
  operator (1 - B)^d (1 - B^s)^D over the last observed prices (exact, linear), the
  variance from the psi-weights of the integrated model,
  sigma2 * sum_{j<h} psi_j^2 (Box-Jenkins; it ignores the small finite-sample
  state uncertainty: on 2,000 BTC bars at s = 24 the bands were within 1% of the
  full model's). Running the full model's filter with the fast
  parameters would give exact full-model bands, but costs as much as the fit.

Training window: SARIMA at s = 24 costs seconds and hundreds of MB per thousand
bars, so ``max_train`` (default 2000 bars, about 12 weeks of hourly candles) keeps
only the most recent bars for estimation. 0 means the whole series.

Artefacts hold parameters plus the training window (see ``arima`` for why there is
no pickle); loading re-runs one filter pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from .arima import StatespaceForecaster, order_spec, quiet_fit
from .base import FitContext, ParamError, ParamSpec, z_value


class SarimaForecaster(StatespaceForecaster):
    """statsmodels ``SARIMAX(y, order=(p,d,q), seasonal_order=(P,D,Q,s), trend)``."""

    name: ClassVar[str] = "sarima"
    label: ClassVar[str] = "SARIMA"
    one_step: ClassVar[bool] = True
    param_specs: ClassVar[tuple[ParamSpec, ...]] = (
        order_spec("p", 1, 5, "order p", "Autoregressive order."),
        order_spec("d", 1, 2, "order d", "Differences."),
        order_spec("q", 1, 5, "order q", "Moving-average order."),
        order_spec("P", 1, 2, "seasonal order P", "Seasonal autoregressive order."),
        order_spec("D", 1, 1, "seasonal order D", "Seasonal differences."),
        order_spec("Q", 1, 2, "seasonal order Q", "Seasonal moving-average order."),
        ParamSpec(
            "s",
            int,
            24,
            "Season length in bars (24 = daily cycle on hourly bars).",
            min=2,
            max=168,
            label="season length s",
        ),
        ParamSpec(
            "trend",
            str,
            "n",
            "Deterministic trend: n none, c constant, t linear, ct both.",
            choices=("n", "c", "t", "ct"),
        ),
        ParamSpec(
            "simple_differencing",
            bool,
            False,
            "Difference before estimating: about 3x faster, conditional likelihood.",
            label="simple differencing",
        ),
        ParamSpec(
            "max_train",
            int,
            2000,
            "Fit on at most this many recent bars (0 = all); bounds time and memory.",
            min=0,
            max=100_000,
            label="training window cap",
        ),
    )

    @classmethod
    def check_combination(cls, params: Mapping[str, Any]) -> None:
        s = params["s"]
        if params["P"] > 0 and params["p"] >= s:
            raise ParamError("p", f"order p must be below the season length {s}")
        if params["Q"] > 0 and params["q"] >= s:
            raise ParamError("q", f"order q must be below the season length {s}")
        cap, shortest = params["max_train"], cls.min_length_for(params)
        if cap and cap < shortest:
            raise ParamError(
                "max_train", f"training window cap must be 0 or at least {shortest}"
            )

    @classmethod
    def min_length_for(cls, params: Mapping[str, Any]) -> int:
        s = params["s"]
        return params["d"] + params["D"] * s + 2 * s + 10

    def _build(self, y: np.ndarray, **overrides: Any) -> Any:
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        p = self.params
        return SARIMAX(
            y,
            order=(p["p"], p["d"], p["q"]),
            seasonal_order=(p["P"], p["D"], p["Q"], p["s"]),
            trend=p["trend"],
            simple_differencing=p["simple_differencing"],
        )

    def _fit(
        self, y: np.ndarray, timestamps: np.ndarray | None, ctx: FitContext
    ) -> None:
        cap = self.params["max_train"]
        window = y[-cap:] if cap else y
        result = quiet_fit(self._build(window), disp=False)
        self.converged = bool(result.mle_retvals.get("converged", True))
        self.aic = float(result.aic)
        ctx.check_cancel()
        self._set_results(window, result.params, result)

    def _forecast(
        self, h: int, level: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.params["simple_differencing"]:
            return super()._forecast(h, level)
        op = difference_operator(self.params["d"], self.params["D"], self.params["s"])
        diffs = np.asarray(self.results.get_forecast(steps=h).predicted_mean)
        mean = undifference(self.train_y, diffs, op)
        half = z_value(level) * np.sqrt(integrated_variance(self.results, op, h))
        return mean, mean - half, mean + half

    def _one_step(self, y_next: np.ndarray) -> np.ndarray:
        if not self.params["simple_differencing"]:
            return super()._one_step(y_next)
        # The filter predicts the differenced series w (index i is bar i + k);
        # each price follows from its w and the actual prices before it.
        op = difference_operator(self.params["d"], self.params["D"], self.params["s"])
        k, n = op.size - 1, self.train_y.size
        y = np.concatenate((self.train_y, y_next))
        w = np.asarray(
            self._extended(y_next).predict(start=n - k, end=n + y_next.size - k)
        )
        out = np.empty(y_next.size + 1)
        for i, pos in enumerate(range(n, n + y_next.size + 1)):
            past = y[pos - k : pos][::-1]  # y_{t-1}, y_{t-2}, ...
            out[i] = w[i] - float(np.dot(op[1:], past))
        return out

    def _extra_state(self) -> dict[str, Any]:
        return {"aic": self.aic, "converged": self.converged}

    def _restore_extra(self, state: dict[str, Any]) -> None:
        self.aic = float(state["aic"])
        self.converged = bool(state["converged"])


def difference_operator(d: int, seasonal_d: int, s: int) -> np.ndarray:
    """Coefficients c_0..c_k (c_0 = 1) of (1 - B)^d (1 - B^s)^D in powers of B."""
    op = np.array([1.0])
    for _ in range(d):
        op = np.convolve(op, [1.0, -1.0])
    seasonal = np.zeros(s + 1)
    seasonal[[0, s]] = 1.0, -1.0
    for _ in range(seasonal_d):
        op = np.convolve(op, seasonal)
    return op


def undifference(history: np.ndarray, diffs: np.ndarray, op: np.ndarray) -> np.ndarray:
    """Prices from forecast differences: y_t = w_t - sum_{j>=1} c_j y_{t-j}."""
    k = op.size - 1
    recent = list(history[-k:]) if k else []
    out = np.empty(diffs.size)
    for i, w in enumerate(diffs):
        past = np.asarray(recent[::-1][:k])  # y_{t-1}, y_{t-2}, ...
        out[i] = w - float(np.dot(op[1:], past)) if k else w
        recent.append(out[i])
    return out


def integrated_variance(results: Any, op: np.ndarray, h: int) -> np.ndarray:
    """Forecast-error variance of the integrated model: sigma2 * cumsum(psi^2)."""
    from statsmodels.tsa.arima_process import arma2ma

    ar = np.convolve(
        np.convolve(results.polynomial_ar, results.polynomial_seasonal_ar), op
    )
    ma = np.convolve(results.polynomial_ma, results.polynomial_seasonal_ma)
    psi = arma2ma(ar, ma, lags=h)
    sigma2 = float(results.params[results.model.param_names.index("sigma2")])
    return sigma2 * np.cumsum(psi**2)
