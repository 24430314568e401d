"""A user's webhook endpoints and the log of every delivery to them."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models

TRADE_EXECUTED = "trade.executed"
BOT_STATUS_CHANGED = "bot.status_changed"
BACKTEST_COMPLETED = "backtest.completed"
TRAINING_COMPLETED = "training.completed"
PING = "ping"
EVENTS = (TRADE_EXECUTED, BOT_STATUS_CHANGED, BACKTEST_COMPLETED, TRAINING_COMPLETED)
EVENT_LABELS = {
    TRADE_EXECUTED: "Trade executed",
    BOT_STATUS_CHANGED: "Bot status changed",
    BACKTEST_COMPLETED: "Backtest completed",
    TRAINING_COMPLETED: "Training completed",
}
EVENT_CHOICES = [(e, EVENT_LABELS[e]) for e in EVENTS]


class EndpointQuerySet(models.QuerySet["WebhookEndpoint"]):
    def owned_by(self, user: Any) -> EndpointQuerySet:
        return self.filter(owner=user)

    def active(self) -> EndpointQuerySet:
        return self.filter(active=True)


class WebhookEndpoint(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.URLField(max_length=500)
    # Kept in clear: every delivery signs its body with it. Shown once, never
    # serialised, logged or audited.
    secret = models.CharField(max_length=200)
    events = models.JSONField(default=list, help_text="subset of EVENTS")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EndpointQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["owner", "active"])]

    def __str__(self) -> str:
        return f"webhook {self.pk} -> {self.url}"

    def __repr__(self) -> str:  # no secret in tracebacks or shells
        return f"<WebhookEndpoint {self.pk} {self.url}>"


class DeliveryQuerySet(models.QuerySet["WebhookDelivery"]):
    def owned_by(self, user: Any) -> DeliveryQuerySet:
        return self.filter(endpoint__owner=user)


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40)
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payload = models.JSONField(help_text="the body sent, as JSON")
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id} ({self.status})"
