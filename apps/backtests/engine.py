"""Backtest engine: target positions in, trades and an equity curve out.

Plain numpy, no Django, so the same code runs in a Celery task, a management
command, a benchmark and ``python -m apps.backtests.engine``.

Conventions (the contract every caller relies on):

* ``target[t]`` is the exposure wanted after seeing bar ``t`` (1 long, 0 flat,
  -1 short, fractions allowed, within [-1, 1]; NaN means flat). It fills at the
  open of bar ``t + 1``; the target of the last bar never fills.
* Fills pay slippage against the trader (buy at ``price * (1 + slip)``, sell at
  ``price * (1 - slip)``) and a fee of ``fee_bps`` on the filled notional, on
  each side. Stop and target exits pay both too (conservative).
* Sizing: ``fraction`` commits ``fraction * |target| * equity`` to a trade,
  fee included, so all-in is ``quantity = cash / (fill * (1 + fee))``;
  ``notional`` commits ``notional * |target|``, capped at the equity.
* Each run of one constant non-zero target is one trade. A change of target,
  even in size only (0.5 -> 1), exits at the open and re-enters there, paying
  both sides: simple and exact, at the cost of extra fees for resizing.
* Long-only (``allow_short=False``) treats negative targets as flat.
* Stops are checked inside each bar on its high and low, levels relative to
  the entry fill price. When the stop and the target could both have been hit
  in one bar, the stop is assumed hit first. An open beyond the stop (a gap)
  fills at the open, not at the stop price. The trailing stop trails the best
  price seen up to the previous bar (plus the entry), never the current bar,
  whose high and low come in an unknown order. After a stop or target exit the
  engine stays flat until the target changes.
* A position still open after the last bar is closed at the last close
  (reason ``end``), with fee and slippage, so the equity curve ends in cash.
* ``profit`` of a trade is net of both fees; the final equity equals the
  initial capital plus the sum of the trades' profits.
* Once the equity is <= 0 (only possible short), no new trade opens.

Signal-only runs are fully vectorised; runs with stops detect trades in a lean
per-bar loop. Both hand the same trade legs to one accounting function, so
the two paths agree exactly when there are no stops (checked by a test).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
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


@dataclass(frozen=True, eq=False)
class _Legs:
    """Trades as detected, before sizing: bars, exposure and raw exit price."""

    entry_bar: IntArray
    exit_bar: IntArray
    exposure: FloatArray
    exit_ref: FloatArray
    reason: NDArray[np.int8]
    exit_at_open: NDArray[np.bool_]

    def head(self, count: int) -> _Legs:
        return _Legs(
            self.entry_bar[:count],
            self.exit_bar[:count],
            self.exposure[:count],
            self.exit_ref[:count],
            self.reason[:count],
            self.exit_at_open[:count],
        )


def prepare_target(target: ArrayLike, n: int, allow_short: bool) -> FloatArray:
    """Validate targets: NaN -> flat, within [-1, 1], negatives flat if long-only.

    Copies only when something must change: on long series every full-size
    temporary costs more than the arithmetic.
    """
    tgt = np.asarray(target, dtype=np.float64)
    if tgt.shape != (n,):
        raise BacktestInputError(f"target must be 1-D with {n} values (one per bar)")
    if n == 0:
        return tgt
    nan = np.isnan(tgt)
    if nan.any():
        tgt = np.where(nan, 0.0, tgt)
    low, high = float(tgt.min()), float(tgt.max())
    if low < -1.0 or high > 1.0:
        raise BacktestInputError("target positions must be within [-1, 1]")
    if not allow_short and low < 0.0:
        tgt = np.maximum(tgt, 0.0)
    return tgt


def _detect_vectorized(tgt: FloatArray, data: OHLCV) -> _Legs:
    """Trades from the changes of the held exposure ``held[i] = tgt[i - 1]``."""
    n = len(data)
    if n < 2:
        return _legs_from_rows([])
    # held changes at bar i >= 2 where tgt[i - 1] != tgt[i - 2]; at bar 1 if
    # tgt[0] != 0 (nothing is held at bar 0)
    changes = np.flatnonzero(tgt[1 : n - 1] != tgt[: n - 2]) + 2
    if tgt[0] != 0.0:
        changes = np.concatenate(([1], changes))
    run_end = np.append(changes[1:], n)
    values = tgt[changes - 1]
    is_trade = values != 0.0
    entry = changes[is_trade].astype(np.int64)
    exit_ = run_end[is_trade].astype(np.int64)
    at_end = exit_ == n
    exit_bar = np.where(at_end, n - 1, exit_)
    exit_ref = np.where(at_end, data.close[exit_bar], data.open[exit_bar])
    reason = np.where(at_end, END, SIGNAL).astype(np.int8)
    return _Legs(entry, exit_bar, values[is_trade], exit_ref, reason, ~at_end)


LegRow = tuple[int, int, float, float, int, bool]


def _legs_from_rows(rows: list[LegRow]) -> _Legs:
    """Columns from the loop's rows (entry, exit bar, exposure, price, reason, open)."""
    cols = list(zip(*rows, strict=True)) if rows else [()] * 6
    return _Legs(
        np.array(cols[0], dtype=np.int64),
        np.array(cols[1], dtype=np.int64),
        np.array(cols[2], dtype=np.float64),
        np.array(cols[3], dtype=np.float64),
        np.array(cols[4], dtype=np.int8),
        np.array(cols[5], dtype=bool),
    )


