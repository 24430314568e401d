"""The training task's total time beside the bare library doing the same fits.

Data: the stored sample BTC-USD 1h candles (loaded as on first start), the most
recent 2,000 bars for each fit. The task (``start_training`` + the task body
``run_training``, in-process, no broker) does a 5-fold walk-forward evaluation
(24-bar horizon, each fold fitted on the 2,000 bars before it) plus the final fit
on the last 2,000 bars, saves the artefact and stores metrics, audit rows and
progress. The reference does the same six fits and 24-step forecasts by calling
the library directly on numpy arrays: the ratio task / bare is the whole
framework's overhead (candle loading, progress rows and pushes, metrics,
artefact, audit), and task - bare its absolute cost; for the naive model,
whose fit is microseconds, that fixed cost is the whole task. A single bare fit is
shown too. Our ARIMA also runs one Kalman filter pass after estimation (so a
reloaded artefact forecasts bit for bit what the fitted model did).

Models: naive (numpy), ARIMA(5,1,0) (statsmodels), Prophet (defaults of our
forecaster: daily and weekly seasonality; the bare call uses Prophet's defaults
with ``uncertainty_samples=0``, our forecaster's interval method).

Run: ``.venv/bin/python benchmarks/bench_training_task.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import setup  # noqa: E402

BARS, HORIZON, FOLDS = 2000, 24, 5
ALGORITHMS = {
    "naive": {},
    "arima": {"p": 5, "d": 1, "q": 0},
    "prophet": {},
}


def bare_fit(name: str, y: np.ndarray, times: np.ndarray) -> None:
    """One fit and a 24-step forecast by the library itself."""
    if name == "naive":
        last = y[-1]
        sigma = np.sqrt(np.mean(np.diff(y) ** 2))
        _ = last + 1.96 * sigma * np.sqrt(np.arange(1, HORIZON + 1))
    elif name == "arima":
        from statsmodels.tsa.arima.model import ARIMA

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ARIMA(y, order=(5, 1, 0)).fit().get_forecast(HORIZON).summary_frame()
    else:
        import logging

        import pandas as pd
        from prophet import Prophet

        logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
        df = pd.DataFrame({"ds": pd.to_datetime(times, unit="s"), "y": y})
        model = Prophet(uncertainty_samples=0).fit(df)
        future = model.make_future_dataframe(HORIZON, freq="h", include_history=False)
        model.predict(future)


def windows(y: np.ndarray, t: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The same training windows the task fits: 5 folds, then the final fit."""
    n = y.size
    cutoffs = [n - HORIZON - (FOLDS - 1 - i) * HORIZON for i in range(FOLDS)]
    fits = [(y[c - BARS : c], t[c - BARS : c]) for c in cutoffs]
    return [*fits, (y[-BARS:], t[-BARS:])]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    setup(redis_db=12)
    from apps.accounts.models import User
    from apps.market.models import Asset
    from apps.market.sample_data import load_sample_data
    from apps.market.services import load_arrays
    from apps.mlmodels import services

    load_sample_data()
    user = User.objects.create_user(email="bench@example.com", password="x" * 12)
    asset = Asset.objects.get(symbol="BTC-USD", owner=None)
    data = load_arrays(asset, "1h")
    y = data["close"][-(BARS + FOLDS * HORIZON) :]
    t = data["time"][-(BARS + FOLDS * HORIZON) :]
    print(f"BTC-USD 1h: {y.size} bars loaded, {BARS} per fit, {FOLDS} folds + final")
    print(
        f"{'model':<8} {'task s':>8} {'bare 6 fits s':>14} {'ratio':>8} "
        f"{'overhead s':>11} {'1 bare fit s':>13}"
    )
    for name, params in ALGORITHMS.items():
        bare_fit(name, y[-BARS:], t[-BARS:])  # warm: imports out of the timing
        task, bare, single = [], [], []
        for i in range(args.repeat):
            model = services.create_model(
                owner=user,
                spec=services.ModelSpec(
                    name=f"{name} {i}",
                    algorithm=name,
                    symbol="BTC-USD",
                    timeframe="1h",
                    params=dict(params),
                    horizon=HORIZON,
                    folds=FOLDS,
                    max_train_bars=BARS,
                ),
            )
            start = time.perf_counter()
            run = services.start_training(model=model, actor=user, enqueue=False)
            run = services.run_training(run_id=run.pk)
            task.append(time.perf_counter() - start)
            assert run is not None and run.status == "trained", run and run.error
            start = time.perf_counter()
            for wy, wt in windows(y, t):
                bare_fit(name, wy, wt)
            bare.append(time.perf_counter() - start)
            start = time.perf_counter()
            bare_fit(name, y[-BARS:], t[-BARS:])
            single.append(time.perf_counter() - start)
        ts, bs, ss = (statistics.median(v) for v in (task, bare, single))
        print(
            f"{name:<8} {ts:>8.3f} {bs:>14.4f} {ts / bs:>8.1f} {ts - bs:>11.3f} "
            f"{ss:>13.4f}"
        )
    print(f"medians of {args.repeat} runs; task = start_training + run_training")


if __name__ == "__main__":
    main()
