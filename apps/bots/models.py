"""Paper-trading bots and their Decimal ledger.

A bot trades one shared asset on one timeframe with a strategy from
``apps.backtests.strategies``. Its paper account, orders, fills and position are
exact decimals; the strategy itself computes in float64 like the backtester.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.market.models import TIMEFRAMES

MONEY = {"max_digits": 28, "decimal_places": 10}
QTY = {"max_digits": 28, "decimal_places": 12}
RATIO = {"max_digits": 12, "decimal_places": 6}
TIMEFRAME_CHOICES = [(t, t) for t in TIMEFRAMES]
ZERO = Decimal(0)


class BotQuerySet(models.QuerySet["TradingBot"]):
    def owned_by(self, user: Any) -> BotQuerySet:
        return self.filter(owner=user)

    def running(self) -> BotQuerySet:
        return self.filter(status=TradingBot.Status.RUNNING)


class TradingBot(models.Model):
    class Status(models.TextChoices):
        STOPPED = "stopped"
        RUNNING = "running"
        PAUSED = "paused"

    class Mode(models.TextChoices):
        PAPER = "paper"
        LIVE = "live"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bots"
    )
    name = models.CharField(max_length=100)
    asset = models.ForeignKey(
        "market.Asset", on_delete=models.PROTECT, related_name="bots"
    )
    strategy = models.CharField(max_length=40)
    params = models.JSONField(default=dict, blank=True)
    timeframe = models.CharField(max_length=3, choices=TIMEFRAME_CHOICES)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.PAPER)
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.STOPPED
    )
    pause_reason = models.CharField(max_length=300, blank=True)
    # configuration: costs, sizing, risk rules (ratios: 0.05 means 5 %)
    fee_bps = models.DecimalField(**RATIO, default=Decimal(10))
    slippage_bps = models.DecimalField(**RATIO, default=Decimal(0))
    fraction = models.DecimalField(
        **RATIO, default=Decimal(1), help_text="share of equity per entry"
    )
    max_position = models.DecimalField(
        **RATIO, default=Decimal(1), help_text="largest position / equity"
    )
    stop_loss = models.DecimalField(**RATIO, null=True, blank=True)
    take_profit = models.DecimalField(**RATIO, null=True, blank=True)
    max_daily_loss = models.DecimalField(**RATIO, null=True, blank=True)
    max_drawdown = models.DecimalField(**RATIO, null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    # the open time of the last bar the bot decided on (decisions move forward only)
    last_bar_time = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_active_at = models.DateTimeField(null=True, blank=True)

    objects = BotQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["asset", "status"]),
            # A user's bots by status, newest first (tests/system/test_indexes.py).
            models.Index(
                fields=["owner", "status", "created_at"], name="bots_bot_owner_status"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(fraction__gt=0) & Q(fraction__lte=1),
                name="bots_bot_fraction_range",
            ),
            models.CheckConstraint(
                condition=Q(max_position__gt=0), name="bots_bot_max_position_pos"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def symbol(self) -> str:
        return self.asset.symbol

    @property
    def base(self) -> str:
        return self.asset.symbol.split("-")[0]


class PaperAccount(models.Model):
    bot = models.OneToOneField(
        TradingBot, on_delete=models.CASCADE, related_name="account"
    )
    starting_cash = models.DecimalField(**MONEY, default=Decimal(10_000))
    cash = models.DecimalField(**MONEY, default=Decimal(10_000))
    peak_equity = models.DecimalField(**MONEY, default=Decimal(10_000))
    day = models.DateField(null=True, blank=True)
    day_start_equity = models.DecimalField(**MONEY, default=Decimal(10_000))

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(cash__gte=0), name="bots_account_cash_nonneg"
            ),
            models.CheckConstraint(
                condition=Q(starting_cash__gt=0), name="bots_account_start_pos"
            ),
        ]

    def __str__(self) -> str:
        return f"account of bot {self.bot_id}"


class Position(models.Model):
    bot = models.OneToOneField(
        TradingBot, on_delete=models.CASCADE, related_name="position"
    )
    quantity = models.DecimalField(**QTY, default=ZERO)
    average_price = models.DecimalField(**MONEY, default=ZERO)
    realised_pnl = models.DecimalField(**MONEY, default=ZERO)
    opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=0), name="bots_position_long_only"
            )
        ]

    def __str__(self) -> str:
        return f"{self.quantity} @ {self.average_price}"


class Order(models.Model):
    class Side(models.TextChoices):
        BUY = "buy"
        SELL = "sell"

    class Type(models.TextChoices):
        MARKET = "market"
        LIMIT = "limit"

    class Status(models.TextChoices):
        NEW = "new"
        FILLED = "filled"
        CANCELLED = "cancelled"
        REJECTED = "rejected"

    class Source(models.TextChoices):
        STRATEGY = "strategy"
        MANUAL = "manual"
        RISK = "risk"
        STOP = "stop"

    bot = models.ForeignKey(TradingBot, on_delete=models.CASCADE, related_name="orders")
    key = models.CharField(max_length=200, help_text="idempotency key, unique per bot")
    side = models.CharField(max_length=4, choices=Side.choices)
    type = models.CharField(max_length=6, choices=Type.choices, default=Type.MARKET)
    source = models.CharField(
        max_length=8, choices=Source.choices, default=Source.STRATEGY
    )
    quantity = models.DecimalField(**QTY)
    # strategy entries are sized at the fill, as the backtester does
    size_at_fill = models.BooleanField(default=False)
    limit_price = models.DecimalField(**MONEY, null=True, blank=True)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.NEW)
    reason = models.CharField(max_length=300, blank=True)
    bar_time = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["bot", "status"]),
            # A bot's orders newest first, a page at a time, without sorting them all.
            models.Index(fields=["bot", "created_at"], name="bots_order_bot_created"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["bot", "key"], name="bots_order_key_unique"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="bots_order_quantity_pos"
            ),
            models.CheckConstraint(
                condition=Q(limit_price__isnull=True) | Q(limit_price__gt=0),
                name="bots_order_limit_pos",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} ({self.status})"


class Fill(models.Model):
    bot = models.ForeignKey(TradingBot, on_delete=models.CASCADE, related_name="fills")
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="fill")
    side = models.CharField(max_length=4, choices=Order.Side.choices)
    price = models.DecimalField(**MONEY, help_text="fill price, slippage included")
    market_price = models.DecimalField(**MONEY)
    quantity = models.DecimalField(**QTY)
    fee = models.DecimalField(**MONEY)
    slippage = models.DecimalField(**MONEY, help_text="cost of slippage, quote")
    realised_pnl = models.DecimalField(**MONEY, default=ZERO)
    time = models.DateTimeField(help_text="market time (replay: the bar's open)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-time", "-pk"]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} @ {self.price}"


class JournalEntry(models.Model):
    class Kind(models.TextChoices):
        DECISION = "decision"
        ORDER = "order"
        FILL = "fill"
        RISK = "risk"
        LIFECYCLE = "lifecycle"

    bot = models.ForeignKey(
        TradingBot, on_delete=models.CASCADE, related_name="journal"
    )
    kind = models.CharField(max_length=9, choices=Kind.choices)
    message = models.CharField(max_length=500)
    inputs = models.JSONField(default=dict, blank=True)
    bar_time = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.message
