from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditLog


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """Read-only: the trail can be searched and filtered, never edited."""

    list_display = (
        "seq",
        "timestamp",
        "actor_email",
        "action",
        "resource_type",
        "resource_id",
        "ip_address",
    )
    list_filter = ("action", ("timestamp", admin.DateFieldListFilter), "user")
    search_fields = ("actor_email", "action", "resource_type", "resource_id")
    date_hierarchy = "timestamp"
    readonly_fields = [f.name for f in AuditLog._meta.fields]
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}
