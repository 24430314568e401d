from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Asset, Candle, MarketImport


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ("symbol", "owner", "active", "coingecko_id", "created_at")
    list_filter = ("active", ("owner", admin.EmptyFieldListFilter))
    search_fields = ("symbol", "owner__email")
    readonly_fields = ("symbol", "base", "quote", "owner", "created_at")
    fields = (
        "symbol",
        "base",
        "quote",
        "owner",
        "coingecko_id",
        "active",
        "created_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # assets come from imports and the sample loader


@admin.register(Candle)
class CandleAdmin(admin.ModelAdmin):
    """Read-only: candles change through imports, never by hand."""

    list_display = (
        "asset",
        "timeframe",
        "open_time",
        "open",
        "high",
        "low",
        "close",
        "volume",
    )
    list_filter = ("timeframe", "asset")
    date_hierarchy = "open_time"
    show_full_result_count = False
    list_select_related = ("asset",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MarketImport)
class MarketImportAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "owner",
        "symbol",
        "timeframe",
        "filename",
        "status",
        "inserted",
        "error_count",
    )
    list_filter = ("status", "timeframe")
    search_fields = ("symbol", "filename", "owner__email")
    readonly_fields = [f.name for f in MarketImport._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
