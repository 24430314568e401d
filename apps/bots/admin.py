"""Bots in Django admin: browse every bot and its ledger; pause or stop bots.

The ledger (accounts, positions, orders, fills, journal) is accounting: read-only
here, changed only by the engine and the bots' services. A bot is changed only
through the same services its owner uses (audited), as admin actions.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .models import Fill, JournalEntry, Order, PaperAccount, Position, TradingBot


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TradingBot)
class TradingBotAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "owner",
        "asset",
        "timeframe",
        "strategy",
        "mode",
        "status",
        "pause_reason",
        "last_active_at",
        "created_at",
    )
    list_filter = ("status", "mode", "strategy", "timeframe", "asset")
    search_fields = ("name", "owner__email", "asset__symbol")
    list_select_related = ("owner", "asset")
    date_hierarchy = "created_at"
    actions = ("pause_bots", "stop_bots")

    def _each(
        self, request: HttpRequest, queryset: QuerySet[TradingBot], verb: str
    ) -> None:
        done = 0
        for bot in queryset:
            try:
                if verb == "pause":
                    services.pause_bot(bot=bot, actor=request.user, request=request)
                else:
                    services.stop_bot(bot=bot, actor=request.user, request=request)
                done += 1
            except services.BotError as exc:
                self.message_user(request, f"{bot}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{done} bot(s) {verb}d.", messages.SUCCESS)

    @admin.action(description="Pause the selected running bots")
    def pause_bots(self, request: HttpRequest, queryset: QuerySet[TradingBot]) -> None:
        self._each(request, queryset, "pause")

    @admin.action(description="Stop the selected bots (pending orders cancelled)")
    def stop_bots(self, request: HttpRequest, queryset: QuerySet[TradingBot]) -> None:
        self._each(request, queryset, "stop")


@admin.register(PaperAccount)
class PaperAccountAdmin(ReadOnlyAdmin):
    list_display = ("bot", "starting_cash", "cash", "peak_equity", "day")
    search_fields = ("bot__name", "bot__owner__email")
    list_select_related = ("bot",)


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ("bot", "quantity", "average_price", "realised_pnl", "opened_at")
    search_fields = ("bot__name", "bot__owner__email")
    list_select_related = ("bot",)


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = (
        "pk",
        "bot",
        "side",
        "type",
        "source",
        "quantity",
        "limit_price",
        "status",
        "reason",
        "bar_time",
        "created_at",
    )
    list_filter = ("status", "side", "type", "source")
    search_fields = ("key", "bot__name", "bot__owner__email")
    list_select_related = ("bot",)
    date_hierarchy = "created_at"


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = (
        "pk",
        "bot",
        "side",
        "quantity",
        "price",
        "market_price",
        "fee",
        "slippage",
        "realised_pnl",
        "time",
    )
    list_filter = ("side",)
    search_fields = ("bot__name", "bot__owner__email")
    list_select_related = ("bot",)
    date_hierarchy = "time"


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "bot", "kind", "message", "bar_time")
    list_filter = ("kind",)
    search_fields = ("message", "bot__name", "bot__owner__email")
    list_select_related = ("bot",)
    date_hierarchy = "created_at"
