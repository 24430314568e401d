from __future__ import annotations

from django.urls import path

from . import views

app_name = "market"

urlpatterns = [
    path("", views.index, name="index"),
    path("imports/<int:pk>/", views.import_detail, name="import"),
    path("<str:symbol>/", views.asset_detail, name="asset"),
    path("<str:symbol>/live/", views.live_fragment, name="live"),
]
