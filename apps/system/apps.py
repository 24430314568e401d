from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_default_settings(sender: Any, **kwargs: Any) -> None:
    """Store every registry key with its default, so admins see the whole table."""
    from .models import Setting
    from .registry import SETTINGS

    existing = set(Setting.objects.values_list("key", flat=True))
    Setting.objects.bulk_create(
        [
            Setting(key=spec.key, value=spec.default, description=spec.description)
            for spec in SETTINGS.values()
            if spec.key not in existing
        ]
    )


class SystemConfig(AppConfig):
    name = "apps.system"
    label = "system"
    verbose_name = "System"

    def ready(self) -> None:
        post_migrate.connect(ensure_default_settings, sender=self)
