"""Builders shared by the backtest tests (plain functions, no fixtures needed)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from apps.backtests.engine import OHLCV

HOUR = 3600
T0 = 1_700_000_000 - 1_700_000_000 % HOUR


def bars(
    opens: Sequence[float],
    closes: Sequence[float],
    highs: Sequence[float] | None = None,
    lows: Sequence[float] | None = None,
) -> OHLCV:
    """Hourly candles; high and low default to the body's extremes."""
    o = np.asarray(opens, dtype=np.float64)
    c = np.asarray(closes, dtype=np.float64)
    h = np.maximum(o, c) if highs is None else np.asarray(highs, dtype=np.float64)
    lo = np.minimum(o, c) if lows is None else np.asarray(lows, dtype=np.float64)
    ts = T0 + HOUR * np.arange(o.shape[0], dtype=np.int64)
    return OHLCV(ts, o, h, lo, c, np.ones_like(o))


def random_walk(seed: int, n: int, vol: float = 0.02) -> OHLCV:
    """Synthetic geometric random walk with gaps and wicks (tests only)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    prev = np.concatenate(([100.0], close[:-1]))
    opens = prev * np.exp(rng.normal(0.0, vol / 4, n))
    highs = np.maximum(opens, close) * np.exp(np.abs(rng.normal(0.0, vol / 2, n)))
    lows = np.minimum(opens, close) * np.exp(-np.abs(rng.normal(0.0, vol / 2, n)))
    return bars(opens, close, highs, lows)


def random_targets(seed: int, n: int, allow_short: bool) -> np.ndarray:
    """Runs of random exposures (with NaN) so trades last several bars."""
    rng = np.random.default_rng(seed + 1)
    levels = (
        [-1.0, -0.5, 0.0, 0.0, 0.5, 1.0, np.nan] if allow_short else [0.0, 1.0, 0.5]
    )
    target = rng.choice(levels, n)
    keep = rng.random(n) < 0.7
    for i in range(1, n):
        if keep[i]:
            target[i] = target[i - 1]
    return target


def json_close(a: object, b: object, rel: float = 1e-12) -> bool:
    """Equal as JSON values, numbers to ``rel``: PostgreSQL's jsonb keeps numbers as
    numerics and gives a whole float back as an int with its shortest digits, so an
    exact comparison with the float the engine computed can differ in the last bit."""
    import math

    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_close(a[k], b[k], rel) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(
            json_close(x, y, rel) for x, y in zip(a, b, strict=True)
        )
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
    return a == b
