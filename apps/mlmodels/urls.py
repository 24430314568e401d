from __future__ import annotations

from django.urls import path

from . import views

app_name = "mlmodels"

urlpatterns = [
    path("", views.index, name="index"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/status/", views.status, name="status"),
    path("<int:pk>/predictions/", views.predictions, name="predictions"),
    path("<int:pk>/train/", views.train, name="train"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("<int:pk>/predict/", views.predict, name="predict"),
    path("<int:pk>/delete/", views.delete, name="delete"),
]
