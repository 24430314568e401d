"""/ws/prices/: authenticated, origin-checked, one group per shared symbol."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from aaiti.asgi import application
from apps.market.consumers import PriceConsumer
from apps.market.live import group_name
from apps.market.models import Asset

# The consumer reads assets from another thread, so the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def assets(alice: Any) -> None:
    Asset.objects.create(symbol="BTC-USD", base="BTC", quote="USD")
    Asset.objects.create(symbol="DOGE-USD", base="DOGE", quote="USD", owner=alice)


def communicator(user: Any, query: str = "symbols=BTC-USD") -> WebsocketCommunicator:
    comm = WebsocketCommunicator(PriceConsumer.as_asgi(), f"/ws/prices/?{query}")
    comm.scope["user"] = user
    comm.scope["query_string"] = query.encode()
    return comm


def push(symbol: str, html: str) -> None:
    async_to_sync(get_channel_layer().group_send)(
        group_name(symbol), {"type": "price.update", "html": html, "seq": 1}
    )


async def _connect(comm: WebsocketCommunicator) -> tuple[bool, Any]:
    return await comm.connect()


def test_an_authenticated_socket_gets_its_symbols_pushes(
    assets: None, alice: Any
) -> None:
    async def scenario() -> None:
        comm = communicator(alice)
        connected, _ = await comm.connect()
        assert connected
        from channels.db import database_sync_to_async

        await database_sync_to_async(lambda: None)()
        await get_channel_layer().group_send(
            group_name("BTC-USD"),
            {"type": "price.update", "html": "<b>1</b>", "seq": 1},
        )
        assert await comm.receive_from(timeout=3) == "<b>1</b>"
        await comm.disconnect()

    async_to_sync(scenario)()


def test_anonymous_sockets_are_closed(assets: None) -> None:
    async def scenario() -> None:
        connected, code = await communicator(AnonymousUser()).connect()
        assert not connected and code == 4401

    async_to_sync(scenario)()


def test_private_and_unknown_symbols_are_not_streamed(assets: None, bob: Any) -> None:
    async def scenario() -> None:
        comm = communicator(bob, "symbols=DOGE-USD,XYZ-USD")
        connected, _ = await comm.connect()
        assert connected
        await get_channel_layer().group_send(
            group_name("DOGE-USD"), {"type": "price.update", "html": "leak", "seq": 1}
        )
        assert await comm.receive_nothing(timeout=0.5)
        await comm.disconnect()

    async_to_sync(scenario)()


def test_bad_symbol_lists_are_refused(assets: None, alice: Any) -> None:
    async def scenario() -> None:
        for query in [
            "",
            "symbols=",
            "symbols=" + ",".join(f"A{i}-USD" for i in range(21)),
        ]:
            connected, code = await communicator(alice, query).connect()
            assert not connected and code == 4400

    async_to_sync(scenario)()


def test_a_flooding_client_is_cut_off(assets: None, alice: Any) -> None:
    async def scenario() -> None:
        comm = communicator(alice)
        assert (await comm.connect())[0]
        await comm.send_to(text_data="x" * 5000)
        output = await comm.receive_output(timeout=2)
        assert output["type"] == "websocket.close" and output["code"] == 4413

    async_to_sync(scenario)()


def test_a_foreign_origin_is_refused_by_the_router(assets: None) -> None:
    async def scenario() -> None:
        comm = WebsocketCommunicator(
            application,
            "/ws/prices/?symbols=BTC-USD",
            headers=[(b"origin", b"https://evil.example"), (b"host", b"127.0.0.1")],
        )
        connected, _ = await comm.connect()
        assert not connected

    async_to_sync(scenario)()
