"""Performance metrics of a backtest, as a JSON-ready dict of plain numbers.

Conventions:

* Bar returns come from the equity curve, the first against the initial
  capital. Annualisation assumes a market open around the clock:
  ``periods_per_year = 365 days / bar interval`` (1h -> 8760, 1d -> 365).
* Sharpe and Sortino use a zero risk-free rate; the sample standard
  deviation (ddof=1) for Sharpe and volatility, the root mean square of
  the negative returns for Sortino's downside deviation.
* CAGR spans ``bars / periods_per_year`` years.
* Maximum drawdown is negative (-0.25 is a 25 % fall from a peak). Its
  duration runs from the peak before the deepest trough to the recovery of
  that peak, or to the last bar if it never recovered.
* Any figure that is undefined is None, never NaN or inf: Sharpe with no
  variation, profit factor with no losing trade, average loss with no
  losing trade, Calmar without a drawdown, and so on.
* ``benchmark_return`` is buy and hold over the same bars, first close to
  last close, without fees.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from apps.backtests.engine import OHLCV, BacktestResult

FloatArray = NDArray[np.float64]
SECONDS_PER_YEAR = 365 * 86_400
TIMEFRAME_SECONDS = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "1h": 3600,
    "4h": 14_400,
    "1d": 86_400,
}


def periods_per_year(bar: str | int) -> float:
    """Bars per year for a timeframe name (``"1h"``) or an interval in seconds."""
    seconds = TIMEFRAME_SECONDS[bar] if isinstance(bar, str) else int(bar)
    if seconds <= 0:
        raise ValueError("bar interval must be > 0 seconds")
    return SECONDS_PER_YEAR / seconds


def _num(value: float | np.floating[Any]) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _ratio(num: float, den: float) -> float | None:
    return _num(num / den) if den != 0 else None


def _cagr(growth: float, years: float) -> float | None:
    """Compound annual growth; None when undefined or beyond float range.

    A few bars annualise to absurd powers (a 1 % hour is 1.01 ** 8760), so
    overflow is expected on short runs, not an error.
    """
    if years <= 0 or growth <= 0:
        return None
    try:
        return _num(growth ** (1.0 / years) - 1.0)
    except OverflowError:
        return None


def bar_returns(equity: FloatArray, initial_capital: float) -> FloatArray:
    prev = np.concatenate(([initial_capital], equity[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        return equity / prev - 1.0


def drawdown_stats(equity: FloatArray, initial_capital: float) -> dict[str, Any]:
    """Deepest drawdown (negative fraction) and its duration in bars."""
    curve = np.concatenate(([initial_capital], equity))
    peak = np.maximum.accumulate(curve)
    dd = curve / peak - 1.0
    trough = int(np.argmin(dd))
    if dd[trough] >= 0:
        return {"max_drawdown": 0.0, "max_drawdown_bars": 0}
    start = int(np.flatnonzero(curve[: trough + 1] == peak[trough])[-1])
    recovered = np.flatnonzero(curve[trough:] >= peak[trough])
    end = trough + int(recovered[0]) if recovered.size else curve.shape[0] - 1
    return {"max_drawdown": float(dd[trough]), "max_drawdown_bars": end - start}


def _risk(returns: FloatArray, ppy: float) -> dict[str, float | None]:
    if returns.shape[0] < 2 or not np.all(np.isfinite(returns)):
        return {"volatility": None, "sharpe": None, "sortino": None}
    mean, std = float(np.mean(returns)), float(np.std(returns, ddof=1))
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
    scale = math.sqrt(ppy)
    return {
        "volatility": _num(std * scale),
        "sharpe": _ratio(mean * scale, std),
        "sortino": _ratio(mean * scale, downside),
    }


def trade_stats(result: BacktestResult) -> dict[str, Any]:
    t = result.trades
    profit = t.profit
    wins, losses = profit[profit > 0], profit[profit < 0]
    count = len(t)
    return {
        "trade_count": count,
        "win_rate": _ratio(wins.shape[0], count),
        "profit_factor": _ratio(float(wins.sum()), -float(losses.sum())),
        "expectancy": _num(profit.mean()) if count else None,
        "avg_win": _num(wins.mean()) if wins.size else None,
        "avg_loss": _num(losses.mean()) if losses.size else None,
        "avg_bars_held": _num(t.bars_held.mean()) if count else None,
        "fees_paid": float(t.fees.sum()),
    }


def compute_metrics(
    result: BacktestResult, data: OHLCV, *, bars_per_year: float | None = None
) -> dict[str, Any]:
    """All headline figures of one backtest (see the module docstring).

    ``bars_per_year`` defaults to the data's bar interval (hourly when there
    are fewer than two bars to measure it).
    """
    n = result.equity.shape[0]
    c0 = result.initial_capital
    if bars_per_year is None:
        bar = result.bar_seconds or TIMEFRAME_SECONDS["1h"]
        bars_per_year = periods_per_year(bar)
    final = result.final_equity
    total = final / c0 - 1.0
    cagr = _cagr(final / c0, n / bars_per_year)
    dd = drawdown_stats(result.equity, c0)
    bar_seconds = result.bar_seconds or 0
    out: dict[str, Any] = {
        "bars": n,
        "start": int(data.timestamp[0]) if n else None,
        "end": int(data.timestamp[-1]) if n else None,
        "initial_capital": c0,
        "final_equity": final,
        "total_return": total,
        "cagr": cagr,
        **_risk(bar_returns(result.equity, c0), bars_per_year),
        **dd,
        "max_drawdown_seconds": dd["max_drawdown_bars"] * bar_seconds,
        "calmar": _ratio(cagr, -dd["max_drawdown"]) if cagr is not None else None,
        **trade_stats(result),
        "exposure": _ratio(float(result.trades.bars_held.sum()), n),
        "benchmark_return": float(data.close[-1] / data.close[0] - 1.0) if n else None,
    }
    return out
