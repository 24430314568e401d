"""The Celery application: broker and results on Redis, JSON only, late acks."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aaiti.settings")

app = Celery("aaiti")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("training"), Queue("backtests"))
app.conf.task_routes = {
    "apps.mlmodels.tasks.*": {"queue": "training"},
    "apps.backtests.tasks.*": {"queue": "backtests"},
}
app.autodiscover_tasks()
