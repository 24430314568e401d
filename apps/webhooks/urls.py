from __future__ import annotations

from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("", views.section, name="section"),
    path("log/", views.delivery_log, name="log"),
    path("new/", views.create, name="create"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("<int:pk>/test/", views.test, name="test"),
    path("deliveries/<int:pk>/redeliver/", views.redeliver, name="redeliver"),
]
