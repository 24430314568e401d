from __future__ import annotations

from django.urls import path

from . import api

urlpatterns = [
    path("bots/", api.BotList.as_view(), name="api-bots"),
    path("bots/<int:pk>/", api.BotDetail.as_view(), name="api-bot"),
    *[
        path(
            f"bots/<int:pk>/{name}/",
            api.BotAction.as_view(action=name),
            name=f"api-bot-{name}",
        )
        for name in ("start", "pause", "stop", "reset")
    ],
    path("bots/<int:pk>/orders/", api.OrderList.as_view(), name="api-bot-orders"),
    path("bots/<int:pk>/fills/", api.FillList.as_view(), name="api-bot-fills"),
    path(
        "bots/<int:pk>/position/", api.PositionView.as_view(), name="api-bot-position"
    ),
    path("bots/<int:pk>/journal/", api.JournalList.as_view(), name="api-bot-journal"),
    path("bots/<int:pk>/metrics/", api.MetricsView.as_view(), name="api-bot-metrics"),
]
