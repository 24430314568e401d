"""Signal strategies: OHLCV in, target exposure per bar out.

Every strategy is a plain function ``fn(data, **params) -> target`` where
``target[t]`` uses bars <= t only (the engine fills it at bar t + 1's open),
is one of -1, 0, 1 (fractions are fine for the engine too), and is 0, never
NaN, during warm-up, so bots can call the same functions on a few recent
candles. ``STRATEGIES`` maps names to their declared, validated parameters;
``Strategy.signals`` validates, fills defaults and calls the function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from apps.backtests import indicators as ind
from apps.backtests.engine import OHLCV

FloatArray = NDArray[np.float64]
SignalFn = Callable[..., FloatArray]


class StrategyParamError(ValueError):
    """A parameter is missing, unknown, of the wrong type or out of range."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


@dataclass(frozen=True)
class Param:
    """One declared parameter: type, inclusive range and default."""

    name: str
    type: type
    default: Any
    min: float | None = None
    max: float | None = None
    help: str = ""

    def validate(self, value: Any) -> Any:
        if self.type is bool:
            if not isinstance(value, bool):
                raise StrategyParamError(self.name, "must be true or false")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise StrategyParamError(self.name, f"must be a number ({self.describe()})")
        if self.type is int and float(value) != int(value):
            raise StrategyParamError(
                self.name, f"must be an integer ({self.describe()})"
            )
        value = self.type(value)
        too_low = self.min is not None and value < self.min
        too_high = self.max is not None and value > self.max
        if too_low or too_high or value != value:
            raise StrategyParamError(
                self.name, f"must be {self.describe()}, got {value}"
            )
        return value

    def describe(self) -> str:
        return f"{self.type.__name__} in [{self.min}, {self.max}]"

    def as_dict(self) -> dict[str, Any]:
        """JSON shape for ``/api/strategies/``."""
        return {
            "name": self.name,
            "type": self.type.__name__,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "help": self.help,
        }


