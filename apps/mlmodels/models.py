"""Forecasting models, their training runs and their stored predictions.

One symbol per model: ``symbol`` (with ``asset``, the market data it resolved to
for the owner when created) and ``timeframe`` say what the model forecasts: the
close of each future bar of that series.

A ``TrainingRun`` is one training: the data it saw (range, bar count, checksum),
the library versions and random seed, the walk-forward metrics, its artefact
(path under ``var/models/<owner>/<model>/<run>.zip`` plus SHA-256), duration,
error, live progress text and the Celery task id.

A ``ForecastJob`` is one request to forecast (a button, the API or the schedule).
Its result is ``horizon`` ``Prediction`` rows, one per future bar: value, interval
bounds at ``confidence``, the bar it targets and, once that bar has closed in the
market, the actual close and the error.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q


class ModelStatus(models.TextChoices):
    UNTRAINED = "untrained", "Untrained"
    QUEUED = "queued", "Queued"
    TRAINING = "training", "Training"
    TRAINED = "trained", "Trained"
    FAILED = "failed", "Failed"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    TRAINING = "training", "Training"
    TRAINED = "trained", "Trained"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


ACTIVE_RUN = (RunStatus.QUEUED, RunStatus.TRAINING)


class MLModelQuerySet(models.QuerySet["MLModel"]):
    def owned_by(self, user: Any) -> MLModelQuerySet:
        return self.filter(owner=user)

    def trained(self) -> MLModelQuerySet:
        return self.filter(trained_run__isnull=False)


class MLModel(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ml_models"
    )
    name = models.CharField(max_length=100)
    algorithm = models.CharField(max_length=32)
    symbol = models.CharField(max_length=32, help_text="One symbol per model.")
    asset = models.ForeignKey(
        "market.Asset", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    timeframe = models.CharField(max_length=3)
    params = models.JSONField(default=dict, blank=True)
    horizon = models.PositiveIntegerField(default=24, help_text="Bars forecast ahead.")
    folds = models.PositiveIntegerField(default=5)
    max_train_bars = models.PositiveIntegerField(
        default=2000, help_text="Most recent bars used to fit (each fold and final)."
    )
    level = models.FloatField(default=0.95, help_text="Prediction interval level.")
    scheduled = models.BooleanField(
        default=False,
        help_text="Retrain on new bars and forecast on the beat schedule.",
    )
    status = models.CharField(
        max_length=12, choices=ModelStatus.choices, default=ModelStatus.UNTRAINED
    )
    metrics = models.JSONField(default=dict, blank=True)
    skill = models.FloatField(null=True, blank=True)
    trained_run = models.ForeignKey(
        "TrainingRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The run whose artefact predictions use.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_trained_at = models.DateTimeField(null=True, blank=True)

    objects = MLModelQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"], name="mlmodels_model_unique_name"
            ),
            models.CheckConstraint(
                condition=Q(horizon__gte=1) & Q(horizon__lte=500),
                name="mlmodels_model_horizon_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.algorithm}, {self.symbol} {self.timeframe})"

    @property
    def is_busy(self) -> bool:
        return self.status in (ModelStatus.QUEUED, ModelStatus.TRAINING)

    @property
    def can_predict(self) -> bool:
        return self.trained_run_id is not None


class TrainingRun(models.Model):
    model = models.ForeignKey(MLModel, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(
        max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED
    )
    source = models.CharField(max_length=12, default="manual")  # manual / schedule
    algorithm = models.CharField(max_length=32)
    params = models.JSONField(default=dict)
    cancel_requested = models.BooleanField(default=False)
    progress = models.CharField(max_length=200, blank=True)
    progress_percent = models.PositiveSmallIntegerField(default=0)
    celery_task_id = models.CharField(max_length=64, blank=True)
    # Deliveries that claimed the run; more than one means a worker died holding it
    # (see services.training.MAX_ATTEMPTS, the cap that stops a run that kills
    # every worker).
    attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    predict_after = models.BooleanField(default=False)
    data_start = models.DateTimeField(null=True, blank=True)
    data_end = models.DateTimeField(
        null=True, blank=True, help_text="Open time of the last bar trained on."
    )
    bars = models.PositiveIntegerField(null=True, blank=True)
    data_sha256 = models.CharField(max_length=64, blank=True)
    library_versions = models.JSONField(default=dict, blank=True)
    random_seed = models.IntegerField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    chart = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    artefact_path = models.CharField(max_length=500, blank=True)
    artefact_sha256 = models.CharField(max_length=64, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # At most one queued or training run per model.
            models.UniqueConstraint(
                fields=["model"],
                condition=Q(status__in=["queued", "training"]),
                name="mlmodels_run_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of model {self.model_id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status not in ACTIVE_RUN


class ForecastJob(models.Model):
    model = models.ForeignKey(
        MLModel, on_delete=models.CASCADE, related_name="forecast_jobs"
    )
    run = models.ForeignKey(
        TrainingRun, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED
    )
    source = models.CharField(max_length=12, default="manual")  # manual / schedule
    celery_task_id = models.CharField(max_length=64, blank=True)
    origin_time = models.DateTimeField(
        null=True, blank=True, help_text="Open time of the last bar the model saw."
    )
    market_time = models.DateTimeField(
        null=True, blank=True, help_text="The market's 'now' when the job ran."
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"forecast {self.pk} of model {self.model_id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)


class PredictionQuerySet(models.QuerySet["Prediction"]):
    def scored(self) -> PredictionQuerySet:
        return self.filter(actual__isnull=False)

    def unscored(self) -> PredictionQuerySet:
        return self.filter(actual__isnull=True)


class Prediction(models.Model):
    model = models.ForeignKey(
        MLModel, on_delete=models.CASCADE, related_name="predictions"
    )
    job = models.ForeignKey(
        ForecastJob, on_delete=models.CASCADE, related_name="predictions"
    )
    symbol = models.CharField(max_length=32)
    timestamp = models.DateTimeField(help_text="When the prediction was made.")
    horizon = models.PositiveIntegerField(help_text="Bars after the origin bar.")
    target_time = models.DateTimeField(help_text="Open time of the bar forecast.")
    value = models.FloatField(help_text="Forecast close of the target bar.")
    lower = models.FloatField()
    upper = models.FloatField()
    confidence = models.FloatField(help_text="Interval level, e.g. 0.95.")
    features = models.JSONField(default=dict, blank=True)
    actual = models.FloatField(null=True, blank=True)
    error = models.FloatField(null=True, blank=True, help_text="actual - value")
    scored_at = models.DateTimeField(null=True, blank=True)

    objects = PredictionQuerySet.as_manager()

    class Meta:
        ordering = ["-timestamp", "target_time", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "horizon"], name="mlmodels_prediction_unique_step"
            ),
            models.CheckConstraint(
                condition=Q(lower__lte=models.F("upper")),
                name="mlmodels_prediction_bounds_ordered",
            ),
        ]
        indexes = [models.Index(fields=["model", "target_time"])]

    def __str__(self) -> str:
        return f"{self.symbol} {self.target_time:%Y-%m-%d %H:%M} -> {self.value:.2f}"

    @property
    def covered(self) -> bool | None:
        if self.actual is None:
            return None
        return self.lower <= self.actual <= self.upper

    def close_time(self, timeframe_seconds: int) -> Any:
        return self.target_time + timedelta(seconds=timeframe_seconds)