def _detect_loop(tgt: FloatArray, data: OHLCV, cfg: BacktestConfig) -> _Legs:
    """Bar-by-bar state machine: signals at the open, then stops inside the bar.

    Kept lean on purpose (floats in locals, lists instead of array indexing):
    it is the hot path of every backtest with stops.
    """
    n = len(data)
    op, hi, lo = data.open.tolist(), data.high.tolist(), data.low.tolist()
    tg = tgt.tolist()
    slip = cfg.slippage_bps / 10_000.0
    sl = cfg.stop_loss or 0.0
    tp = cfg.take_profit or 0.0
    tr = cfg.trailing_stop or 0.0
    stops = sl > 0.0 or tp > 0.0 or tr > 0.0
    rows: list[LegRow] = []
    last = held = 0.0
    entry = 0
    fill = best = 0.0
    for i in range(1, n):
        t = tg[i - 1]
        if t != last:
            last = t
            o = op[i]
            if held != 0.0:
                rows.append((entry, i, held, o, SIGNAL, True))
            held = t
            if t != 0.0:
                entry = i
                fill = o * (1.0 + slip) if t > 0.0 else o * (1.0 - slip)
                best = fill
        if held == 0.0 or not stops:
            continue
        if held > 0.0:
            hit = _long_exit(op[i], hi[i], lo[i], fill, best, sl, tp, tr, i > entry)
            if hit is None:
                best = max(best, hi[i])
                continue
        else:
            hit = _short_exit(op[i], hi[i], lo[i], fill, best, sl, tp, tr, i > entry)
            if hit is None:
                best = min(best, lo[i])
                continue
        rows.append((entry, i, held, hit[0], hit[1], hit[2]))
        held = 0.0
    if held != 0.0:
        rows.append((entry, n - 1, held, float(data.close[-1]), END, False))
    return _legs_from_rows(rows)


def _long_exit(
    o: float,
    h: float,
    lo: float,
    fill: float,
    best: float,
    sl: float,
    tp: float,
    tr: float,
    gap_possible: bool,
) -> tuple[float, int, bool] | None:
    """Exit (raw price, reason, at open) of a long in this bar, or None."""
    stop, reason = -1.0, STOP_LOSS
    if sl > 0.0:
        stop = fill * (1.0 - sl)
    if tr > 0.0 and best * (1.0 - tr) > stop:
        stop, reason = best * (1.0 - tr), TRAILING_STOP
    if gap_possible and o <= stop:
        return o, reason, True
    if lo <= stop:
        return stop, reason, False
    if tp > 0.0:
        target = fill * (1.0 + tp)
        if gap_possible and o >= target:
            return o, TAKE_PROFIT, True
        if h >= target:
            return target, TAKE_PROFIT, False
    return None


def _short_exit(
    o: float,
    h: float,
    lo: float,
    fill: float,
    best: float,
    sl: float,
    tp: float,
    tr: float,
    gap_possible: bool,
) -> tuple[float, int, bool] | None:
    """Mirror of ``_long_exit`` for a short (stops above, target below)."""
    stop, reason = math.inf, STOP_LOSS
    if sl > 0.0:
        stop = fill * (1.0 + sl)
    if tr > 0.0 and best * (1.0 + tr) < stop:
        stop, reason = best * (1.0 + tr), TRAILING_STOP
    if gap_possible and o >= stop:
        return o, reason, True
    if h >= stop:
        return stop, reason, False
    if tp > 0.0:
        target = fill * (1.0 - min(tp, 1.0))
        if gap_possible and o <= target:
            return o, TAKE_PROFIT, True
        if lo <= target:
            return target, TAKE_PROFIT, False
    return None


