"""Forecasters against hand computation and against their libraries called directly."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from apps.mlmodels import forecasters
from apps.mlmodels.forecasters import (
    Cancelled,
    NotFittedError,
    ParamError,
    create,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[2]
Z95 = 1.959963984540054  # scipy.stats.norm.ppf(0.975)
Z80 = 1.2815515655446004  # scipy.stats.norm.ppf(0.9)


def random_walk(n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100 + np.cumsum(rng.normal(0, 1, n))


def seasonal_series(n: int, period: int = 4, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    season = 2 * np.sin(2 * np.pi * np.arange(n) / period)
    return 50 + np.cumsum(rng.normal(0, 0.5, n)) + season


# -- registry -------------------------------------------------------------------
def test_registry_import_loads_no_heavy_library() -> None:
    code = (
        "import sys, json\n"
        "import apps.mlmodels.forecasters, apps.mlmodels.evaluation\n"
        "heavy = ('statsmodels', 'prophet', 'tensorflow', 'keras', 'cmdstanpy')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    out = subprocess.run(  # noqa: S603 - fixed argv, our own interpreter
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == []


def test_registry_lists_every_algorithm_with_param_specs() -> None:
    names = [entry["name"] for entry in forecasters.describe()]
    assert names == [
        "naive",
        "seasonal_naive",
        "drift",
        "arima",
        "sarima",
        "prophet",
        "lstm",
    ]
    for entry in forecasters.describe():
        for spec in entry["params"]:
            assert set(spec) >= {"name", "type", "default", "min", "max", "help"}
            # Every default passes its own validation.
            forecasters.validate(entry["name"], {spec["name"]: spec["default"]})


def test_unknown_algorithm_is_a_param_error() -> None:
    with pytest.raises(ParamError, match="algorithm must be one of") as info:
        forecasters.get("garch")
    assert info.value.field == "algorithm"


# -- parameter validation --------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "params", "field", "message"),
    [
        ("arima", {"p": 9}, "p", "order p must be an integer from 0 to 5"),
        ("arima", {"p": 1.5}, "p", "order p must be an integer from 0 to 5"),
        ("arima", {"p": True}, "p", "order p must be an integer from 0 to 5"),
        (
            "arima",
            {"search": "yes"},
            "search",
            "AIC order search must be true or false",
        ),
        ("arima", {"trend": "x"}, "trend", "trend must be one of: auto, n, c, t, ct"),
        (
            "arima",
            {"d": 1, "trend": "c"},
            "trend",
            "trend 'c' is not allowed with d = 1",
        ),
        ("arima", {"bogus": 1}, "bogus", "unknown parameter 'bogus'"),
        ("sarima", {"s": 4, "p": 4}, "p", "order p must be below the season length 4"),
        ("sarima", {"s": 1}, "s", "season length s must be an integer from 2 to 168"),
        ("lstm", {"learning_rate": 0.5}, "learning_rate", "from 1e-05 to 0.1"),
        ("lstm", {"window": float("nan")}, "window", "window must be an integer"),
        (
            "prophet",
            {"changepoint_prior_scale": "big"},
            "changepoint_prior_scale",
            "a number",
        ),
    ],
)
def test_invalid_params_name_the_field(
    name: str, params: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(ParamError) as info:
        create(name, params)
    assert info.value.field == field
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bad_series_level_and_horizon_are_param_errors() -> None:
    model = create("naive")
    with pytest.raises(ParamError, match="NaN"):
        model.fit([1.0, float("nan"), 2.0])
    with pytest.raises(ParamError, match="at least 2 points"):
        model.fit([1.0])
    with pytest.raises(ParamError, match="one-dimensional"):
        model.fit([[1.0, 2.0]])
    with pytest.raises(NotFittedError):
        model.forecast(3)
    model.fit([1.0, 2.0, 3.0])
    with pytest.raises(ParamError, match="80 or 95"):
        model.forecast(3, level=0.9)
    with pytest.raises(ParamError, match="horizon h"):
        model.forecast(0)
    assert model.forecast(3, level=80).level == 0.80


# -- baselines, by hand ----------------------------------------------------------
def test_naive_repeats_last_value_with_sqrt_h_bands() -> None:
    y = [1.0, 2.0, 4.0, 7.0]
    fc = create("naive").fit(y).forecast(3, level=0.95)
    sigma = np.sqrt((1 + 4 + 9) / 3)  # RMS of the one-step changes 1, 2, 3
    np.testing.assert_allclose(fc.mean, [7, 7, 7])
    half = Z95 * sigma * np.sqrt([1, 2, 3])
    np.testing.assert_allclose(fc.upper, 7 + half, rtol=1e-12)
    np.testing.assert_allclose(fc.lower, 7 - half, rtol=1e-12)


def test_seasonal_naive_repeats_last_season() -> None:
    y = [1.0, 2.0, 3.0, 10.0, 20.0, 30.0]
    fc = create("seasonal_naive", {"season": 3}).fit(y).forecast(5, level=80)
    np.testing.assert_allclose(fc.mean, [10, 20, 30, 10, 20])
    sigma = np.sqrt((9**2 + 18**2 + 27**2) / 3)
    k = np.array([1, 1, 1, 2, 2])  # whole seasons ahead, plus one
    np.testing.assert_allclose(fc.upper - fc.mean, Z80 * sigma * np.sqrt(k), rtol=1e-12)


def test_drift_extends_average_change() -> None:
    y = [1.0, 2.0, 4.0, 7.0]  # slope (7 - 1) / 3 = 2; residuals -1, 0, 1
    fc = create("drift").fit(y).forecast(2)
    np.testing.assert_allclose(fc.mean, [9, 11])
    sigma = 1.0  # sqrt(2 / (4 - 2))
    spread = np.sqrt([1 * (1 + 1 / 3), 2 * (1 + 2 / 3)])
    np.testing.assert_allclose(fc.upper - fc.mean, Z95 * sigma * spread, rtol=1e-12)


def test_forecast_timestamps_follow_the_last_one_in_utc() -> None:
    start = datetime(2024, 3, 1, tzinfo=UTC)
    stamps = [start + timedelta(hours=i) for i in range(5)]
    fc = create("naive").fit(np.arange(5.0), stamps).forecast(2)
    assert fc.timestamps is not None
    assert [str(t) for t in fc.timestamps] == [
        "2024-03-01T05:00:00",
        "2024-03-01T06:00:00",
    ]
    assert fc.as_dict()["timestamps"] == [
        "2024-03-01T05:00:00Z",
        "2024-03-01T06:00:00Z",
    ]
    fc4 = create("naive").fit(np.arange(5.0), stamps, freq="4h").forecast(1)
    assert str(fc4.timestamps[0]) == "2024-03-01T08:00:00"


# -- statistical models vs the library directly -------------------------------------
def _statsmodels_fit(model: object) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit()  # type: ignore[attr-defined]


@pytest.mark.parametrize("level", [0.80, 0.95])
def test_arima_matches_statsmodels(level: float) -> None:
    from statsmodels.tsa.arima.model import ARIMA

    y = random_walk(300)
    ours = create("arima", {"p": 2, "d": 1, "q": 1}).fit(y).forecast(12, level)
    ref = _statsmodels_fit(ARIMA(y, order=(2, 1, 1))).get_forecast(12)
    band = ref.conf_int(alpha=1 - level)
    np.testing.assert_allclose(ours.mean, ref.predicted_mean, rtol=1e-10)
    np.testing.assert_allclose(ours.lower, band[:, 0], rtol=1e-10)
    np.testing.assert_allclose(ours.upper, band[:, 1], rtol=1e-10)


def test_arima_search_picks_lowest_aic_order() -> None:
    from statsmodels.tsa.arima.model import ARIMA

    y = random_walk(200, seed=11)
    model = create("arima", {"p": 2, "d": 1, "q": 1, "search": True}).fit(y)
    aics = {
        (p, 1, q): _statsmodels_fit(ARIMA(y, order=(p, 1, q))).aic
        for p, q in itertools.product(range(3), range(2))
    }
    best = min(aics, key=aics.__getitem__)
    assert model.selected_order == best
    assert model.aic == pytest.approx(aics[best], rel=1e-12)


SARIMA_PARAMS = {"p": 1, "d": 1, "q": 0, "P": 1, "D": 1, "Q": 0, "s": 4, "max_train": 0}


def test_sarima_matches_sarimax() -> None:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    y = seasonal_series(120)
    ours = create("sarima", SARIMA_PARAMS).fit(y).forecast(8)
    model = SARIMAX(y, order=(1, 1, 0), seasonal_order=(1, 1, 0, 4), trend="n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = model.fit(disp=False).get_forecast(8)
    np.testing.assert_allclose(ours.mean, ref.predicted_mean, rtol=1e-10)
    np.testing.assert_allclose(ours.lower, ref.conf_int(alpha=0.05)[:, 0], rtol=1e-10)


def test_sarima_simple_differencing_forecasts_prices_with_sarimax_params() -> None:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    y = seasonal_series(120)
    params = {**SARIMA_PARAMS, "simple_differencing": True}
    ours = create("sarima", params).fit(y)
    spec = {"order": (1, 1, 0), "seasonal_order": (1, 1, 0, 4), "trend": "n"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = SARIMAX(y, simple_differencing=True, **spec).fit(disp=False)
        full = SARIMAX(y, **spec).filter(fast.params).get_forecast(8)
    np.testing.assert_allclose(ours.fitted_params, fast.params, rtol=1e-10)
    # Undo (1 - B)(1 - B^4) by hand: y_t = w_t + y_{t-1} + y_{t-4} - y_{t-5}.
    prices = list(y)
    for w in fast.get_forecast(8).predicted_mean:
        prices.append(w + prices[-1] + prices[-4] - prices[-5])
    fc = ours.forecast(8)
    np.testing.assert_allclose(fc.mean, prices[-8:], rtol=1e-12)
    # Same prices as the full model filtered with these parameters; bands close.
    np.testing.assert_allclose(fc.mean, full.predicted_mean, rtol=1e-6)
    full_half = full.conf_int(alpha=0.05)[:, 1] - full.predicted_mean
    np.testing.assert_allclose(fc.upper - fc.mean, full_half, rtol=0.05)


def test_sarima_training_cap_uses_only_recent_bars() -> None:
    y = seasonal_series(160)
    capped = create("sarima", {**SARIMA_PARAMS, "max_train": 100}).fit(y)
    recent = create("sarima", SARIMA_PARAMS).fit(y[-100:])
    np.testing.assert_array_equal(capped.forecast(4).mean, recent.forecast(4).mean)


def _hourly(n: int) -> list[datetime]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [start + timedelta(hours=i) for i in range(n)]


def test_prophet_matches_prophet_directly() -> None:
    import pandas as pd
    from prophet import Prophet

    y = seasonal_series(200, period=24)
    stamps = _hourly(200)
    ours = create("prophet", {"random_seed": 5}).fit(y, stamps).forecast(6, 0.80)
    ref_model = Prophet(interval_width=0.80)
    frame = pd.DataFrame({"ds": pd.to_datetime(stamps).tz_localize(None), "y": y})
    ref_model.fit(frame)
    future = ref_model.make_future_dataframe(periods=6, freq="h", include_history=False)
    np.random.seed(5)
    ref = ref_model.predict(future)
    np.testing.assert_allclose(ours.mean, ref["yhat"], rtol=1e-9)
    np.testing.assert_allclose(ours.lower, ref["yhat_lower"], rtol=1e-9)
    np.testing.assert_allclose(ours.upper, ref["yhat_upper"], rtol=1e-9)
    assert [str(t) for t in ours.timestamps[:1]] == ["2024-01-09T08:00:00"]


def test_prophet_without_timestamps_uses_a_synthetic_hourly_clock() -> None:
    y = seasonal_series(120, period=24)
    fc = create("prophet").fit(y).forecast(3)
    assert fc.timestamps is None
    assert np.all(np.isfinite(fc.mean)) and np.all(fc.lower < fc.upper)


# -- LSTM -----------------------------------------------------------------------------
TINY_LSTM = {"window": 16, "units": 8, "epochs": 2, "batch_size": 32, "random_seed": 1}


def test_lstm_same_seed_same_forecast() -> None:
    y = random_walk(200, seed=5)
    first = create("lstm", TINY_LSTM).fit(y).forecast(24)
    second = create("lstm", TINY_LSTM).fit(y).forecast(24)
    np.testing.assert_array_equal(first.mean, second.mean)
    np.testing.assert_array_equal(first.upper, second.upper)
    # Bands widen with the horizon and bracket the mean.
    width = first.upper - first.lower
    assert np.all(np.diff(width) > 0)
    assert np.all(first.lower < first.mean) and np.all(first.mean < first.upper)


def test_lstm_reports_epochs_and_forecasts_without_predict() -> None:
    y = random_walk(200, seed=6)
    seen: list[tuple[int, int]] = []
    model = create("lstm", TINY_LSTM).fit(y, on_epoch=lambda i, k: seen.append((i, k)))
    assert seen == [(1, 2), (2, 2)]

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("model.predict() is the slow path")

    model.model.predict = forbidden
    assert model.forecast(24).horizon == 24


def test_lstm_cancel_stops_training() -> None:
    epochs: list[int] = []
    with pytest.raises(Cancelled):
        create("lstm", {**TINY_LSTM, "epochs": 5}).fit(
            random_walk(200),
            on_epoch=lambda i, k: epochs.append(i),
            should_cancel=lambda: len(epochs) >= 1,
        )
    assert epochs == [1]
