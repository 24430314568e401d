"""Pushing rendered fragments to one user's private stream (/ws/me/).

Every push names the topics it belongs to, and a page's socket says which topics it
shows (``/ws/me/?topics=bots,dashboard``): the consumer forwards a fragment only to
sockets showing one of its topics, so a page never receives an out-of-band fragment
whose target element it does not have (htmx would log ``oobErrorNoTarget``), and
a busy bot's updates cost nothing on pages that do not show it.

Topics: ``dashboard``; ``bots`` (the bots list), ``bot:<id>`` (a bot's page);
``models``, ``model:<id>``; ``backtests``, ``backtest:<id>``; ``sweeps``,
``sweep:<id>``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .consumers import user_group

log = logging.getLogger("aaiti.live")


Part = tuple[Iterable[str], str]  # (topics, html)


def push_parts(user_id: int, parts: Iterable[Part]) -> None:
    """Send several fragments, each under its own topics, as one channel message:
    each socket receives, in one frame, the fragments of the topics it shows.
    Best effort: a channel layer that is down never fails the caller (pages fall
    back to polling and refetching)."""
    message = {
        "type": "push.html",
        "parts": [[sorted(set(topics)), html] for topics, html in parts],
    }
    if not message["parts"]:
        return
    try:
        async_to_sync(get_channel_layer().group_send)(user_group(user_id), message)
    except Exception:  # noqa: BLE001 - best effort by design
        log.warning("live update to user %s not sent", user_id, exc_info=True)


def push_to_user(user_id: int, html: str, *, topics: Iterable[str]) -> None:
    """Send one fragment now to the owner's sockets showing one of ``topics``."""
    push_parts(user_id, [(topics, html)])


def push_to_user_on_commit(user_id: int, html: str, *, topics: Iterable[str]) -> None:
    """Send once the current transaction commits (never a state the DB rolled back)."""
    topics = list(topics)
    transaction.on_commit(lambda: push_to_user(user_id, html, topics=topics))
