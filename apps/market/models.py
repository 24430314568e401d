"""Market data: assets and their OHLCV candles.

Prices and volumes are stored as float64 (``FloatField``). A decimal price of up to 15
significant digits, as exchanges publish them, round-trips exactly through float64 and
back to text; the backtest engine reads them as numpy arrays without conversion. The
bots' ledger converts a price to ``Decimal`` from its shortest text form.

An asset with no owner is shared market data (the sample files, the live feed, an
admin's import). A trader's own import goes into a private asset of theirs, which only
they see and which shadows a shared asset of the same symbol for them: one user's file
can never change the prices another user trains, backtests or trades on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from .resample import TIMEFRAME_SECONDS

# One table of timeframes for the whole project, kept beside the resampling code.
TIMEFRAMES: dict[str, int] = TIMEFRAME_SECONDS
TIMEFRAME_CHOICES = [(tf, tf) for tf in TIMEFRAMES]


def timeframe_delta(timeframe: str) -> timedelta:
    return timedelta(seconds=TIMEFRAMES[timeframe])


class AssetQuerySet(models.QuerySet["Asset"]):
    def shared(self) -> AssetQuerySet:
        return self.filter(owner__isnull=True)

    def visible_to(self, user: Any) -> AssetQuerySet:
        """Shared assets plus the user's own private ones."""
        if user is None or not user.is_authenticated:
            return self.shared()
        return self.filter(Q(owner__isnull=True) | Q(owner=user))

    def active(self) -> AssetQuerySet:
        return self.filter(active=True)

    def resolve(self, user: Any, symbol: str) -> Asset:
        """The asset ``symbol`` means for ``user``: their own first, else shared.
        Raises Asset.DoesNotExist."""
        symbol = symbol.upper()
        if user is not None and user.is_authenticated:
            own = self.filter(owner=user, symbol=symbol).first()
            if own is not None:
                return own
        return self.shared().get(symbol=symbol)


class Asset(models.Model):
    symbol = models.CharField(max_length=32, help_text="BASE-QUOTE, e.g. BTC-USD")
    base = models.CharField(max_length=16)
    quote = models.CharField(max_length=16)
    coingecko_id = models.CharField(max_length=64, blank=True)
    active = models.BooleanField(default=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="private_assets",
        help_text="Empty for shared market data; set for a trader's private import.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AssetQuerySet.as_manager()

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.UniqueConstraint(
                fields=["symbol"],
                condition=Q(owner__isnull=True),
                name="market_asset_shared_symbol_unique",
            ),
            models.UniqueConstraint(
                fields=["owner", "symbol"],
                condition=Q(owner__isnull=False),
                name="market_asset_private_symbol_unique",
            ),
            models.CheckConstraint(
                condition=Q(symbol__regex=r"^[A-Z0-9]{1,15}-[A-Z0-9]{1,15}$"),
                name="market_asset_symbol_format",
            ),
        ]

    def __str__(self) -> str:
        return self.symbol if self.owner_id is None else f"{self.symbol} (private)"

    @property
    def is_private(self) -> bool:
        return self.owner_id is not None


class CandleQuerySet(models.QuerySet["Candle"]):
    def series(
        self,
        asset: Asset,
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> CandleQuerySet:
        qs = self.filter(asset=asset, timeframe=timeframe)
        if start is not None:
            qs = qs.filter(open_time__gte=start)
        if end is not None:
            qs = qs.filter(open_time__lt=end)
        return qs.order_by("open_time")


class Candle(models.Model):
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="candles")
    timeframe = models.CharField(max_length=3, choices=TIMEFRAME_CHOICES)
    open_time = models.DateTimeField(help_text="UTC start of the bar")
    open = models.FloatField()
    high = models.FloatField()
    low = models.FloatField()
    close = models.FloatField()
    # None when the source had no volume: never an invented zero.
    volume = models.FloatField(null=True, blank=True)

    objects = CandleQuerySet.as_manager()

    class Meta:
        ordering = ["asset", "timeframe", "open_time"]
        constraints = [
            # Its index serves every range read (asset, timeframe, time window).
            models.UniqueConstraint(
                fields=["asset", "timeframe", "open_time"],
                name="market_candle_unique_bar",
            ),
            models.CheckConstraint(
                condition=Q(open__gt=0) & Q(high__gt=0) & Q(low__gt=0) & Q(close__gt=0),
                name="market_candle_prices_positive",
            ),
            models.CheckConstraint(
                condition=Q(low__lte=models.F("open"))
                & Q(low__lte=models.F("close"))
                & Q(high__gte=models.F("open"))
                & Q(high__gte=models.F("close")),
                name="market_candle_range_sane",
            ),
            models.CheckConstraint(
                condition=Q(volume__gte=0) | Q(volume__isnull=True),
                name="market_candle_volume_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(timeframe__in=list(TIMEFRAMES)),
                name="market_candle_timeframe_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asset.symbol} {self.timeframe} {self.open_time:%Y-%m-%d %H:%M}"


class MarketImport(models.Model):
    """One file import and its report: what was written, what was wrong, by line."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="market_imports",
    )
    asset = models.ForeignKey(
        Asset, null=True, blank=True, on_delete=models.SET_NULL, related_name="imports"
    )
    symbol = models.CharField(max_length=32)
    timeframe = models.CharField(max_length=3, choices=TIMEFRAME_CHOICES)
    filename = models.CharField(max_length=255, blank=True)
    layout = models.CharField(max_length=32, blank=True)
    skip_bad_rows = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.RUNNING
    )
    rows_read = models.PositiveIntegerField(default=0)
    inserted = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text="The first bad rows: line and reason."
    )
    message = models.TextField(blank=True)
    first_time = models.DateTimeField(null=True, blank=True)
    last_time = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"import {self.pk} {self.symbol} {self.timeframe} {self.status}"
