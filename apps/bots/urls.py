from __future__ import annotations

from django.urls import path

from . import views

app_name = "bots"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/compare/", views.compare, name="compare"),
    path("<int:pk>/<str:name>/", views.action, name="action"),
]
