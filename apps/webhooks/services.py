"""Endpoints (create, update, delete), events (emit, test, redeliver) and the
delivery attempt itself. Pages, the API, tasks and admin call these.

Deliveries are rows written in the caller's transaction and enqueued only once it
commits: a rolled-back change sends nothing. An attempt claims its delivery by a
conditional update on (status, attempts), so a task delivered twice, or a
redelivered message for a delivery that already succeeded, does nothing.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from apps.audit.services import record_event

from . import signing, targets
from .models import EVENTS, PING, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)
SECRET_MAX_LENGTH = 200
# A message may arrive a little before its countdown is due (clock skew between
# processes); an earlier one is a stale duplicate and is ignored.
EARLY_SLACK = timedelta(seconds=2)


class WebhookError(Exception):
    """A request the service cannot honour; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def retry_delays() -> list[float]:
    return [float(x) for x in settings.WEBHOOK_RETRY_DELAYS]


def max_attempts() -> int:
    return len(retry_delays()) + 1


def _check_events(events: Any) -> list[str]:
    if not isinstance(events, list | tuple) or not events:
        raise WebhookError("Choose at least one event.", "events")
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise WebhookError(
            f"Unknown event {unknown[0]!r}; choose from {', '.join(EVENTS)}.", "events"
        )
    return [e for e in EVENTS if e in events]  # canonical order, no duplicates


def _check_url(url: str) -> str:
    url = (url or "").strip()
    if len(url) > 500:
        raise WebhookError("The URL is longer than 500 characters.", "url")
    try:
        targets.check_url(url)
    except targets.TargetError as exc:
        raise WebhookError(str(exc), "url") from None
    return url


def _check_secret(secret: str | None) -> str:
    if not secret:
        return secrets.token_urlsafe(32)
    minimum = settings.WEBHOOK_SECRET_MIN_LENGTH
    if len(secret) < minimum or len(secret) > SECRET_MAX_LENGTH:
        raise WebhookError(
            f"A secret must be {minimum} to {SECRET_MAX_LENGTH} characters long.",
            "secret",
        )
    if secret != secret.strip() or not secret.isprintable():
        raise WebhookError(
            "A secret must be printable, with no leading or trailing spaces.",
            "secret",
        )
    return secret


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


def create_endpoint(
    *,
    owner: Any,
    url: str,
    events: list[str],
    secret: str | None = None,
    active: bool = True,
    request: HttpRequest | None = None,
) -> WebhookEndpoint:
    """Create an endpoint; its ``secret`` (generated unless supplied) is readable
    on the returned object this once and is never shown again."""
    url = _check_url(url)
    events = _check_events(events)
    secret = _check_secret(secret)
    limit = settings.WEBHOOK_MAX_ENDPOINTS_PER_USER
    with transaction.atomic():
        # Serialise one user's creations so two at once cannot pass the cap.
        get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
        if WebhookEndpoint.objects.owned_by(owner).count() >= limit:
            raise WebhookError(f"You already have the maximum of {limit} webhooks.")
        endpoint = WebhookEndpoint.objects.create(
            owner=owner, url=url, secret=secret, events=events, active=active
        )
        record_event(
            action="webhook.created",
            user=owner,
            request=request,
            resource=endpoint,
            details={"host": _host(url), "events": events, "active": active},
        )
    return endpoint


def update_endpoint(
    *,
    endpoint: WebhookEndpoint,
    actor: Any,
    changes: dict[str, Any],
    request: HttpRequest | None = None,
) -> WebhookEndpoint:
    """Change ``url``, ``events`` and ``active``; the secret stays."""
    fields = []
    if "url" in changes:
        endpoint.url = _check_url(changes["url"])
        fields.append("url")
    if "events" in changes:
        endpoint.events = _check_events(changes["events"])
        fields.append("events")
    if "active" in changes:
        endpoint.active = bool(changes["active"])
        fields.append("active")
    with transaction.atomic():
        endpoint.save(update_fields=fields or None)
        record_event(
            action="webhook.updated",
            user=actor,
            request=request,
            resource=endpoint,
            details={"fields": sorted(fields), "host": _host(endpoint.url)},
        )
    return endpoint


def delete_endpoint(
    *, endpoint: WebhookEndpoint, actor: Any, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        record_event(
            action="webhook.deleted",
            user=actor,
            request=request,
            resource=endpoint,
            details={"host": _host(endpoint.url)},
        )
        endpoint.delete()


# --- events ----------------------------------------------------------------------


def _finite(value: Any) -> Any:
    """NaN and infinities are not JSON: a receiver's parser may refuse them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """Decimals, datetimes and UUIDs as JSON strings, exactly as they will be sent."""
    return _finite(json.loads(json.dumps(data, cls=DjangoJSONEncoder)))


def _new_delivery(
    endpoint: WebhookEndpoint,
    event: str,
    data: dict[str, Any],
    redelivery_of: WebhookDelivery | None = None,
) -> WebhookDelivery:
    now = timezone.now()
    delivery = WebhookDelivery(
        endpoint=endpoint, event=event, next_attempt_at=now, redelivery_of=redelivery_of
    )
    delivery.payload = {
        "id": str(delivery.delivery_id),
        "event": event,
        "created": now.isoformat().replace("+00:00", "Z"),
        "data": data,
    }
    delivery.save()
    transaction.on_commit(lambda: enqueue(delivery.pk))
    return delivery


def emit_event(
    *, user: Any, event: str, data: dict[str, Any] | Callable[[], dict[str, Any]]
) -> int:
    """Write one pending delivery per active endpoint of ``user`` subscribed to
    ``event``; each is enqueued when the current transaction commits. Returns how
    many. ``data`` may be a function, called only when someone listens: with no
    endpoint this costs one indexed query and nothing else."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    user_id = getattr(user, "pk", user)
    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(owner_id=user_id, active=True)
        if event in e.events
    ]
    if not endpoints:
        return 0
    plain = _plain(data() if callable(data) else data)
    with transaction.atomic():
        for endpoint in endpoints:
            _new_delivery(endpoint, event, plain)
    return len(endpoints)


