"""The feed's entry point into the bots.

``run_feed`` calls :func:`on_tick` for every recorded tick. With no running bot on
the symbol it costs one indexed query (bots by asset and status); with some, a
second query brings each running bot's account, position and whether it has pending orders, so
a tick that changes nothing for a bot (no pending order, no bar close, no risk
rule near) costs no further query and no transaction.
"""

from __future__ import annotations

from typing import Any


def on_tick(*, asset: Any, tick: Any) -> int:
    """Run every running bot of ``asset`` on ``tick``; return how many decided."""
    from apps.bots.engine import running_bots

    bots = running_bots(asset.pk)
    if not bots:
        return 0
    from apps.bots.stale import hold_on_stale_tick

    if hold_on_stale_tick(bots=bots, tick=tick):  # no order on a stale price
        return 0
    from apps.bots.services import run_tick

    return run_tick(bots=bots, tick=tick)
