"""Fit and 24-step forecast time, and peak memory, of every forecaster.

Data: the stored Bitfinex BTC-USD hourly candles (newest-first file, reversed),
closing prices, the most recent 2,000 and 10,000 bars.

Each measurement runs in its own subprocess, so imports and peak memory (the
child's own ``ru_maxrss``) are per algorithm. Beside each of our forecasters the
same model is fitted by calling the library directly on the same data ("lib"):
the ratio ours/lib is our wrapper's overhead and should be near 1. Where ours does
more than the bare call, the table says so:

* sarima-fast: ours also turns the forecast differences back into prices
  (the bare ``simple_differencing`` results forecast differences only);
* lstm: ours also scores the validation windows (for the intervals); the lib
  forecast column is ``model.predict()`` called 24 times, the slow path we avoid.

SARIMA is capped at its default training window (``max_train`` = 2,000 bars) at both
sizes: uncapped, the full state-space SARIMA(1,1,1)(1,1,1,24) takes about 47 s and
3.4 GB on 10k bars. Import time is measured separately and excluded from fit time.

Run: ``python benchmarks/bench_models.py`` from the repository root (a few minutes).
"""

from __future__ import annotations

import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(
    os.environ.get(
        "AAITI_BENCH_CSV", "/work/shared/data/market/bitfinex-1h-btc-usd.csv"
    )
)
SIZES = (2000, 10000)
HORIZON = 24
SARIMA_CAP = 2000
LSTM = {"window": 60, "units": 32, "epochs": 5, "patience": 0, "random_seed": 42}
SARIMA = {"p": 1, "d": 1, "q": 1, "P": 1, "D": 1, "Q": 1, "s": 24}
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "naive": ("naive", {}),
    "seasonal_naive": ("seasonal_naive", {"season": 24}),
    "drift": ("drift", {}),
    "arima(5,1,0)": ("arima", {"p": 5, "d": 1, "q": 0}),
    "sarima": ("sarima", {**SARIMA, "max_train": SARIMA_CAP}),
    "sarima-fast": (
        "sarima",
        {**SARIMA, "max_train": SARIMA_CAP, "simple_differencing": True},
    ),
    "prophet": ("prophet", {}),
    "lstm(32) w60 5ep": ("lstm", LSTM),
}


def load_closes(n: int) -> tuple[np.ndarray, list[str]]:
    with DATA.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows.reverse()  # the file is newest first
    rows = rows[-n:]
    return np.array([float(r["Close"]) for r in rows]), [r["Date"] for r in rows]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def fit_time(fit: Callable[[], Any]) -> tuple[float, Any]:
    """Median of three fits when one is quick (< 2 s), else the single fit."""
    seconds, fitted = timed(fit)
    if seconds >= 2:
        return seconds, fitted
    more = [timed(fit) for _ in range(2)]
    return statistics.median([seconds] + [m[0] for m in more]), more[-1][1]


def forecast_times(fn: Callable[[], Any], repeats: int = 5) -> tuple[float, float]:
    """First call (includes any tracing) and the median of the next ``repeats``."""
    first, _ = timed(fn)
    rest = [timed(fn)[0] for _ in range(repeats)]
    return first, statistics.median(rest)


