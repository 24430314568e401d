"""/ws/prices/?symbols=BTC-USD,ETH-USD: live price fragments, one group per symbol.

Anonymous sockets are closed; the Origin is checked by the ASGI router
(AllowedHostsOriginValidator). Only shared assets are streamed. After connecting,
the consumer never touches the database: it skips Channels' per-message hop to a
thread that closes stale connections, which roughly halves the CPU per frame.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from apps.system.consumers import join

from .live import group_name
from .models import Asset

MAX_SYMBOLS = 20
SYMBOL = re.compile(r"^[A-Z0-9]{1,15}-[A-Z0-9]{1,15}$")


@database_sync_to_async
def shared_symbols(requested: list[str]) -> list[str]:
    return sorted(
        Asset.objects.shared()
        .active()
        .filter(symbol__in=requested)
        .values_list("symbol", flat=True)
    )


class PriceConsumer(AsyncWebsocketConsumer):
    groups_joined: list[str]

    async def connect(self) -> None:
        self.groups_joined = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode(errors="replace"))
        raw = ",".join(query.get("symbols", [])).upper().split(",")
        requested = sorted({s.strip() for s in raw if SYMBOL.match(s.strip())})
        if not requested or len(requested) > MAX_SYMBOLS:
            await self.close(code=4400)
            return
        for symbol in await shared_symbols(requested):
            group = group_name(symbol)
            if not await join(self.channel_layer, group, self.channel_name):
                # Redis is down: refuse the handshake (the page retries) rather
                # than answer it with a 500.
                await self.close(code=1013)
                return
            self.groups_joined.append(group)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] == "price.update":
            await self.price_update(message)  # no DB: no connection clean-up hop
            return
        await super().dispatch(message)

    async def receive(
        self, text_data: str | None = None, bytes_data: Any = None
    ) -> None:
        # Server to client only; a client that floods us is cut off.
        if bytes_data or (text_data and len(text_data) > 1024):
            await self.close(code=4413)
            raise StopConsumer

    async def price_update(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["html"])
