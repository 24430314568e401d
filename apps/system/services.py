"""System settings: read through a cached accessor, written through one service."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest

from apps import webhooks
from apps.audit.services import REDACTED, SECRET_KEY_PATTERN, record_event

from .models import Setting
from .registry import SETTINGS, spec_for

CACHE_KEY = "system:settings:v1"
CACHE_SECONDS = 60


def _load_all() -> dict[str, Any]:
    stored = dict(Setting.objects.values_list("key", "value"))
    values = {}
    for key, spec in SETTINGS.items():
        try:
            values[key] = spec.parse(stored[key]) if key in stored else spec.default
        except ValueError:
            # A row edited by hand outside the registry's rules: fall back safely.
            values[key] = spec.default
    return values


def all_settings() -> dict[str, Any]:
    values = cache.get(CACHE_KEY)
    if values is None:
        values = _load_all()
        cache.set(CACHE_KEY, values, CACHE_SECONDS)
    return values


def get_setting(key: str) -> Any:
    spec_for(key)
    return all_settings()[key]


def _change_details(key: str, old: Any, new: Any) -> dict[str, Any]:
    if SECRET_KEY_PATTERN.search(key):
        return {"key": key, "old": REDACTED, "new": REDACTED}
    return {"key": key, "old": old, "new": new}


def update_setting(
    *, key: str, value: Any, actor: Any, request: HttpRequest | None = None
) -> Setting:
    """Validate, store and audit one setting; readers see it on their next call."""
    spec = spec_for(key)
    parsed = spec.parse(value)
    with transaction.atomic():
        row = Setting.objects.select_for_update().filter(key=key).first()
        old = row.value if row else spec.default
        if row is None:
            row = Setting(key=key, description=spec.description)
        row.value = parsed
        row.description = spec.description
        row.save()
        record_event(
            action="settings.changed",
            user=actor,
            request=request,
            resource=row,
            resource_id=key,
            details=_change_details(key, old, parsed),
        )
        webhooks.setting_changed(key=key, old=old, new=parsed)
        # Now for this transaction's own reads, and again once committed, in case
        # another process re-cached the old value in between.
        cache.delete(CACHE_KEY)
        transaction.on_commit(lambda: cache.delete(CACHE_KEY))
    return row
