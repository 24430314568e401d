from __future__ import annotations

from django.contrib import admin

from .models import ForecastJob, MLModel, Prediction, TrainingRun


@admin.register(MLModel)
class MLModelAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "algorithm", "symbol", "timeframe", "status")
    list_filter = ("algorithm", "status", "timeframe")
    search_fields = ("name", "owner__email", "symbol")
    readonly_fields = ("metrics", "skill", "trained_run", "last_trained_at")


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ("pk", "model", "status", "created_at", "duration_seconds")
    list_filter = ("status",)
    readonly_fields = [f.name for f in TrainingRun._meta.fields]


@admin.register(ForecastJob)
class ForecastJobAdmin(admin.ModelAdmin):
    list_display = ("pk", "model", "status", "source", "created_at")
    list_filter = ("status", "source")


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ("model", "target_time", "value", "actual", "error")
    readonly_fields = [f.name for f in Prediction._meta.fields]