def send_test(
    *, endpoint: WebhookEndpoint, actor: Any, request: HttpRequest | None = None
) -> WebhookDelivery:
    """A ``ping`` delivery to this endpoint (active or not), audited."""
    with transaction.atomic():
        delivery = _new_delivery(
            endpoint,
            PING,
            {"message": "Test event from AAITI.", "endpoint": endpoint.pk},
        )
        record_event(
            action="webhook.test_sent",
            user=actor,
            request=request,
            resource=endpoint,
            details={
                "host": _host(endpoint.url),
                "delivery": str(delivery.delivery_id),
            },
        )
    return delivery


def redeliver(
    *, delivery: WebhookDelivery, actor: Any, request: HttpRequest | None = None
) -> WebhookDelivery:
    """Send a finished delivery's event again, as a new delivery with its own id
    and a fresh signature; the original stays in the log as it was."""
    if delivery.status == WebhookDelivery.Status.PENDING:
        raise WebhookError("This delivery is still being attempted.")
    with transaction.atomic():
        again = _new_delivery(
            delivery.endpoint,
            delivery.event,
            delivery.payload.get("data", {}),
            redelivery_of=delivery,
        )
        record_event(
            action="webhook.redelivered",
            user=actor,
            request=request,
            resource=delivery.endpoint,
            details={
                "delivery": str(delivery.delivery_id),
                "new_delivery": str(again.delivery_id),
            },
        )
    return again


def enqueue(delivery_id: int, countdown: float | None = None) -> None:
    """Send the task; best effort: with the broker down the beat sweep
    (``retry_due``) picks the delivery up later, and the caller (a web request,
    the feed's tick) never fails or waits on publish retries."""
    from .tasks import deliver_webhook_task

    try:
        deliver_webhook_task.apply_async(
            args=[delivery_id], countdown=countdown or None, retry=False
        )
    except Exception:  # noqa: BLE001 - the sweep retries it
        log.warning("webhook delivery %s not queued; the sweep retries", delivery_id)


# --- attempts --------------------------------------------------------------------


def attempt_delivery(*, delivery_id: int) -> WebhookDelivery | None:
    """Make the next attempt of a pending delivery, or nothing if it is finished,
    not yet due, or claimed by another worker. A failure schedules the next
    attempt after ``WEBHOOK_RETRY_DELAYS``; past the last the delivery fails."""
    delivery = (
        WebhookDelivery.objects.select_related("endpoint")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return delivery
    now = timezone.now()
    if delivery.next_attempt_at and delivery.next_attempt_at > now + EARLY_SLACK:
        return delivery
    attempt = delivery.attempts + 1
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk,
        status=WebhookDelivery.Status.PENDING,
        attempts=delivery.attempts,
    ).update(attempts=F("attempts") + 1, last_attempt_at=now)
    if not claimed:
        return None
    body = signing.body_bytes(delivery.payload)
    response = targets.post(
        delivery.endpoint.url,
        body,
        signing.headers(
            event=delivery.event,
            delivery_id=str(delivery.delivery_id),
            signature=signing.sign(delivery.endpoint.secret, body),
        ),
    )
    return _record_attempt(delivery, attempt, response)


def _record_attempt(
    delivery: WebhookDelivery, attempt: int, response: targets.Response
) -> WebhookDelivery:
    now = timezone.now()
    values: dict[str, Any] = {
        "last_status_code": response.status,
        "last_error": response.error,
        "duration_ms": response.duration_ms,
    }
    delay = None
    if response.ok:
        values.update(
            status=WebhookDelivery.Status.SUCCEEDED,
            finished_at=now,
            next_attempt_at=None,
        )
    elif attempt >= max_attempts():
        values.update(
            status=WebhookDelivery.Status.FAILED, finished_at=now, next_attempt_at=None
        )
    else:
        delay = retry_delays()[attempt - 1]
        values["next_attempt_at"] = now + timedelta(seconds=delay)
    WebhookDelivery.objects.filter(
        pk=delivery.pk, status=WebhookDelivery.Status.PENDING, attempts=attempt
    ).update(**values)
    if not response.ok:
        log.info(
            "webhook delivery %s attempt %s failed (%s)%s",
            delivery.delivery_id,
            attempt,
            response.status or "no response",
            f"; next in {delay:g} s" if delay is not None else "; giving up",
        )
    if delay is not None:
        transaction.on_commit(lambda: enqueue(delivery.pk, countdown=delay))
    delivery.refresh_from_db()
    return delivery


def prune_deliveries() -> int:
    """Delete finished deliveries older than ``WEBHOOK_DELIVERY_RETENTION_DAYS``."""
    cutoff = timezone.now() - timedelta(days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS)
    deleted, _ = (
        WebhookDelivery.objects.filter(created_at__lt=cutoff)
        .exclude(status=WebhookDelivery.Status.PENDING)
        .delete()
    )
    return deleted


def retry_due(*, grace_seconds: float = 120) -> int:
    """Re-enqueue pending deliveries whose attempt is overdue by ``grace_seconds``
    (their message was lost: broker down at enqueue, Redis restarted). Duplicates
    are harmless: an attempt is claimed once."""
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    ids = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lt=cutoff
        ).values_list("pk", flat=True)[:1000]
    )
    for pk in ids:
        enqueue(pk)
    return len(ids)