def _capital(
    expo: FloatArray, ret: FloatArray, cfg: BacktestConfig
) -> tuple[FloatArray, FloatArray]:
    """Capital before each trade (plus the final) and the capital committed.

    Trades are sequential, so each one's size depends on the equity left by
    the previous one. Stops the sequence at the first trade that would open
    with equity <= 0 (the caller drops the rest).
    """
    c0 = cfg.initial_capital
    absx = np.abs(expo)
    if cfg.sizing == "fraction":
        growth = 1.0 + (cfg.fraction * absx) * ret
        cap = np.multiply.accumulate(np.concatenate(([c0], growth)))
        alloc = (cfg.fraction * absx) * cap[:-1]
        if np.all(cap[:-1] > 0):
            return cap, alloc
    else:
        want = float(cfg.notional or 0.0) * absx
        cap = c0 + np.concatenate(([0.0], np.cumsum(want * ret)))
        if np.all(want <= cap[:-1]):
            return cap, want
    return _capital_scan(absx, ret, cfg)


def _capital_scan(
    absx: FloatArray, ret: FloatArray, cfg: BacktestConfig
) -> tuple[FloatArray, FloatArray]:
    """Slow path of ``_capital`` for capped notional sizes and blown accounts."""
    equity = cfg.initial_capital
    caps, allocs = [equity], []
    for a, r in zip(absx.tolist(), ret.tolist(), strict=True):
        if equity <= 0.0:
            break
        if cfg.sizing == "fraction":
            alloc = cfg.fraction * a * equity
        else:
            alloc = min(float(cfg.notional or 0.0) * a, equity)
        equity = equity + alloc * r
        caps.append(equity)
        allocs.append(alloc)
    return np.array(caps), np.array(allocs, dtype=np.float64)


def _account(
    legs: _Legs, data: OHLCV, cfg: BacktestConfig
) -> tuple[Trades, FloatArray, FloatArray, FloatArray]:
    """Size and price the legs, then derive trades, equity, cash, positions."""
    fee = cfg.fee_bps / 10_000.0
    slip = cfg.slippage_bps / 10_000.0
    long = legs.exposure > 0
    side = np.where(long, 1, -1).astype(np.int64)
    raw_in = data.open[legs.entry_bar]
    entry_px = np.where(long, raw_in * (1.0 + slip), raw_in * (1.0 - slip))
    exit_px = np.where(long, legs.exit_ref * (1.0 - slip), legs.exit_ref * (1.0 + slip))
    kb, ks = 1.0 + fee, 1.0 - fee
    net = np.where(long, exit_px * ks - entry_px * kb, entry_px * ks - exit_px * kb)
    ret = net / (entry_px * kb)
    cap, alloc = _capital(legs.exposure, ret, cfg)
    kept = alloc.shape[0]
    if kept < len(legs.entry_bar):
        legs = legs.head(kept)
        side, entry_px, exit_px, ret = (
            side[:kept],
            entry_px[:kept],
            exit_px[:kept],
            ret[:kept],
        )
    qty = alloc / (entry_px * kb)
    bars_held = legs.exit_bar - legs.entry_bar + np.where(legs.exit_at_open, 0, 1)
    trades = Trades(
        entry_bar=legs.entry_bar,
        exit_bar=legs.exit_bar,
        entry_time=data.timestamp[legs.entry_bar],
        exit_time=data.timestamp[legs.exit_bar],
        side=side,
        exposure=legs.exposure,
        entry_price=entry_px,
        exit_price=exit_px,
        quantity=qty,
        entry_fee=qty * entry_px * fee,
        exit_fee=qty * exit_px * fee,
        profit=np.diff(cap),
        returns=ret,
        bars_held=bars_held.astype(np.int64),
        exit_reason=legs.reason,
    )
    return (trades, *_curves(trades, cap, data))


