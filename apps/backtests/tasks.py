"""Thin Celery tasks (routed to the "backtests" queue): load by key, call a service.

Both are idempotent: the services claim the job with a conditional update, so a
redelivered message finds it taken and does nothing.
"""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="apps.backtests.tasks.run_backtest_task")
def run_backtest_task(backtest_id: int) -> str | None:
    backtest = services.run_backtest_job(backtest_id=backtest_id)
    return backtest.status if backtest else None


@shared_task(name="apps.backtests.tasks.run_sweep_chunk_task")
def run_sweep_chunk_task(chunk_id: int) -> str | None:
    chunk = services.run_sweep_chunk(chunk_id=chunk_id)
    return chunk.status if chunk else None
