"""Thin Celery tasks on the default queue (which every worker consumes).

Retries are scheduled by the service (a new message with a countdown), not by
Celery's own retry: the schedule and the attempt count live in the delivery row,
so a lost or duplicated message changes nothing.
"""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(ignore_result=True, name="apps.webhooks.tasks.deliver_webhook_task")
def deliver_webhook_task(delivery_id: int) -> str | None:
    delivery = services.attempt_delivery(delivery_id=delivery_id)
    return delivery.status if delivery else None


@shared_task(ignore_result=True, name="apps.webhooks.tasks.retry_due_task")
def retry_due_task() -> int:
    return services.retry_due()


@shared_task(ignore_result=True, name="apps.webhooks.tasks.prune_deliveries_task")
def prune_deliveries_task() -> int:
    return services.prune_deliveries()
