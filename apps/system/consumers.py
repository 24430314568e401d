"""/ws/me/?topics=...: the caller's private stream (jobs, bots, fills), one group
per user. The socket receives only the pushes of the topics its page shows (see
``apps.system.live``); a socket that names no topic receives nothing."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from redis.exceptions import RedisError

TOPIC = re.compile(r"^[a-z]{1,20}(:\d{1,12})?$")
MAX_TOPICS = 20


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def parse_topics(query_string: bytes) -> set[str] | None:
    """The topics a page asked for, or None when the request is malformed."""
    query = parse_qs(query_string.decode(errors="replace"))
    raw = [t.strip() for t in ",".join(query.get("topics", [])).split(",")]
    topics = {t for t in raw if t}
    if len(topics) > MAX_TOPICS or not all(TOPIC.match(t) for t in topics):
        return None
    return topics


log = logging.getLogger(__name__)


async def join(layer: Any, group: str, channel: str) -> bool:
    """Join ``group``; False when Redis does not answer. A pooled connection left
    stale by a Redis restart fails its first command and is dropped by the pool,
    so one failure is tried again on a fresh connection."""
    for _ in range(2):
        try:
            await layer.group_add(group, channel)
            return True
        except (RedisError, OSError):
            continue
    return False


class MeConsumer(AsyncWebsocketConsumer):
    topics: set[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=4401)
            return
        topics = parse_topics(self.scope.get("query_string", b""))
        if topics is None:
            await self.close(code=4400)
            return
        self.topics = topics
        # Only the owner's group is ever joined: a topic naming another user's
        # object receives nothing, since nobody pushes it to this group.
        self.group = user_group(user.pk)
        if not await join(self.channel_layer, self.group, self.channel_name):
            # Redis is down: refuse the handshake (the page's socket retries
            # with backoff) rather than answer it with a 500.
            log.warning("/ws/me/ refused: the channel layer is not answering")
            del self.group
            await self.close(code=1013)
            return
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
        html = "".join(
            part for topics, part in event["parts"] if self.topics.intersection(topics)
        )
        if html:
            await self.send(text_data=html)
