"""Thin Celery tasks (routed to the "backtests" queue): load by key, call a service.

Both are idempotent: the services claim the job with a conditional update, so a
redelivered message finds it taken and does nothing. Messages are acknowledged
late (CELERY_TASK_ACKS_LATE), so a worker that dies mid-run leaves its message to
be delivered again, with the broker's "redelivered" flag: a backtest's or a sweep
chunk's task passes the flag on, and the service takes the dead worker's claim over
(at most services.MAX_ATTEMPTS times; then the job, or the chunk's sweep, fails).

Results live in the database, so Celery keeps none (``ignore_result``): sending a
task then never subscribes to a result channel, which with Redis down would block
the web request for ~20 s and leave Celery's result consumer broken.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from . import services


@shared_task(
    bind=True, ignore_result=True, name="apps.backtests.tasks.run_backtest_task"
)
def run_backtest_task(self: Any, backtest_id: int) -> str | None:
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    backtest = services.run_backtest_job(
        backtest_id=backtest_id, redelivered=redelivered
    )
    return backtest.status if backtest else None


@shared_task(
    bind=True, ignore_result=True, name="apps.backtests.tasks.run_sweep_chunk_task"
)
def run_sweep_chunk_task(self: Any, chunk_id: int) -> str | None:
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    chunk = services.run_sweep_chunk(chunk_id=chunk_id, redelivered=redelivered)
    return chunk.status if chunk else None
