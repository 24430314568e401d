from __future__ import annotations

from django.urls import path

from . import api

urlpatterns = [
    path("audit/", api.AuditLogList.as_view(), name="api-audit"),
]
