from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.audit.services import verify_chain


class Command(BaseCommand):
    help = "Check the audit trail's hash chain; exit non-zero naming the first bad row."

    def handle(self, *args: Any, **options: Any) -> None:
        checked, problem = verify_chain()
        if problem:
            raise CommandError(
                f"audit chain broken after {checked} good rows: {problem}"
            )
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {checked} rows"))
