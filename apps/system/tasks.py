from __future__ import annotations

from celery import shared_task
from django.core.management import call_command
from django.db import connection


@shared_task
def backup_database() -> None:
    """Beat's nightly backup (SQLite only; PostgreSQL is backed up with its own tools)."""
    if connection.vendor == "sqlite":
        call_command("backup_db")


@shared_task
def optimize_database() -> dict:
    """Beat, every 6 hours: incremental vacuum and PRAGMA optimize (SQLite only)."""
    from .maintenance import optimize_database as run

    return run()