def _curves(
    trades: Trades, cap: FloatArray, data: OHLCV
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Equity, cash and exposure per bar, vectorised over bars.

    Bars split into alternating flat and held segments: flat before trade
    ``k`` from the previous exit bar, held at the closes of bars
    ``entry_bar <= i < exit_bar``. Every exit happens during its exit bar (at
    the open, inside, or at the final close), so that bar closes flat with
    the capital after the trade. Cash and quantity are constant within a
    segment, so ``np.repeat`` expands them and equity is cash + quantity * close.
    """
    n, count = len(data), len(trades)
    bounds = np.empty(2 * count + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, n
    bounds[1:-1:2], bounds[2:-1:2] = trades.entry_bar, trades.exit_bar
    lengths = np.diff(bounds)
    signed = trades.side * trades.quantity
    cash_seg = np.empty(2 * count + 1, dtype=np.float64)
    cash_seg[0::2] = cap
    cash_seg[1::2] = cap[:-1] - trades.entry_fee - signed * trades.entry_price
    qty_seg = np.zeros(2 * count + 1, dtype=np.float64)
    qty_seg[1::2] = signed
    expo_seg = np.zeros(2 * count + 1, dtype=np.float64)
    expo_seg[1::2] = trades.exposure
    cash = np.repeat(cash_seg, lengths)
    equity = np.repeat(qty_seg, lengths)
    equity *= data.close  # in place: fewer full-size temporaries
    equity += cash
    return equity, cash, np.repeat(expo_seg, lengths)


def run_backtest(
    data: OHLCV,
    target: ArrayLike,
    config: BacktestConfig | None = None,
    *,
    mode: Mode = "auto",
) -> BacktestResult:
    """Run one backtest of ``target`` exposures over ``data``.

    ``mode="auto"`` picks the vectorised path unless stops are configured.
    ``"loop"`` forces the per-bar loop (used to cross-check the two paths).
    """
    cfg = config or BacktestConfig()
    tgt = prepare_target(target, len(data), cfg.allow_short)
    if mode == "auto":
        mode = "loop" if cfg.has_stops else "vectorized"
    if mode == "vectorized":
        if cfg.has_stops:
            raise BacktestInputError("stops need mode='loop' (or 'auto')")
        legs = _detect_vectorized(tgt, data)
    elif mode == "loop":
        legs = _detect_loop(tgt, data, cfg)
    else:
        raise BacktestInputError("mode must be auto, vectorized or loop")
    trades, equity, cash, positions = _account(legs, data, cfg)
    return BacktestResult(
        config=cfg,
        mode=mode,
        timestamp=data.timestamp,
        equity=equity,
        cash=cash,
        positions=positions,
        trades=trades,
        bar_seconds=data.bar_seconds,
    )


_COLUMNS = {
    "timestamp": ("timestamp", "date", "time", "datetime", "unix"),
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close",),
    "volume": ("volume", "volumefrom", "volume_base"),
}


def _parse_time(text: str) -> int:
    """Epoch seconds (or milliseconds) or an ISO date-time taken as UTC."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        return int(
            np.datetime64(text.replace(" ", "T").rstrip("Z"), "s").astype(np.int64)
        )
    return int(value / 1000) if value > 1e11 else int(value)


def load_csv(path: str | Path) -> OHLCV:
    """Read an OHLCV CSV with a header row, in any row order (sorted here)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader)]
        cols = {key: _find_column(header, names) for key, names in _COLUMNS.items()}
        rows = [row for row in reader if row]
    ts = np.array([_parse_time(r[cols["timestamp"]]) for r in rows], dtype=np.int64)
    order = np.argsort(ts, kind="stable")
    values = {
        key: np.array([float(r[idx]) for r in rows], dtype=np.float64)[order]
        for key, idx in cols.items()
        if key != "timestamp"
    }
    return OHLCV(timestamp=ts[order], **values)


def _find_column(header: Sequence[str], names: Sequence[str]) -> int:
    for name in names:
        if name in header:
            return header.index(name)
    raise BacktestInputError(f"CSV needs one of the columns {', '.join(names)}")


def _parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        params[key] = json.loads(value) if value else None
    return params


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m apps.backtests.engine FILE.csv --strategy sma_cross``."""
    from apps.backtests import metrics, strategies

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument(
        "--strategy", default="sma_cross", choices=strategies.STRATEGIES
    )
    parser.add_argument("--param", action="append", default=[], help="name=value")
    parser.add_argument("--capital", type=float, default=10_000.0)
    parser.add_argument("--fee-bps", type=float, default=10.0)
    parser.add_argument("--slippage-bps", type=float, default=0.0)
    parser.add_argument("--allow-short", action="store_true")
    parser.add_argument("--stop-loss", type=float)
    parser.add_argument("--take-profit", type=float)
    parser.add_argument("--trailing-stop", type=float)
    args = parser.parse_args(argv)
    try:
        result, data = _run_cli(args, strategies.get_strategy(args.strategy))
    except ValueError as exc:  # bad data, config or params: a message, not a trace
        parser.error(str(exc))
    summary = {"strategy": args.strategy, **metrics.compute_metrics(result, data)}
    print(json.dumps(summary, indent=2))
    return 0


def _run_cli(args: argparse.Namespace, strategy: Any) -> tuple[BacktestResult, OHLCV]:
    data = load_csv(args.csv)
    cfg = BacktestConfig(
        initial_capital=args.capital,
        fee_bps=args.fee_bps,
        slippage_bps=args.slippage_bps,
        allow_short=args.allow_short,
        stop_loss=args.stop_loss,
        take_profit=args.take_profit,
        trailing_stop=args.trailing_stop,
    )
    target = strategy.signals(data, **_parse_params(args.param))
    return run_backtest(data, target, cfg), data


if __name__ == "__main__":
    raise SystemExit(main())
