from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.backtests import indicators as ind
from apps.backtests.strategies import STRATEGIES, StrategyParamError, get_strategy
from tests.backtests.helpers import bars, random_walk

FAST = settings(max_examples=50, deadline=None)
NAMES = sorted(STRATEGIES)
SMALL = {  # windows short enough that random walks of ~100 bars trade
    "sma_cross": {"fast": 3, "slow": 8},
    "ema_cross": {"fast": 3, "slow": 8},
    "rsi_reversion": {"period": 5, "lower": 40, "upper": 60},
    "bollinger": {"period": 6, "k": 1.0},
    "macd": {"fast": 3, "slow": 8, "signal": 4},
    "donchian": {"entry": 6, "exit": 3},
}


def _signals(
    name: str, data: object, allow_short: bool, **params: object
) -> np.ndarray:
    strategy = get_strategy(name)
    extra: dict[str, object] = dict(SMALL.get(name, {}), **params)
    if name == "model_forecast":
        closes = data.close  # type: ignore[attr-defined]
        extra["predictions"] = closes * (1 + np.sin(np.arange(len(closes))) / 50)
    if any(p.name == "allow_short" for p in strategy.params):
        extra["allow_short"] = allow_short
    return strategy.signals(data, **extra)  # type: ignore[arg-type]


def test_registry_lists_every_strategy_with_json_params() -> None:
    expected = {
        "buy_and_hold",
        "sma_cross",
        "ema_cross",
        "rsi_reversion",
        "bollinger",
        "macd",
        "donchian",
        "model_forecast",
    }
    assert set(STRATEGIES) == expected
    for strategy in STRATEGIES.values():
        assert strategy.name and strategy.label
        json.dumps(strategy.as_dict())
        assert strategy.validate({}) == {p.name: p.default for p in strategy.params}


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("sma_cross", {"fast": 30, "slow": 10}, "fast: must be < slow \\(10\\)"),
        ("ema_cross", {"fast": 0}, "fast: must be int in \\[1, 5000\\], got 0"),
        ("sma_cross", {"fast": 2.5}, "fast: must be an integer"),
        ("sma_cross", {"fast": "10"}, "fast: must be a number"),
        ("sma_cross", {"speed": 3}, "speed: unknown parameter"),
        ("rsi_reversion", {"lower": 80}, "lower: must be < upper"),
        ("donchian", {"entry": 10, "exit": 20}, "exit: must be <= entry"),
        ("bollinger", {"allow_short": 1}, "allow_short: must be true or false"),
        ("bollinger", {"k": float("nan")}, "k: must be float in"),
    ],
)
def test_bad_params_raise_errors_naming_the_param(
    name: str, params: dict[str, object], message: str
) -> None:
    with pytest.raises(StrategyParamError, match=message) as err:
        get_strategy(name).signals(random_walk(1, 50), **params)
    assert isinstance(err.value, ValueError)


def test_unknown_strategy_and_missing_predictions_are_clear() -> None:
    with pytest.raises(StrategyParamError, match="unknown 'nope'"):
        get_strategy("nope")
    with pytest.raises(StrategyParamError, match="predictions: this strategy needs"):
        get_strategy("model_forecast").signals(random_walk(1, 5))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_short_inputs_give_flat_warm_up_never_nan(name: str, n: int) -> None:
    target = _signals(name, random_walk(3, n), allow_short=True)
    assert target.shape == (n,)
    assert not np.any(np.isnan(target))
    if name not in ("buy_and_hold", "model_forecast"):
        assert np.all(target == 0)


@pytest.mark.parametrize("name", NAMES)
def test_every_strategy_trades_a_random_walk_within_bounds(name: str) -> None:
    target = _signals(name, random_walk(11, 400), allow_short=True)
    assert set(np.unique(target)) <= {-1.0, 0.0, 1.0}
    assert len(np.unique(target)) >= 2 or name == "buy_and_hold"


