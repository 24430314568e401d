"""Backtests and parameter sweeps: what was asked, how far it got, what came out.

Money here is float64, as in the engine (``engine.py``): a backtest is research,
computed over float64 arrays for speed, and its figures are stored as floats. The
bots' ledger, where money is held, uses Decimal.

A model-driven backtest links the ``model`` it traded on (``model_driven.py``); its
refit settings live in ``params``. Not here yet: the seed's ``bot`` link.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from django.conf import settings
from django.db import models
from django.db.models import F, Q

from apps.market.models import TIMEFRAME_CHOICES, Asset


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


FINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED)


class OwnedQuerySet(models.QuerySet):
    def owned_by(self, user: Any) -> OwnedQuerySet:
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)


def _job_constraints(prefix: str) -> list[models.BaseConstraint]:
    return [
        models.CheckConstraint(
            condition=Q(start__lt=F("end")), name=f"{prefix}_start_before_end"
        ),
        models.CheckConstraint(
            condition=Q(status__in=JobStatus.values), name=f"{prefix}_status_valid"
        ),
        models.CheckConstraint(
            condition=Q(progress__gte=0) & Q(progress__lte=100),
            name=f"{prefix}_progress_0_100",
        ),
        models.CheckConstraint(
            condition=Q(initial_capital__gt=0), name=f"{prefix}_capital_positive"
        ),
    ]


class JobFields(models.Model):
    """What a backtest and a sweep share: the market, the period, the costs."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    # The asset resolved for the owner at creation (their private copy shadows the
    # shared one); the symbol stays readable if the asset is deleted later.
    asset = models.ForeignKey(
        Asset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    symbol = models.CharField(max_length=32)
    timeframe = models.CharField(max_length=3, choices=TIMEFRAME_CHOICES)
    strategy = models.CharField(max_length=40)
    params = models.JSONField(default=dict, blank=True)
    start = models.DateTimeField()
    end = models.DateTimeField(help_text="exclusive")
    initial_capital = models.FloatField(default=10_000.0)
    fee_bps = models.FloatField()
    slippage_bps = models.FloatField()
    fraction = models.FloatField(default=1.0, help_text="share of equity per trade")
    status = models.CharField(
        max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class Backtest(JobFields):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtests"
    )
    stop_loss = models.FloatField(null=True, blank=True)
    take_profit = models.FloatField(null=True, blank=True)
    trailing_stop = models.FloatField(null=True, blank=True)
    bars = models.PositiveIntegerField(default=0)
    final_capital = models.FloatField(null=True, blank=True)
    total_return = models.FloatField(null=True, blank=True)
    trade_count = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True)
    trades = models.JSONField(default=list, blank=True)
    # [[epoch s, equity, drawdown], ...], at most CHART_POINTS points, for the page.
    equity_chart = models.JSONField(default=list, blank=True)
    # The full curve, compressed numpy arrays (time int64, equity float64).
    equity_blob = models.BinaryField(null=True, blank=True, editable=False)
    # The model a model-driven backtest traded on; kept (unlinked) if it is deleted.
    model = models.ForeignKey(
        "mlmodels.MLModel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="backtests",
    )
    # Deliveries that claimed the job: more than one means a worker died running it
    # (see services.MAX_ATTEMPTS, the cap that stops a job that kills every worker).
    attempts = models.PositiveSmallIntegerField(default=0, editable=False)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = _job_constraints("backtests_backtest")
        # A user's jobs newest first, and by status (tests/system/test_indexes.py).
        indexes = [
            models.Index(
                fields=["owner", "created_at"], name="backtests_bt_owner_created"
            ),
            models.Index(
                fields=["owner", "status", "created_at"],
                name="backtests_bt_owner_status",
            ),
        ]

    def __str__(self) -> str:
        return f"backtest {self.pk} {self.strategy} {self.symbol} {self.timeframe}"

    def full_equity(self) -> tuple[np.ndarray, np.ndarray]:
        """The stored equity curve: (epoch seconds, equity), one value per bar."""
        if not self.equity_blob:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        with np.load(io.BytesIO(bytes(self.equity_blob))) as arrays:
            return arrays["time"], arrays["equity"]


def pack_equity(time: np.ndarray, equity: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, time=time.astype(np.int64), equity=equity)
    return buffer.getvalue()


class Sweep(JobFields):
    """A grid over a strategy's parameters, ranked on the in-sample bars."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sweeps"
    )
    grid = models.JSONField(help_text="{param: [values]}; other params from params")
    metric = models.CharField(max_length=32, default="sharpe")
    in_sample = models.FloatField(
        default=0.7, help_text="share of the bars, oldest first, used for ranking"
    )
    combinations = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(
        default=0, help_text="grid points the strategy's own rules refuse"
    )
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    bars_in_sample = models.PositiveIntegerField(default=0)
    bars_out_sample = models.PositiveIntegerField(default=0)
    split_time = models.DateTimeField(null=True, blank=True)
    # Every combination, best first by the in-sample metric.
    results = models.JSONField(default=list, blank=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["owner", "created_at"], name="backtests_sw_owner_created"
            ),
            models.Index(
                fields=["owner", "status", "created_at"],
                name="backtests_sw_owner_status",
            ),
        ]
        constraints = [
            *_job_constraints("backtests_sweep"),
            models.CheckConstraint(
                condition=Q(in_sample__gt=0) & Q(in_sample__lt=1),
                name="backtests_sweep_in_sample_0_1",
            ),
        ]

    def __str__(self) -> str:
        return f"sweep {self.pk} {self.strategy} {self.symbol} {self.timeframe}"

    @property
    def grid_params(self) -> list[str]:
        return list(self.grid)


class SweepChunk(models.Model):
    """One Celery task's share of a sweep: a few combinations and their results."""

    sweep = models.ForeignKey(Sweep, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    combos = models.JSONField()
    status = models.CharField(
        max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED
    )
    results = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Deliveries that claimed the chunk, capped like a backtest's (MAX_ATTEMPTS).
    attempts = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["sweep", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["sweep", "index"], name="backtests_sweepchunk_unique_index"
            ),
        ]

    def __str__(self) -> str:
        return f"sweep {self.sweep_id} chunk {self.index}"
