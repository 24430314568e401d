from __future__ import annotations

from celery import shared_task
from django.core.management import call_command


@shared_task
def flush_expired_tokens() -> None:
    """Drop expired outstanding and blacklisted JWTs (simplejwt's own command)."""
    call_command("flushexpiredtokens")
