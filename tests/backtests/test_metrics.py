from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from apps.backtests.engine import BacktestConfig, BacktestResult, run_backtest
from apps.backtests.metrics import compute_metrics, drawdown_stats, periods_per_year
from tests.backtests.helpers import bars, random_targets, random_walk


def with_equity(
    equity: list[float], capital: float = 100.0
) -> tuple[BacktestResult, object]:
    """A flat backtest whose equity curve is replaced by a known one."""
    n = len(equity)
    data = bars(np.full(n, 10.0), np.linspace(10.0, 20.0, n))
    result = run_backtest(data, np.zeros(n), BacktestConfig(initial_capital=capital))
    return dataclasses.replace(result, equity=np.asarray(equity, dtype=float)), data


def test_periods_per_year_for_round_the_clock_markets() -> None:
    assert periods_per_year("1h") == 8760
    assert periods_per_year("1d") == 365
    assert periods_per_year(900) == 35_040


def test_max_drawdown_of_a_known_curve() -> None:
    # peak 120 at bar 3, trough 60 at bar 4: -50 %, never recovered by bar 5
    stats = drawdown_stats(np.array([110.0, 90, 95, 120, 60, 70]), 100.0)
    assert stats == {"max_drawdown": -0.5, "max_drawdown_bars": 2}
    # peak 110 at bar 0, trough 88 at bar 1 (-20 %), recovered at bar 3
    stats = drawdown_stats(np.array([110.0, 88, 100, 111, 105]), 100.0)
    assert stats["max_drawdown"] == pytest.approx(-0.2)
    assert stats["max_drawdown_bars"] == 3
    assert drawdown_stats(np.array([100.0, 101, 102]), 100.0)["max_drawdown"] == 0.0


def test_sharpe_sortino_volatility_against_numpy() -> None:
    equity = [101.0, 99.0, 103.0, 102.0, 106.0, 104.0]
    result, data = with_equity(equity)
    m = compute_metrics(result, data)  # type: ignore[arg-type]
    r = np.diff(np.array([100.0, *equity])) / np.array([100.0, *equity[:-1]])
    ann = math.sqrt(8760)
    assert m["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * ann, rel=1e-12)
    downside = math.sqrt(sum(min(v, 0.0) ** 2 for v in r) / len(r))
    assert m["sortino"] == pytest.approx(r.mean() / downside * ann, rel=1e-12)
    assert m["volatility"] == pytest.approx(r.std(ddof=1) * ann, rel=1e-12)
    assert m["total_return"] == pytest.approx(0.04)
    assert m["cagr"] == pytest.approx(1.04 ** (8760 / 6) - 1, rel=1e-9)
    assert m["max_drawdown"] == pytest.approx(99 / 101 - 1)
    assert m["max_drawdown_seconds"] == m["max_drawdown_bars"] * 3600


def test_daily_cagr_and_calmar() -> None:
    n = 365
    equity = list(np.linspace(100.0, 200.0, n))
    equity[100] = equity[99] * 0.9
    result, data = with_equity(equity)
    data = dataclasses.replace(
        data, timestamp=data.timestamp[0] + 86_400 * np.arange(n)
    )
    result = dataclasses.replace(result, bar_seconds=86_400)
    m = compute_metrics(result, data)  # type: ignore[arg-type]
    assert m["cagr"] == pytest.approx(1.0)
    assert m["max_drawdown"] == pytest.approx(-0.1)
    assert m["calmar"] == pytest.approx(10.0)


def test_undefined_figures_are_none_and_json_is_strict() -> None:
    result, data = with_equity([100.0, 100.0, 100.0])
    m = compute_metrics(result, data)  # type: ignore[arg-type]
    for key in ("sharpe", "sortino", "profit_factor", "avg_win", "avg_loss", "calmar"):
        assert m[key] is None, key
    assert m["trade_count"] == 0 and m["win_rate"] is None and m["exposure"] == 0
    json.dumps(m, allow_nan=False)


def test_trade_statistics_by_hand() -> None:
    prices = [100, 100, 110, 100, 90, 90, 90]
    data = bars(prices, prices)
    config = BacktestConfig(initial_capital=1000.0, fee_bps=0.0)
    result = run_backtest(data, [1, 0, 1, 0, 0, 0, 0], config)
    # trade 1: 10 units 100 -> 110 (+100); trade 2: 1100/100 = 11 units 100 -> 90 (-110)
    m = compute_metrics(result, data)
    assert result.trades.profit.tolist() == pytest.approx([100.0, -110.0])
    assert m["trade_count"] == 2 and m["win_rate"] == 0.5
    assert m["profit_factor"] == pytest.approx(100 / 110)
    assert m["expectancy"] == pytest.approx(-5.0)
    assert (m["avg_win"], m["avg_loss"]) == (
        pytest.approx(100.0),
        pytest.approx(-110.0),
    )
    assert m["avg_bars_held"] == 1.0
    assert m["exposure"] == pytest.approx(2 / 7)
    assert m["benchmark_return"] == pytest.approx(-0.1)
    assert m["final_equity"] == pytest.approx(990.0)


def test_profit_factor_none_without_losing_trades() -> None:
    data = bars([100, 100, 110, 120], [100, 105, 115, 125])
    result = run_backtest(data, [1, 1, 1, 1], BacktestConfig(fee_bps=0.0))
    m = compute_metrics(result, data)
    assert m["trade_count"] == 1 and m["profit_factor"] is None
    assert m["fees_paid"] == 0.0


def test_metrics_are_plain_json_numbers_on_random_runs() -> None:
    data = random_walk(9, 2000)
    for allow_short in (False, True):
        config = BacktestConfig(allow_short=allow_short, stop_loss=0.03)
        result = run_backtest(data, random_targets(9, 2000, allow_short), config)
        m = compute_metrics(result, data)
        text = json.dumps(m, allow_nan=False)
        assert all(
            isinstance(v, int | float | type(None)) for v in json.loads(text).values()
        )
        assert m["fees_paid"] == pytest.approx(result.trades.fees.sum())


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_metrics_of_tiny_runs_are_strict_json(n: int) -> None:
    data = random_walk(4, n, vol=0.2)
    result = run_backtest(data, np.ones(n), BacktestConfig())
    m = compute_metrics(result, data)
    json.dumps(m, allow_nan=False)
    assert m["bars"] == n


def test_cagr_overflow_on_a_few_bars_is_none() -> None:
    result, data = with_equity([150.0, 300.0])
    m = compute_metrics(result, data)  # type: ignore[arg-type]
    assert m["cagr"] is None and m["calmar"] is None
    assert m["total_return"] == pytest.approx(2.0)
