from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from apps.audit.services import record_event
from apps.system.backup import BackupError, Retention, backup_sqlite, prune


class Command(BaseCommand):
    help = (
        "Online backup of the SQLite database into BACKUP_DIR, integrity-checked, "
        "then the retention policy (BACKUP_KEEP_DAILY, BACKUP_KEEP_WEEKLY)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dest", type=Path, default=None, help="default: BACKUP_DIR"
        )
        parser.add_argument("--no-prune", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        if connection.vendor != "sqlite":
            raise CommandError(
                "backup_db backs up SQLite; with PostgreSQL use pg_dump "
                "(see the README, Backups)."
            )
        dest = opts["dest"] or Path(settings.BACKUP_DIR)
        try:
            path = backup_sqlite(Path(settings.DATABASES["default"]["NAME"]), dest)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        removed = (
            []
            if opts["no_prune"]
            else prune(
                dest, Retention(settings.BACKUP_KEEP_DAILY, settings.BACKUP_KEEP_WEEKLY)
            )
        )
        record_event(
            action="system.backup_created",
            details={"file": path.name, "pruned": [p.name for p in removed]},
        )
        self.stdout.write(self.style.SUCCESS(f"backup written: {path}"))
        for old in removed:
            self.stdout.write(f"pruned: {old.name}")
