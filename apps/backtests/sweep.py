"""Parameter sweeps, pure: grid expansion, evaluation with an in-sample /
out-of-sample split, ranking. No Django, so tasks, benchmarks and tests share it.

The split: the first ``in_sample`` share of the bars (oldest first) is in-sample,
the rest out-of-sample. Signals are computed once over all bars, so indicators on
the first out-of-sample bars are warmed up on in-sample history (no look-ahead:
a signal at bar t sees bars <= t only). Each side is then its own backtest,
starting flat with the initial capital: a position open at the split is closed at
the last in-sample close and is not carried over. Combinations are ranked on the
in-sample metric alone; the out-of-sample figures beside them show how much of
the best in-sample result survives on bars the ranking never saw.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .engine import OHLCV, BacktestConfig, run_backtest
from .metrics import compute_metrics
from .strategies import Param, Strategy, StrategyParamError

MAX_COMBINATIONS = 2000
# Metric -> label; every one ranks best-first when sorted descending
# (max_drawdown is negative, so the shallowest drawdown is the largest).
RANK_METRICS: dict[str, str] = {
    "sharpe": "Sharpe ratio",
    "sortino": "Sortino ratio",
    "total_return": "Total return",
    "cagr": "CAGR",
    "calmar": "Calmar ratio",
    "profit_factor": "Profit factor",
    "max_drawdown": "Max drawdown (shallowest first)",
    "win_rate": "Win rate",
    "expectancy": "Expectancy per trade",
}
SUMMARY_KEYS = (
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "profit_factor",
    "win_rate",
    "expectancy",
    "trade_count",
    "final_equity",
    "exposure",
)


class GridError(ValueError):
    """A grid that cannot be swept, with a message for the user."""


def _range_values(param: Param, start: Any, stop: Any, step: Any) -> list[Any]:
    """Inclusive arithmetic range, counted before it is expanded."""
    try:
        start, stop, step = float(start), float(stop), float(step)
    except (TypeError, ValueError) as exc:
        raise GridError(f"{param.name}: start, stop and step must be numbers") from exc
    if step <= 0 or stop < start or not all(map(math.isfinite, (start, stop, step))):
        raise GridError(f"{param.name}: needs start <= stop and step > 0")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_COMBINATIONS:
        raise GridError(
            f"{param.name}: {count} values; a grid has at most {MAX_COMBINATIONS} "
            "combinations"
        )
    # Integer parameters get whole floats here; Param.validate makes them int and
    # refuses a fractional step's 7.5 instead of truncating it.
    return [round(start + i * step, 10) for i in range(count)]


def _parse_text(param: Param, text: str) -> list[Any]:
    """``"5,10,20"`` or ``"5:50:5"`` (start:stop:step, stop included)."""
    text = text.strip()
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise GridError(f"{param.name}: a range is start:stop:step")
        return _range_values(param, *parts)
    items = [t.strip() for t in text.split(",") if t.strip()]
    if param.type is bool:
        return [t.lower() in ("1", "true", "yes", "on") for t in items]
    try:
        return [float(t) for t in items]
    except ValueError as exc:
        raise GridError(f"{param.name}: values must be numbers") from exc


def parse_values(param: Param, raw: Any) -> list[Any]:
    """A list of values, a ``{"start", "stop", "step"}`` range, or text."""
    if isinstance(raw, str):
        values = _parse_text(param, raw)
    elif isinstance(raw, Mapping):
        missing = {"start", "stop", "step"} - set(raw)
        if missing:
            raise GridError(f"{param.name}: a range needs start, stop and step")
        values = _range_values(param, raw["start"], raw["stop"], raw["step"])
    elif isinstance(raw, Sequence):
        values = list(raw)
    else:
        raise GridError(f"{param.name}: give a list of values or a range")
    if not values:
        raise GridError(f"{param.name}: no values")
    try:
        checked = [param.validate(v) for v in values]
    except StrategyParamError as exc:
        raise GridError(str(exc)) from exc
    return list(dict.fromkeys(checked))  # distinct, in the given order


def expand_grid(
    strategy: Strategy, grid: Mapping[str, Any], fixed: Mapping[str, Any] | None = None
) -> tuple[dict[str, list[Any]], list[dict[str, Any]], int]:
    """Checked values per grid parameter, every valid combination (complete,
    defaults filled) and how many grid points the strategy's rules refused
    (e.g. fast >= slow). A bad fixed parameter raises StrategyParamError."""
    if not grid:
        raise GridError("choose at least one parameter to sweep")
    declared = {p.name: p for p in strategy.params}
    unknown = [name for name in grid if name not in declared]
    if unknown:
        allowed = ", ".join(declared) or "none"
        raise GridError(f"unknown parameter {unknown[0]!r} (allowed: {allowed})")
    values = {name: parse_values(declared[name], raw) for name, raw in grid.items()}
    size = math.prod(len(v) for v in values.values())
    if size > MAX_COMBINATIONS:
        raise GridError(
            f"the grid has {size:,} combinations; at most {MAX_COMBINATIONS:,} "
            "are allowed. Use fewer values or a larger step."
        )
    base = {k: v for k, v in (fixed or {}).items() if k not in values}
    for name, value in base.items():
        if name not in declared:
            raise StrategyParamError(name, "unknown parameter")
        base[name] = declared[name].validate(value)
    combos, skipped = [], 0
    for point in itertools.product(*values.values()):
        try:
            combos.append(
                strategy.validate({**base, **dict(zip(values, point, strict=True))})
            )
        except StrategyParamError:
            skipped += 1
    if not combos:
        raise GridError(
            f"none of the {size} combinations is valid for {strategy.label} "
            "(check the rules between parameters, e.g. fast < slow)"
        )
    return values, combos, skipped


def summarize(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {key: metrics.get(key) for key in SUMMARY_KEYS}


def evaluate(
    data: OHLCV,
    strategy: Strategy,
    combos: Sequence[Mapping[str, Any]],
    config: BacktestConfig,
    split: int,
    bars_per_year: float,
) -> list[dict[str, Any]]:
    """In-sample and out-of-sample summaries of each combination."""
    if not 2 <= split <= len(data) - 2:
        raise GridError("the split leaves fewer than 2 bars on one side")
    sides = {"is": data.slice(0, split), "oos": data.slice(split, None)}
    rows = []
    for params in combos:
        flags = {"allow_short": bool(params.get("allow_short", False))}
        cfg = _with(config, **flags)
        target = strategy.signals(data, **params)
        row: dict[str, Any] = {"params": dict(params)}
        for name, part in sides.items():
            cut = target[:split] if name == "is" else target[split:]
            result = run_backtest(part, cut, cfg)
            row[name] = summarize(
                compute_metrics(result, part, bars_per_year=bars_per_year)
            )
        rows.append(row)
    return rows


def _with(config: BacktestConfig, **changes: Any) -> BacktestConfig:
    from dataclasses import replace

    return replace(config, **changes)


def rank(rows: Sequence[Mapping[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Best first by the in-sample ``metric``; undefined values last; ties keep
    the grid's order. Each row gains its ``rank`` (1 = best)."""
    if metric not in RANK_METRICS:
        raise GridError(f"unknown metric {metric!r}")

    def key(item: tuple[int, Mapping[str, Any]]) -> tuple[int, float, int]:
        value = item[1]["is"].get(metric)
        return (value is None, -(value or 0.0), item[0])

    ordered = sorted(enumerate(rows), key=key)
    return [{**row, "rank": i + 1} for i, (_, row) in enumerate(ordered)]


def chunked(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
