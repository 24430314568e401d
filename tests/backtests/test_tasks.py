"""Tasks: idempotent under redelivery; progress and results pushed to the owner."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from apps.audit.models import AuditLog
from apps.backtests import services, tasks
from apps.backtests.models import Backtest
from apps.backtests.services import JobRequest
from apps.system.consumers import user_group

pytestmark = pytest.mark.django_db


def queued(owner: Any) -> Backtest:
    return services.create_backtest(
        owner=owner,
        req=JobRequest(
            symbol="BTC-USD",
            timeframe="1h",
            strategy="sma_cross",
            params={"fast": 5, "slow": 20},
        ),
        enqueue=False,
    )


def test_a_redelivered_task_does_nothing_the_second_time(alice: Any, btc: Any) -> None:
    backtest = queued(alice)
    assert tasks.run_backtest_task(backtest.pk) == "succeeded"
    first = Backtest.objects.get(pk=backtest.pk)
    assert tasks.run_backtest_task(backtest.pk) is None
    again = Backtest.objects.get(pk=backtest.pk)
    assert again.finished_at == first.finished_at and again.metrics == first.metrics
    assert AuditLog.objects.filter(action="backtest.succeeded").count() == 1


def test_a_task_skips_a_job_another_worker_is_running(alice: Any, btc: Any) -> None:
    backtest = queued(alice)
    Backtest.objects.filter(pk=backtest.pk).update(
        status="running", started_at=timezone.now()
    )
    assert tasks.run_backtest_task(backtest.pk) is None
    assert Backtest.objects.get(pk=backtest.pk).status == "running"


def test_a_dead_workers_stale_claim_is_taken_over(alice: Any, btc: Any) -> None:
    backtest = queued(alice)
    Backtest.objects.filter(pk=backtest.pk).update(
        status="running", started_at=timezone.now() - timedelta(days=1)
    )
    assert tasks.run_backtest_task(backtest.pk) == "succeeded"


def test_a_deleted_backtest_is_not_run(alice: Any, btc: Any) -> None:
    backtest = queued(alice)
    backtest.delete()
    assert tasks.run_backtest_task(backtest.pk) is None


def test_create_enqueues_after_commit(
    alice: Any, btc: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    sent: list[int] = []
    monkeypatch.setattr(tasks.run_backtest_task, "delay", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        backtest = services.create_backtest(
            owner=alice,
            req=JobRequest(symbol="BTC-USD", timeframe="1h", strategy="buy_and_hold"),
        )
        assert sent == []
    assert sent == [backtest.pk]


def test_progress_and_the_result_are_pushed_to_the_owners_group(
    alice: Any, btc: Any, django_capture_on_commit_callbacks: Any
) -> None:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(alice.pk), channel)
    try:
        backtest = queued(alice)
        # Pushes go out after commit; the test's transaction never commits.
        with django_capture_on_commit_callbacks(execute=True):
            services.run_backtest_job(backtest_id=backtest.pk)
        messages = []
        while True:
            try:
                messages.append(_receive(layer, channel))
            except TimeoutError:
                break
    finally:
        async_to_sync(layer.group_discard)(user_group(alice.pk), channel)
    assert all(m["type"] == "push.html" for m in messages)
    topic = f"backtest:{backtest.pk}"
    parts = [(t, h) for m in messages for t, h in m["parts"]]
    htmls = [h for t, h in parts if topic in t]
    assert all(f'id="backtest-{backtest.pk}-status"' in h for h in htmls)
    # The dashboard's "in progress" card follows the job under its own topic.
    dash = [h for t, h in parts if t == ["dashboard"]]
    assert dash and 'id="dash-jobs"' in dash[0] and "dash-jobs" in dash[-1]
    # Rendered when each push is sent (here all at the end): no longer running.
    assert f"/backtests/{backtest.pk}/" not in dash[-1]
    assert all('hx-swap-oob="true"' in h for h in htmls)
    assert len(htmls) >= 3
    assert any('data-status="running"' in h for h in htmls)
    assert 'data-status="succeeded"' in htmls[-1]


def _receive(layer: Any, channel: str) -> dict[str, Any]:
    import asyncio

    async def once() -> dict[str, Any]:
        return await asyncio.wait_for(layer.receive(channel), timeout=1)

    return async_to_sync(once)()


def test_a_backtest_deleted_while_it_runs_stores_nothing(
    alice: Any, btc: Any, monkeypatch: Any
) -> None:
    backtest = queued(alice)
    compute = services.compute_backtest

    def delete_midway(**kwargs: Any) -> Any:
        Backtest.objects.filter(pk=backtest.pk).delete()
        return compute(**kwargs)

    monkeypatch.setattr(services, "compute_backtest", delete_midway)
    assert services.run_backtest_job(backtest_id=backtest.pk) is None
    assert not Backtest.objects.exists()
    assert not AuditLog.objects.filter(action="backtest.succeeded").exists()