@dataclass(frozen=True)
class Strategy:
    """A registered strategy; ``inputs`` names extra per-bar arrays it needs."""

    name: str
    label: str
    params: tuple[Param, ...]
    fn: SignalFn
    description: str = ""
    inputs: tuple[str, ...] = ()
    check: Callable[[Mapping[str, Any]], None] | None = None

    def validate(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults filled in, each value checked, cross-parameter rules applied."""
        given = dict(params or {})
        known = {p.name for p in self.params}
        for name in given:
            if name not in known:
                allowed = ", ".join(sorted(known)) or "none"
                raise StrategyParamError(
                    name, f"unknown parameter (allowed: {allowed})"
                )
        values = {p.name: p.validate(given.get(p.name, p.default)) for p in self.params}
        if self.check is not None:
            self.check(values)
        return values

    def signals(self, data: OHLCV, **kwargs: Any) -> FloatArray:
        """Target exposure per bar; ``kwargs`` holds params and ``inputs``."""
        arrays = {
            name: _input_array(kwargs.pop(name, None), name, len(data))
            for name in self.inputs
        }
        values = self.validate(kwargs)
        if len(data) == 0:
            return np.zeros(0, dtype=np.float64)
        target = np.asarray(self.fn(data, **arrays, **values), dtype=np.float64)
        nan = np.isnan(target)
        return np.where(nan, 0.0, target) if nan.any() else target

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "description": self.description,
            "inputs": list(self.inputs),
            "params": [p.as_dict() for p in self.params],
        }


def _input_array(value: ArrayLike | None, name: str, n: int) -> FloatArray:
    if value is None:
        raise StrategyParamError(name, "this strategy needs this per-bar array")
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (n,):
        raise StrategyParamError(name, f"must have one value per bar ({n})")
    return arr


def _fast_below_slow(values: Mapping[str, Any]) -> None:
    if values["fast"] >= values["slow"]:
        raise StrategyParamError("fast", f"must be < slow ({values['slow']})")


def _lower_below_upper(values: Mapping[str, Any]) -> None:
    if values["lower"] >= values["upper"]:
        raise StrategyParamError("lower", f"must be < upper ({values['upper']})")


def _exit_within_entry(values: Mapping[str, Any]) -> None:
    if values["exit"] > values["entry"]:
        raise StrategyParamError("exit", f"must be <= entry ({values['entry']})")


def _direction(
    bull: NDArray[np.bool_], bear: NDArray[np.bool_], allow_short: bool
) -> FloatArray:
    """1 where bullish, -1 (or 0 long-only) where bearish, 0 otherwise.

    Comparisons with NaN are False, so warm-up bars come out flat.
    """
    out = bull.astype(np.float64)
    if allow_short:
        out -= bear
    return out


def buy_and_hold(data: OHLCV) -> FloatArray:
    return np.ones(len(data), dtype=np.float64)


def sma_cross(data: OHLCV, fast: int, slow: int, allow_short: bool) -> FloatArray:
    f, s = ind.smas(data.close, fast, slow)
    return _direction(f > s, f < s, allow_short)


def ema_cross(data: OHLCV, fast: int, slow: int, allow_short: bool) -> FloatArray:
    f, s = ind.ema(data.close, fast), ind.ema(data.close, slow)
    return _direction(f > s, f < s, allow_short)


def rsi_reversion(
    data: OHLCV, period: int, lower: float, upper: float, allow_short: bool
) -> FloatArray:
    """Long from RSI < lower until RSI > upper; short the mirror image."""
    r = ind.rsi(data.close, period)
    long = ind.hold_state(r < lower, r > upper)
    if not allow_short:
        return long
    return long - ind.hold_state(r > upper, r < lower)


def bollinger(data: OHLCV, period: int, k: float, allow_short: bool) -> FloatArray:
    """Mean reversion: long below the lower band until the close regains the mean.

    Short above the upper band until back at the mean. The two states never
    overlap: entering one side is always past the other side's exit.
    """
    c = data.close
    mid = ind.sma(c, period)
    width = k * ind.rolling_std(c, period)
    long = ind.hold_state(c < mid - width, c >= mid)
    if not allow_short:
        return long
    return long - ind.hold_state(c > mid + width, c <= mid)


def macd(
    data: OHLCV, fast: int, slow: int, signal: int, allow_short: bool
) -> FloatArray:
    line = ind.ema(data.close, fast) - ind.ema(data.close, slow)
    valid = ~np.isnan(line)
    sig = np.full(line.shape[0], np.nan)
    if np.any(valid):
        sig[valid] = ind.ema(line[valid], signal)
    return _direction(line > sig, line < sig, allow_short)


def donchian(data: OHLCV, entry: int, exit: int, allow_short: bool) -> FloatArray:
    """Breakout of the previous ``entry`` bars' range; exit on the ``exit`` range."""
    c = data.close
    up_in = ind.shift(ind.rolling_max(data.high, entry))
    lo_in = ind.shift(ind.rolling_min(data.low, entry))
    up_out = ind.shift(ind.rolling_max(data.high, exit))
    lo_out = ind.shift(ind.rolling_min(data.low, exit))
    long = ind.hold_state(c > up_in, c < lo_out)
    if not allow_short:
        return long
    return long - ind.hold_state(c < lo_in, c > up_out)


def model_forecast(
    data: OHLCV, predictions: FloatArray, threshold_bps: float, allow_short: bool
) -> FloatArray:
    """Trade a model's forecast of the next close.

    ``predictions[t]`` must be an out-of-sample forecast of ``close[t + 1]``
    made with bars <= t; NaN where the model has none (flat there).
    """
    with np.errstate(invalid="ignore"):
        move = predictions / data.close - 1.0
    edge = threshold_bps / 10_000.0
    return _direction(move > edge, move < -edge, allow_short)


def _short() -> Param:
    return Param("allow_short", bool, False, help="take the short side too")


def _window(name: str, default: int, help: str, lo: int = 1) -> Param:
    return Param(name, int, default, lo, 5000, help)


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy(
            "buy_and_hold", "Buy and hold", (), buy_and_hold, "Long from the first bar."
        ),
        Strategy(
            "sma_cross",
            "SMA crossover",
            (
                _window("fast", 10, "fast simple moving average, bars"),
                _window("slow", 30, "slow simple moving average, bars", 2),
                _short(),
            ),
            sma_cross,
            "Long while the fast SMA is above the slow one.",
            check=_fast_below_slow,
        ),
        Strategy(
            "ema_cross",
            "EMA crossover",
            (
                _window("fast", 12, "fast exponential moving average, bars"),
                _window("slow", 26, "slow exponential moving average, bars", 2),
                _short(),
            ),
            ema_cross,
            "Long while the fast EMA is above the slow one.",
            check=_fast_below_slow,
        ),
        Strategy(
            "rsi_reversion",
            "RSI mean reversion",
            (
                _window("period", 14, "RSI period, bars", 2),
                Param("lower", float, 30.0, 0.0, 100.0, "enter long below"),
                Param("upper", float, 70.0, 0.0, 100.0, "exit long above"),
                _short(),
            ),
            rsi_reversion,
            "Long when oversold until overbought.",
            check=_lower_below_upper,
        ),
        Strategy(
            "bollinger",
            "Bollinger band reversion",
            (
                _window("period", 20, "band period, bars", 2),
                Param("k", float, 2.0, 0.1, 10.0, "band width in standard deviations"),
                _short(),
            ),
            bollinger,
            "Long below the lower band until back at the mean.",
        ),
        Strategy(
            "macd",
            "MACD",
            (
                _window("fast", 12, "fast EMA, bars"),
                _window("slow", 26, "slow EMA, bars", 2),
                _window("signal", 9, "signal line EMA, bars"),
                _short(),
            ),
            macd,
            "Long while the MACD line is above its signal line.",
            check=_fast_below_slow,
        ),
        Strategy(
            "donchian",
            "Donchian breakout",
            (
                _window("entry", 20, "breakout channel, bars"),
                _window("exit", 10, "exit channel, bars"),
                _short(),
            ),
            donchian,
            "Long on a close above the prior high until a close below the exit low.",
            check=_exit_within_entry,
        ),
        Strategy(
            "model_forecast",
            "Model forecast",
            (
                Param(
                    "threshold_bps",
                    float,
                    10.0,
                    0.0,
                    10_000.0,
                    "minimum predicted move",
                ),
                _short(),
            ),
            model_forecast,
            "Long when the predicted next close beats the last close by the threshold.",
            inputs=("predictions",),
        ),
    )
}


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        allowed = ", ".join(sorted(STRATEGIES))
        raise StrategyParamError(
            "strategy", f"unknown {name!r} (allowed: {allowed})"
        ) from None
