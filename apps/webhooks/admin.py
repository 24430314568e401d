from __future__ import annotations

from typing import Any

from django.contrib import admin

from .models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "url", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("owner__email", "url")
    # The secret is never shown, not even to admins.
    fields = ("owner", "url", "events", "active", "created_at")
    readonly_fields = fields

    # Read-only: endpoints change through their owners' services (validated,
    # audited), never behind the audit trail's back.
    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "delivery_id",
        "endpoint",
        "event",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
    )
    list_filter = ("status", "event")
    search_fields = ("delivery_id", "endpoint__owner__email")
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False
