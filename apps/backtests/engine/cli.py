"""Backtest engine: target positions in, trades and an equity curve out.

This module is its command line, ``python -m apps.backtests.engine FILE.csv``, and
the CSV reader it uses (:func:`load_csv`).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .core import run_backtest
from .data import OHLCV, BacktestConfig, BacktestInputError, BacktestResult

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
