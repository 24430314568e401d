"""The feed's entry point into the bots.

``run_feed`` calls :func:`on_tick` for every recorded tick. Paper-trading bots (the
bots release) hang their engine here; until then no bot exists to act on a tick, so
the hook has nothing to do and says so by returning 0 decisions.
"""

from __future__ import annotations

from typing import Any


def on_tick(*, asset: Any, tick: Any) -> int:
    """Run every running bot of ``asset`` on ``tick``; return how many decided."""
    return 0
