"""Training progress reaches the owner's private group live."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.mlmodels import services
from apps.system.consumers import user_group


@pytest.mark.django_db
def test_training_progress_is_pushed_to_the_owners_group(
    alice: Any, bob: Any, make_model: Any, django_capture_on_commit_callbacks: Any
) -> None:
    layer = get_channel_layer()
    mine = async_to_sync(layer.new_channel)()
    theirs = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(alice.pk), mine)
    async_to_sync(layer.group_add)(user_group(bob.pk), theirs)
    try:
        model = make_model(alice)
        # Pushes are sent after commit; here the test's transaction stands in.
        with django_capture_on_commit_callbacks(execute=True):
            run = services.start_training(model=model, actor=alice, enqueue=False)
            services.run_training(run_id=run.pk)
        received = []
        while True:
            try:
                message = async_to_sync(_receive)(layer, mine)
            except TimeoutError:
                break
            # Only this model's fragments: another process sharing the Redis DB
            # could push to a group of the same name.
            html = "".join(h for _t, h in message["parts"])
            if f"model-{model.pk}-status" in html:
                received.append(html)
        assert received, "nothing pushed"
        assert all(f'id="model-{model.pk}-status"' in h for h in received)
        assert all('hx-swap-oob="true"' in h for h in received)
        texts = " ".join(received)
        assert "Queued" in texts
        assert "fold 2 of 3" in texts and "final fit" in texts
        assert 'data-status="trained"' in received[-1]
        while True:  # bob's group got nothing of alice's model
            try:
                message = async_to_sync(_receive)(layer, theirs)
            except TimeoutError:
                break
            assert f"model-{model.pk}-" not in str(message["parts"])
    finally:
        async_to_sync(layer.group_discard)(user_group(alice.pk), mine)
        async_to_sync(layer.group_discard)(user_group(bob.pk), theirs)


async def _receive(layer: Any, channel: str) -> dict[str, Any]:
    import asyncio

    return await asyncio.wait_for(layer.receive(channel), timeout=0.5)
