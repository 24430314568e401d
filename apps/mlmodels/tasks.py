"""Thin Celery tasks (routed to the "training" queue): load by key, call a service.

Idempotent: training claims its run with a conditional update (queued ->
training) and a forecast its job (queued -> running), so a second delivery of a
message whose run is done does nothing. Messages are acknowledged late, so a
worker that dies mid-training leaves its message to be delivered again with the
broker's "redelivered" flag: the task passes it on and the service takes the dead
worker's claim over (at most services.training.MAX_ATTEMPTS times). Training has a soft time limit; the service turns
SoftTimeLimitExceeded into a failed run with a clear message.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from . import services

# Seconds a training may run before it is stopped (below the global hard limit).
TRAINING_SOFT_TIME_LIMIT = min(
    int(getattr(settings, "MODEL_TRAINING_TIME_LIMIT", 1800)),
    settings.CELERY_TASK_TIME_LIMIT - 30,
)


@shared_task(
    name="apps.mlmodels.tasks.train_model_task",
    bind=True,
    soft_time_limit=TRAINING_SOFT_TIME_LIMIT,
)
def train_model_task(self: Any, run_id: int) -> str | None:
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    run = services.run_training(
        run_id=run_id, task_id=self.request.id or "", redelivered=redelivered
    )
    return run.status if run else None


@shared_task(name="apps.mlmodels.tasks.forecast_task")
def forecast_task(job_id: int) -> str | None:
    job = services.run_forecast(job_id=job_id)
    return job.status if job else None


@shared_task(name="apps.mlmodels.tasks.score_predictions_task")
def score_predictions_task() -> int:
    return services.score_predictions()


@shared_task(name="apps.mlmodels.tasks.run_schedules_task")
def run_schedules_task() -> dict[str, int]:
    return services.run_schedules()
