"""/ws/me/: the caller's private stream (jobs, bots, fills), one group per user."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


class MeConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=4401)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(
        self, text_data: str | None = None, bytes_data: Any = None
    ) -> None:
        # The stream is server to client only; a client that talks is ignored.
        return

    async def push_html(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["html"])
