"""Live pushes go to the bot owner's group only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.system.consumers import user_group

from .conftest import START, feed, make_bot, run


def _drain(layer: Any, channel: str) -> list[dict[str, Any]]:
    out = []

    async def take() -> None:
        import asyncio

        while True:
            try:
                out.append(await asyncio.wait_for(layer.receive(channel), 0.3))
            except TimeoutError:
                return

    async_to_sync(take)()
    return out


@pytest.mark.django_db(transaction=False)
def test_fills_push_to_the_owner_only(
    alice: Any, bob: Any, asset: Any, django_capture_on_commit_callbacks: Any
) -> None:
    layer = get_channel_layer()
    a = async_to_sync(layer.new_channel)()
    b = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(alice.pk), a)
    async_to_sync(layer.group_add)(user_group(bob.pk), b)
    try:
        bot = run(make_bot(alice))
        with django_capture_on_commit_callbacks(execute=True):
            feed(asset, end=START + timedelta(hours=40))
        got_a, got_b = _drain(layer, a), _drain(layer, b)
    finally:
        async_to_sync(layer.group_discard)(user_group(alice.pk), a)
        async_to_sync(layer.group_discard)(user_group(bob.pk), b)
    assert got_a and not got_b
    html = got_a[-1]["html"]
    assert got_a[-1]["type"] == "push.html"
    assert f'id="bot-{bot.pk}-status"' in html and 'hx-swap-oob="true"' in html
    assert f'id="bot-{bot.pk}-row"' in html and f'id="bot-{bot.pk}-activity"' in html
