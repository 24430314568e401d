"""The audit trail: append-only and hash-chained.

Each row stores the hash of the row before it and its own hash over its content, so
``manage.py verify_audit`` finds any row that was altered, removed or reordered.
The ORM refuses updates and deletes, and so does the database (triggers installed by
migration 0002 on SQLite and PostgreSQL).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import models

GENESIS_HASH = "0" * 64


class AppendOnlyError(Exception):
    """Raised on an attempt to change or remove an audit record."""


class AuditLogQuerySet(models.QuerySet["AuditLog"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit records cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit records cannot be deleted")

    def for_user(self, user: Any) -> AuditLogQuerySet:
        return self.filter(user_id=user.pk)


class AuditLog(models.Model):
    seq = models.PositiveBigIntegerField(unique=True, editable=False)
    # No database-level foreign key: deleting a user must not rewrite the trail.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    resource_type = models.CharField(max_length=64, blank=True)
    resource_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    timestamp = models.DateTimeField(db_index=True)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        indexes = [models.Index(fields=["user", "-timestamp"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} by {self.actor_email or 'system'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("audit records cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit records cannot be deleted")

    def compute_hash(self) -> str:
        return compute_hash(self.canonical_fields(), self.prev_hash)

    def canonical_fields(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "user_id": self.user_id,
            "actor_email": self.actor_email,
            "action": self.action,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "details": self.details,
            "ip_address": self.ip_address,
            "user_agent": self.user_agent,
            "timestamp": self.timestamp.isoformat(timespec="microseconds"),
        }


def compute_hash(fields: dict[str, Any], prev_hash: str) -> str:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{prev_hash}|{body}".encode()).hexdigest()
