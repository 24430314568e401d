"""Accounting: size and price the legs, then the trades, equity, cash and positions."""

from __future__ import annotations

import numpy as np

from .data import OHLCV, BacktestConfig, FloatArray, Trades
from .legs import _Legs


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
