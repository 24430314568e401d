"""One backtest: validate the targets, detect the trades, account for them."""

from __future__ import annotations

from numpy.typing import ArrayLike

from .accounting import _account
from .data import OHLCV, BacktestConfig, BacktestInputError, BacktestResult, Mode
from .legs import _detect_loop, _detect_vectorized, prepare_target


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
