"""record_event(): the one way into the audit trail."""

from __future__ import annotations

import re
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from .models import GENESIS_HASH, AuditLog

# Keys whose values never enter a record, at any depth.
SECRET_KEY_PATTERN = re.compile(
    r"pass(word)?|secret|token|api[_-]?key|authorization|cookie|signature|otp",
    re.IGNORECASE,
)
REDACTED = "[redacted]"
# An arbitrary constant: the PostgreSQL advisory lock that serialises appends.
PG_APPEND_LOCK = 7_414_000_001


def scrub(value: Any) -> Any:
    """Return ``value`` with every secret-looking key's value replaced."""
    if isinstance(value, dict):
        return {
            str(k): REDACTED if SECRET_KEY_PATTERN.search(str(k)) else scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def client_meta(request: HttpRequest | None) -> tuple[str | None, str]:
    if request is None:
        return None, ""
    from apps.accounts.ratelimit import client_ip

    return client_ip(request), request.META.get("HTTP_USER_AGENT", "")[:300]


def record_event(
    *,
    action: str,
    user: Any = None,
    request: HttpRequest | None = None,
    resource: Any = None,
    resource_type: str = "",
    resource_id: str | int = "",
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Append one event to the chain.

    Appends are serialised so two writers never chain onto the same row: SQLite's
    IMMEDIATE transactions already hold the write lock, PostgreSQL takes an advisory
    transaction lock.
    """
    if resource is not None:
        resource_type = resource_type or resource._meta.label_lower
        resource_id = resource_id or resource.pk
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    ip, agent = client_meta(request)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [PG_APPEND_LOCK])
        last = AuditLog.objects.order_by("-seq").values("seq", "hash").first()
        entry = AuditLog(
            seq=(last["seq"] + 1) if last else 1,
            user=user,
            actor_email=getattr(user, "email", "") if user else "",
            action=action,
            resource_type=resource_type,
            resource_id=str(resource_id or ""),
            details=scrub(details or {}),
            ip_address=ip,
            user_agent=agent,
            timestamp=timezone.now(),
            prev_hash=last["hash"] if last else GENESIS_HASH,
        )
        entry.hash = entry.compute_hash()
        entry.save()
    return entry


def verify_chain(batch_size: int = 2000) -> tuple[int, str | None]:
    """Walk the chain in order. Return (rows checked, first problem or None)."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    rows = AuditLog.objects.order_by("seq").iterator(chunk_size=batch_size)
    for row in rows:
        if row.seq != expected_seq:
            return checked, (
                f"row seq={row.seq} (id {row.pk}): expected seq {expected_seq}; "
                "a row was removed or reordered"
            )
        if row.prev_hash != expected_prev:
            return checked, (
                f"row seq={row.seq} (id {row.pk}): previous-hash link is broken; "
                "a row before it was removed, reordered or altered"
            )
        if row.compute_hash() != row.hash:
            return checked, f"row seq={row.seq} (id {row.pk}): content was altered"
        expected_prev = row.hash
        expected_seq += 1
        checked += 1
    return checked, None
