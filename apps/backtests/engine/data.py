"""The engine's inputs and outputs: candles, settings, trades and results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


IntArray = NDArray[np.int64]


EXIT_REASONS: tuple[str, ...] = (
    "signal",
    "stop_loss",
    "take_profit",
    "trailing_stop",
    "end",
)


SIGNAL, STOP_LOSS, TAKE_PROFIT, TRAILING_STOP, END = range(len(EXIT_REASONS))


Mode = Literal["auto", "vectorized", "loop"]


class BacktestInputError(ValueError):
    """Bad market data, targets or configuration, with a readable message."""


def _to_seconds(timestamp: ArrayLike) -> IntArray:
    ts = np.asarray(timestamp)
    if np.issubdtype(ts.dtype, np.datetime64):
        return ts.astype("datetime64[s]").astype(np.int64)
    if not np.issubdtype(ts.dtype, np.integer):
        raise BacktestInputError("timestamp must be int64 seconds or datetime64")
    return ts.astype(np.int64)


@dataclass(frozen=True, eq=False)
class OHLCV:
    """Candles in ascending time order; timestamps in UTC epoch seconds."""

    timestamp: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "timestamp", _to_seconds(self.timestamp))
        n = self.timestamp.shape[0]
        for name in ("open", "high", "low", "close", "volume"):
            arr = np.ascontiguousarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (n,):
                raise BacktestInputError(f"{name} must be 1-D with {n} values")
            if not np.all(np.isfinite(arr)):
                raise BacktestInputError(f"{name} contains NaN or infinite values")
            object.__setattr__(self, name, arr)
        self._validate()

    def _validate(self) -> None:
        if self.timestamp.ndim != 1:
            raise BacktestInputError("timestamp must be 1-D")
        if np.any(np.diff(self.timestamp) <= 0):
            raise BacktestInputError("timestamps must be strictly increasing")
        if np.any(self.low <= 0):
            raise BacktestInputError("prices must be > 0")
        body_hi = np.maximum(self.open, self.close)
        body_lo = np.minimum(self.open, self.close)
        if np.any(self.high < body_hi) or np.any(self.low > body_lo):
            raise BacktestInputError("each bar needs low <= open, close <= high")

    def __len__(self) -> int:
        return int(self.timestamp.shape[0])

    def slice(self, start: int | None = None, stop: int | None = None) -> OHLCV:
        s = slice(start, stop)
        return OHLCV(
            self.timestamp[s],
            self.open[s],
            self.high[s],
            self.low[s],
            self.close[s],
            self.volume[s],
        )

    @property
    def bar_seconds(self) -> int | None:
        """Typical bar interval, None with fewer than two bars.

        The median gap of the first 100k bars: robust to missing candles and
        cheap on long series.
        """
        if len(self) < 2:
            return None
        return int(np.median(np.diff(self.timestamp[:100_001])))


@dataclass(frozen=True)
class BacktestConfig:
    """Execution settings; fractions are plain ratios (0.05 means 5 %)."""

    initial_capital: float = 10_000.0
    fee_bps: float = 10.0
    slippage_bps: float = 0.0
    sizing: Literal["fraction", "notional"] = "fraction"
    fraction: float = 1.0
    notional: float | None = None
    allow_short: bool = False
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None

    def __post_init__(self) -> None:
        checks = [
            (self.initial_capital > 0, "initial_capital must be > 0"),
            (0 <= self.fee_bps < 10_000, "fee_bps must be in [0, 10000)"),
            (0 <= self.slippage_bps < 10_000, "slippage_bps must be in [0, 10000)"),
            (self.sizing in ("fraction", "notional"), "sizing: fraction|notional"),
            (0 < self.fraction <= 1, "fraction must be in (0, 1]"),
        ]
        if self.sizing == "notional":
            ok = self.notional is not None and self.notional > 0
            checks.append((ok, "notional sizing needs notional > 0"))
        for name in ("stop_loss", "trailing_stop"):
            value = getattr(self, name)
            ok = value is None or 0 < value < 1
            checks.append((ok, f"{name} must be in (0, 1) or None"))
        ok = self.take_profit is None or self.take_profit > 0
        checks.append((ok, "take_profit must be > 0 or None"))
        for ok, message in checks:
            if not ok:
                raise BacktestInputError(message)

    @property
    def has_stops(self) -> bool:
        return any(
            v is not None
            for v in (self.stop_loss, self.take_profit, self.trailing_stop)
        )


@dataclass(frozen=True, eq=False)
class Trades:
    """The trade list as parallel arrays (one element per trade).

    Prices are fill prices (slippage included). ``profit`` is net of both
    fees; ``returns`` is profit over the capital committed (fee included).
    ``exit_reason`` holds indexes into ``EXIT_REASONS``.
    """

    entry_bar: IntArray
    exit_bar: IntArray
    entry_time: IntArray
    exit_time: IntArray
    side: IntArray
    exposure: FloatArray
    entry_price: FloatArray
    exit_price: FloatArray
    quantity: FloatArray
    entry_fee: FloatArray
    exit_fee: FloatArray
    profit: FloatArray
    returns: FloatArray
    bars_held: IntArray
    exit_reason: NDArray[np.int8]

    def __len__(self) -> int:
        return int(self.entry_bar.shape[0])

    @property
    def fees(self) -> FloatArray:
        return self.entry_fee + self.exit_fee

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-ready dicts (times as epoch seconds, reasons as names)."""
        cols = {
            "entry_time": self.entry_time.tolist(),
            "exit_time": self.exit_time.tolist(),
            "side": self.side.tolist(),
            "exposure": self.exposure.tolist(),
            "entry_price": self.entry_price.tolist(),
            "exit_price": self.exit_price.tolist(),
            "quantity": self.quantity.tolist(),
            "fees": self.fees.tolist(),
            "profit": self.profit.tolist(),
            "return": self.returns.tolist(),
            "bars_held": self.bars_held.tolist(),
            "exit_reason": [EXIT_REASONS[r] for r in self.exit_reason.tolist()],
        }
        rows = zip(*cols.values(), strict=True)
        return [dict(zip(cols, row, strict=True)) for row in rows]


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Everything a backtest produced; arrays have one value per bar.

    ``equity`` is marked to market at each close; ``cash`` is the cash
    account (short sale proceeds included); ``positions`` the exposure held
    at each close (0 after a stop or the final close-out).
    """

    config: BacktestConfig
    mode: str
    timestamp: IntArray
    equity: FloatArray
    cash: FloatArray
    positions: FloatArray
    trades: Trades
    bar_seconds: int | None = None

    @property
    def initial_capital(self) -> float:
        return self.config.initial_capital

    @property
    def final_equity(self) -> float:
        if self.equity.shape[0] == 0:
            return self.config.initial_capital
        return float(self.equity[-1])
