"""Trade detection: target exposures (and stops) to trade legs, before sizing."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .data import (
    END,
    OHLCV,
    SIGNAL,
    STOP_LOSS,
    TAKE_PROFIT,
    TRAILING_STOP,
    BacktestConfig,
    BacktestInputError,
    FloatArray,
    IntArray,
)


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
