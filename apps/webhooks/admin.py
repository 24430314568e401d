from __future__ import annotations

from typing import Any

from django.contrib import admin

from . import services
from .models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "url", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("owner__email", "url")
    # The secret is never shown, not even to admins.
    fields = ("owner", "url", "events", "active", "created_at")
    readonly_fields = fields

    # Read-only but deletable (an abusive target; a user being deleted): changes
    # go through the owners' validated services, deletions through the audited one.
    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: Any, obj: WebhookEndpoint) -> None:
        services.delete_endpoint(endpoint=obj, actor=request.user, request=request)

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        for endpoint in queryset:
            self.delete_model(request, endpoint)


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
