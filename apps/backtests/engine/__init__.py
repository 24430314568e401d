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

The package: :mod:`.data` (inputs and outputs), :mod:`.legs` (trade detection),
:mod:`.accounting` (sizing, prices, curves), :mod:`.core` (:func:`run_backtest`) and
:mod:`.cli` (:func:`load_csv` and the command line); everything is imported from here.
"""

from __future__ import annotations

from .cli import load_csv, main
from .core import run_backtest
from .data import (
    END,
    EXIT_REASONS,
    OHLCV,
    SIGNAL,
    STOP_LOSS,
    TAKE_PROFIT,
    TRAILING_STOP,
    BacktestConfig,
    BacktestInputError,
    BacktestResult,
    FloatArray,
    IntArray,
    Mode,
    Trades,
)
from .legs import LegRow, prepare_target

__all__ = [
    "END",
    "EXIT_REASONS",
    "OHLCV",
    "SIGNAL",
    "STOP_LOSS",
    "TAKE_PROFIT",
    "TRAILING_STOP",
    "BacktestConfig",
    "BacktestInputError",
    "BacktestResult",
    "FloatArray",
    "IntArray",
    "LegRow",
    "Mode",
    "Trades",
    "load_csv",
    "main",
    "prepare_target",
    "run_backtest",
]
