"""Pushing rendered fragments to one user's private stream (/ws/me/)."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .consumers import user_group

log = logging.getLogger("aaiti.live")


def push_to_user(user_id: int, html: str) -> None:
    """Send now, best effort: a channel layer that is down never fails the caller
    (pages fall back to polling and refetching)."""
    try:
        async_to_sync(get_channel_layer().group_send)(
            user_group(user_id), {"type": "push.html", "html": html}
        )
    except Exception:  # noqa: BLE001 - best effort by design
        log.warning("live update to user %s not sent", user_id, exc_info=True)


def push_to_user_on_commit(user_id: int, html: str) -> None:
    """Send once the current transaction commits (never a state the DB rolled back)."""
    transaction.on_commit(lambda: push_to_user(user_id, html))
