from __future__ import annotations

from django.urls import path

from . import api

urlpatterns = [
    path("algorithms/", api.AlgorithmList.as_view(), name="api-algorithms"),
    path("models/", api.ModelList.as_view(), name="api-models"),
    path("models/compare/", api.Compare.as_view(), name="api-models-compare"),
    path("models/<int:pk>/", api.ModelDetail.as_view(), name="api-model"),
    path("models/<int:pk>/train/", api.Train.as_view(), name="api-model-train"),
    path("models/<int:pk>/cancel/", api.Cancel.as_view(), name="api-model-cancel"),
    path("models/<int:pk>/predict/", api.Predict.as_view(), name="api-model-predict"),
    path("models/<int:pk>/runs/", api.RunList.as_view(), name="api-model-runs"),
    path(
        "models/<int:pk>/runs/<int:run_id>/",
        api.RunDetail.as_view(),
        name="api-model-run",
    ),
    path(
        "models/<int:pk>/predictions/",
        api.PredictionList.as_view(),
        name="api-model-predictions",
    ),
    path(
        "models/<int:pk>/forecasts/<int:job_id>/",
        api.ForecastDetail.as_view(),
        name="api-model-forecast",
    ),
]