# -- children --------------------------------------------------------------------
def run_ours(case: str, n: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from apps.mlmodels.forecasters import create

    name, params = CASES[case]
    y, dates = load_closes(n)
    stamps = np.array(dates, dtype="datetime64[s]") if name == "prophet" else None
    import_s = _import_library(name)
    base_mb = peak_mb()
    model = create(name, params)
    fit_s, _ = fit_time(lambda: model.fit(y, stamps))
    first, steady = forecast_times(lambda: model.forecast(HORIZON))
    return {
        "import_s": import_s,
        "base_mb": base_mb,
        "fit_s": fit_s,
        "fc_first_s": first,
        "fc_s": steady,
        "peak_mb": peak_mb(),
    }


def _import_library(name: str) -> float:
    modules = {
        "arima": "statsmodels.tsa.arima.model",
        "sarima": "statsmodels.tsa.statespace.sarimax",
        "prophet": "prophet",
        "lstm": "keras",
    }
    if name not in modules:
        return 0.0
    import importlib

    return timed(lambda: importlib.import_module(modules[name]))[0]


def run_bare(case: str, n: int) -> dict[str, Any]:
    name, params = CASES[case]
    y, dates = load_closes(n)
    import_s = _import_library(name)
    base_mb = peak_mb()
    fit, forecast = BARE[name](y, dates, params)
    fit_s, fitted = fit_time(fit)
    first, steady = forecast_times(
        lambda: forecast(fitted), repeats=1 if name == "lstm" else 5
    )
    return {
        "import_s": import_s,
        "base_mb": base_mb,
        "fit_s": fit_s,
        "fc_first_s": first,
        "fc_s": steady,
        "peak_mb": peak_mb(),
    }


def _bare_naive(y: np.ndarray, dates: list[str], params: dict[str, Any]) -> Any:
    return (lambda: y[-1]), (lambda last: np.full(HORIZON, last))


def _bare_seasonal(y: np.ndarray, dates: list[str], params: dict[str, Any]) -> Any:
    m = params["season"]
    return (lambda: y[-m:].copy()), (lambda s: s[np.arange(HORIZON) % m])


def _bare_drift(y: np.ndarray, dates: list[str], params: dict[str, Any]) -> Any:
    def fit() -> tuple[float, float]:
        return y[-1], (y[-1] - y[0]) / (y.size - 1)

    return fit, (lambda f: f[0] + f[1] * np.arange(1, HORIZON + 1))


def _bare_arima(y: np.ndarray, dates: list[str], params: dict[str, Any]) -> Any:
    import warnings

    from statsmodels.tsa.arima.model import ARIMA

    warnings.simplefilter("ignore")
    order = (params["p"], params["d"], params["q"])
    return (lambda: ARIMA(y, order=order).fit()), (
        lambda r: r.get_forecast(HORIZON).conf_int(alpha=0.05)
    )


def _bare_sarima(y: np.ndarray, dates: list[str], params: dict[str, Any]) -> Any:
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    warnings.simplefilter("ignore")
    window = y[-params["max_train"] :]
    model = SARIMAX(
        window,
        order=(params["p"], params["d"], params["q"]),
        seasonal_order=(params["P"], params["D"], params["Q"], params["s"]),
        simple_differencing=params.get("simple_differencing", False),
    )
    return (lambda: model.fit(disp=False)), (
        lambda r: r.get_forecast(HORIZON).conf_int(alpha=0.05)
    )


def _bare_prophet(y: np.ndarray, dates: list[str], params: dict[str, Any]) -> Any:
    import logging

    import pandas as pd
    from prophet import Prophet

    logging.getLogger("cmdstanpy").disabled = True
    frame = pd.DataFrame({"ds": pd.to_datetime(dates), "y": y})

    def fit() -> Any:
        model = Prophet()
        return model.fit(frame)

    def forecast(model: Any) -> Any:
        future = model.make_future_dataframe(HORIZON, freq="h", include_history=False)
        return model.predict(future)

    return fit, forecast


def _bare_lstm(y: np.ndarray, dates: list[str], params: dict[str, Any]) -> Any:
    import keras

    w = params["window"]
    keras.utils.set_random_seed(params["random_seed"])
    z = np.diff(y)
    z = (z - z.mean()) / z.std()
    view = np.lib.stride_tricks.sliding_window_view(z, w + 1)
    x, t = view[:, :w, None].astype(np.float32), view[:, w].astype(np.float32)
    split = int(len(x) * 0.8)

    def fit() -> Any:
        model = keras.Sequential(
            [
                keras.Input((w, 1)),
                keras.layers.LSTM(params["units"]),
                keras.layers.Dense(1),
            ]
        )
        model.compile(optimizer="adam", loss="mse")
        model.fit(
            x[:split],
            t[:split],
            validation_data=(x[split:], t[split:]),
            epochs=params["epochs"],
            batch_size=32,
            verbose=0,
        )
        return model

    def forecast(model: Any) -> np.ndarray:
        window = z[-w:].astype(np.float32)
        out = []
        for _ in range(HORIZON):
            value = float(model.predict(window[None, :, None], verbose=0)[0, 0])
            out.append(value)
            window = np.append(window[1:], np.float32(value))
        return np.array(out)

    return fit, forecast


BARE = {
    "naive": _bare_naive,
    "seasonal_naive": _bare_seasonal,
    "drift": _bare_drift,
    "arima": _bare_arima,
    "sarima": _bare_sarima,
    "prophet": _bare_prophet,
    "lstm": _bare_lstm,
}


# -- parent ------------------------------------------------------------------------
def child(kind: str, case: str, n: int) -> dict[str, Any]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(  # noqa: S603 - our own script and interpreter
        [sys.executable, __file__, "--child", kind, case, str(n)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{kind} {case} {n} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt_s(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds >= 0.001 else f"{seconds * 1e6:.0f}us"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def main() -> None:
    header = (
        f"{'model':<18}{'bars':>6}{'fit ours s':>11}{'fit lib s':>10}{'ratio':>7}"
        f"{'fc24 ours ms':>13}{'(1st)':>8}{'fc24 lib ms':>12}"
        f"{'peak ours MB':>13}{'peak lib MB':>12}{'import s':>9}"
    )
    print(f"data: {DATA.name}, horizon {HORIZON}, SARIMA window cap {SARIMA_CAP}")
    print(header)
    print("-" * len(header))
    for case in CASES:
        for n in SIZES:
            ours, bare = child("ours", case, n), child("bare", case, n)
            ratio = (
                ours["fit_s"] / bare["fit_s"] if bare["fit_s"] > 1e-4 else float("nan")
            )
            print(
                f"{case:<18}{n:>6}{fmt_s(ours['fit_s']):>11}{fmt_s(bare['fit_s']):>10}"
                f"{ratio:>7.2f}{fmt_ms(ours['fc_s']):>13}{fmt_ms(ours['fc_first_s']):>8}"
                f"{fmt_ms(bare['fc_s']):>12}{ours['peak_mb']:>13.0f}"
                f"{bare['peak_mb']:>12.0f}{ours['import_s']:>9.2f}",
                flush=True,
            )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        runner = run_ours if sys.argv[2] == "ours" else run_bare
        print(json.dumps(runner(sys.argv[3], int(sys.argv[4]))))
    else:
        main()
