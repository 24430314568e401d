"""WebSocket routes. Each app adds its consumers here."""

from __future__ import annotations

from django.urls import path

from apps.market.consumers import PriceConsumer
from apps.system.consumers import MeConsumer

websocket_urlpatterns = [
    path("ws/me/", MeConsumer.as_asgi()),
    path("ws/prices/", PriceConsumer.as_asgi()),
]
