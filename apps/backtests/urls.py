from __future__ import annotations

from django.urls import path

from . import views

app_name = "backtests"

urlpatterns = [
    path("", views.index, name="index"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/status/", views.status, name="status"),
    path("<int:pk>/trades.csv", views.trades_csv, name="trades-csv"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("sweeps/", views.sweeps, name="sweeps"),
    path("sweeps/<int:pk>/", views.sweep_detail, name="sweep"),
    path("sweeps/<int:pk>/status/", views.sweep_status, name="sweep-status"),
    path("sweeps/<int:pk>/delete/", views.sweep_delete, name="sweep-delete"),
]
