"""/ws/me/: only the owner's group, and only the topics the page asked for."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from apps.system.consumers import MeConsumer, parse_topics
from apps.system.live import push_to_user

pytestmark = pytest.mark.django_db(transaction=True)


def communicator(user: Any, query: str) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(MeConsumer.as_asgi(), f"/ws/me/?{query}")
    comm.scope["user"] = user
    comm.scope["query_string"] = query.encode()
    return comm


def test_parse_topics() -> None:
    assert parse_topics(b"topics=bots,bot:12") == {"bots", "bot:12"}
    assert parse_topics(b"topics=dashboard&topics=models") == {"dashboard", "models"}
    assert parse_topics(b"") == set()
    assert parse_topics(b"topics=bot:x") is None
    assert parse_topics(b"topics=" + b",".join(b"t%d" % i for i in range(30))) is None
    assert parse_topics(b"topics=BOTS") is None


def test_a_socket_gets_only_its_topics_and_only_its_users(alice: Any, bob: Any) -> None:
    async_to_sync(_topics_scenario)(alice, bob)


async def _topics_scenario(alice: Any, bob: Any) -> None:
    bots = communicator(alice, "topics=bots")
    page = communicator(alice, "topics=bot:7,dashboard")
    none = communicator(alice, "")
    theirs = communicator(bob, "topics=bots,bot:7,dashboard")
    for comm in (bots, page, none, theirs):
        connected, _ = await comm.connect()
        assert connected
    try:
        send = sync_to_async(push_to_user)
        await send(alice.pk, "<tr id='bot-7-row'></tr>", topics=["bots"])
        await send(alice.pk, "<div id='bot-7-status'></div>", topics=["bot:7"])
        await send(alice.pk, "<div id='bot-8-status'></div>", topics=["bot:8"])
        assert "bot-7-row" in await bots.receive_from(timeout=2)
        assert await bots.receive_nothing(timeout=0.3)
        assert "bot-7-status" in await page.receive_from(timeout=2)
        assert await page.receive_nothing(timeout=0.3)  # bot 8's page only
        assert await none.receive_nothing(timeout=0.3)
        assert await theirs.receive_nothing(timeout=0.3)  # bob sees none of alice's
    finally:
        for comm in (bots, page, none, theirs):
            await comm.disconnect()


def test_bad_topics_and_anonymous_sockets_are_closed(alice: Any) -> None:
    async_to_sync(_closed_scenario)(alice)


async def _closed_scenario(alice: Any) -> None:
    bad = communicator(alice, "topics=../../x")
    connected, code = await bad.connect()
    assert not connected and code == 4400
    anon = communicator(AnonymousUser(), "topics=bots")
    connected, code = await anon.connect()
    assert not connected and code == 4401
