from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from apps.system.backup import BackupError, backup_sqlite, restore_sqlite


class Command(BaseCommand):
    help = (
        "Restore the SQLite database from a backup file. Stop the app's processes "
        "first. The current database is backed up before it is replaced."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--yes", action="store_true", help="do not ask for confirmation"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if connection.vendor != "sqlite":
            raise CommandError(
                "restore_db restores SQLite; with PostgreSQL use "
                "pg_restore (see the README, Backups)."
            )
        backup: Path = opts["file"]
        if not backup.is_file():
            raise CommandError(f"no such file: {backup}")
        target = Path(settings.DATABASES["default"]["NAME"])
        if not opts["yes"]:
            try:
                answer = input(
                    f"Replace {target} with {backup}? Type 'yes' to continue: "
                )
            except EOFError:
                answer = ""  # no terminal: not confirmed
            if answer.strip().lower() != "yes":
                raise CommandError("restore cancelled")
        connection.close()
        try:
            safety = backup_sqlite(target, Path(settings.BACKUP_DIR) / "pre-restore")
            restore_sqlite(backup, target)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"restored {target} from {backup} (previous database kept at {safety})"
            )
        )
