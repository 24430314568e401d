"""Causal indicators over float64 arrays: the value at bar t uses bars <= t only.

Warm-up bars (not enough history yet) are NaN; strategies turn them into a
flat position. pandas supplies the recursive and rolling kernels (EMA,
rolling max/min), which numpy has no fast primitive for.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def sma(x: FloatArray, n: int) -> FloatArray:
    """Simple moving average by differences of a cumulative sum."""
    return smas(x, n)[0]


def smas(x: FloatArray, *windows: int) -> list[FloatArray]:
    """Several SMAs of one series from a single cumulative sum (the costly part)."""
    csum = np.cumsum(x)
    return [_sma_from_cumsum(csum, n) for n in windows]


def _sma_from_cumsum(csum: FloatArray, n: int) -> FloatArray:
    out = np.empty(csum.shape[0])
    out[: n - 1] = np.nan
    if n <= csum.shape[0]:
        out[n - 1] = csum[n - 1]
        np.subtract(csum[n:], csum[:-n], out=out[n:])
        out[n - 1 :] /= n
    return out


def ema(x: FloatArray, n: int) -> FloatArray:
    """EMA with alpha 2 / (n + 1), seeded at the first value, NaN before n bars."""
    out = (
        pd.Series(x)
        .ewm(span=n, adjust=False)
        .mean()
        .to_numpy(dtype=np.float64, copy=True)
    )
    out[: n - 1] = np.nan
    return out


def rsi(close: FloatArray, n: int) -> FloatArray:
    """Wilder's RSI (smoothing alpha 1/n), NaN for the first n bars."""
    delta = np.diff(close, prepend=close[:1])
    gain = pd.Series(np.maximum(delta, 0.0)).ewm(alpha=1.0 / n, adjust=False).mean()
    loss = pd.Series(np.maximum(-delta, 0.0)).ewm(alpha=1.0 / n, adjust=False).mean()
    g, lo = gain.to_numpy(np.float64, copy=True), loss.to_numpy(np.float64, copy=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(lo > 0, 100.0 - 100.0 / (1.0 + g / lo), 100.0)
    out[(g == 0) & (lo == 0)] = 50.0  # no movement at all: neutral
    out[:n] = np.nan
    return out


def rolling_std(x: FloatArray, n: int) -> FloatArray:
    """Population standard deviation over the last n bars."""
    return pd.Series(x).rolling(n).std(ddof=0).to_numpy(np.float64, copy=True)


def rolling_max(x: FloatArray, n: int) -> FloatArray:
    return pd.Series(x).rolling(n).max().to_numpy(np.float64, copy=True)


def rolling_min(x: FloatArray, n: int) -> FloatArray:
    return pd.Series(x).rolling(n).min().to_numpy(np.float64, copy=True)


def shift(x: FloatArray, k: int = 1) -> FloatArray:
    """Values k bars back (NaN where there is no such bar)."""
    out = np.full(x.shape[0], np.nan)
    if k < x.shape[0]:
        out[k:] = x[: x.shape[0] - k]
    return out


def hold_state(enter: NDArray[np.bool_], leave: NDArray[np.bool_]) -> FloatArray:
    """1.0 from a bar where ``enter`` holds until the next bar where ``leave`` does.

    Entering wins on a bar where both hold. Vectorised as a forward fill of
    the last event's value, so it stays causal.
    """
    events = np.where(enter, 1.0, np.where(leave, 0.0, np.nan))
    idx = np.where(np.isnan(events), 0, np.arange(events.shape[0]))
    np.maximum.accumulate(idx, out=idx)
    state = events[idx]
    state[np.isnan(state)] = 0.0
    return state