@FAST
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 150), cut=st.floats(0, 1))
def test_no_strategy_looks_ahead(seed: int, n: int, cut: float) -> None:
    data = random_walk(seed, n)
    other = random_walk(seed + 1, n)
    t = min(int(cut * n), n - 1)
    spliced = bars(
        np.concatenate((data.open[: t + 1], other.open[t + 1 :])),
        np.concatenate((data.close[: t + 1], other.close[t + 1 :])),
        np.concatenate((data.high[: t + 1], other.high[t + 1 :])),
        np.concatenate((data.low[: t + 1], other.low[t + 1 :])),
    )
    for name in NAMES:
        for allow_short in (False, True):
            first = _signals(name, data, allow_short)[: t + 1]
            second = _signals(name, spliced, allow_short)[: t + 1]
            np.testing.assert_array_equal(first, second, err_msg=name)


def test_sma_cross_hand_computed() -> None:
    close = np.array([1, 2, 3, 4, 3, 2, 1, 2, 3], dtype=float)
    target = get_strategy("sma_cross").signals(
        bars(close, close), fast=2, slow=3, allow_short=True
    )
    # sma2: -, 1.5, 2.5, 3.5, 3.5, 2.5, 1.5, 1.5, 2.5
    # sma3: -, -,   2,   3,   3.33, 3, 2,   1.67, 2
    assert target.tolist() == [0, 0, 1, 1, 1, -1, -1, -1, 1]
    long_only = get_strategy("sma_cross").signals(bars(close, close), fast=2, slow=3)
    assert long_only.tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 1]


def test_model_forecast_trades_only_beyond_threshold() -> None:
    close = np.full(5, 100.0)
    predictions = np.array([100.05, 100.2, 99.8, np.nan, 99.95])
    strategy = get_strategy("model_forecast")
    data = bars(close, close)
    target = strategy.signals(data, predictions=predictions, threshold_bps=10)
    assert target.tolist() == [0, 1, 0, 0, 0]
    short = strategy.signals(
        data, predictions=predictions, threshold_bps=10, allow_short=True
    )
    assert short.tolist() == [0, 1, -1, 0, 0]


def test_indicators_match_independent_computations() -> None:
    x = random_walk(5, 300).close
    naive_sma = np.array(
        [x[i - 9 : i + 1].mean() if i >= 9 else np.nan for i in range(300)]
    )
    np.testing.assert_allclose(ind.sma(x, 10), naive_sma, rtol=1e-10)
    alpha, e = 2 / 11, [x[0]]
    for v in x[1:]:
        e.append(alpha * v + (1 - alpha) * e[-1])
    np.testing.assert_allclose(ind.ema(x, 10)[9:], e[9:], rtol=1e-12)
    assert np.all(np.isnan(ind.ema(x, 10)[:9]))
    ref = pd.Series(x).rolling(7).max().shift(1).to_numpy()
    np.testing.assert_array_equal(ind.shift(ind.rolling_max(x, 7)), ref)


def test_rsi_matches_wilder_recursion() -> None:
    x = random_walk(6, 120).close
    n, gain, loss = 14, 0.0, 0.0
    expected = []
    for i in range(1, x.shape[0]):
        d = x[i] - x[i - 1]
        gain = gain + (max(d, 0) - gain) / n
        loss = loss + (max(-d, 0) - loss) / n
        expected.append(100 - 100 / (1 + gain / loss) if loss else 100.0)
    np.testing.assert_allclose(ind.rsi(x, n)[n:], expected[n - 1 :], rtol=1e-9)


def test_hold_state_enters_and_leaves() -> None:
    enter = np.array([0, 1, 0, 0, 0, 1, 1, 0], dtype=bool)
    leave = np.array([1, 0, 0, 1, 0, 1, 0, 0], dtype=bool)
    assert ind.hold_state(enter, leave).tolist() == [0, 1, 1, 0, 0, 1, 1, 1]


def test_bollinger_and_donchian_hand_cases() -> None:
    close = np.array([10, 10, 10, 10, 7, 8, 11, 10], dtype=float)
    target = get_strategy("bollinger").signals(bars(close, close), period=4, k=1.0)
    assert target.tolist() == [0, 0, 0, 0, 1, 1, 0, 0]
    up = np.array([10, 10, 10, 12, 13, 11, 9, 9], dtype=float)
    target = get_strategy("donchian").signals(bars(up, up), entry=3, exit=2)
    assert target.tolist() == [0, 0, 0, 1, 1, 0, 0, 0]  # 11 < min(12, 13)
