"""Sweeps: grid checks, the cap, chunking, ranking and the IS / OOS split."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from apps.audit.models import AuditLog
from apps.backtests import services, sweep, tasks
from apps.backtests.engine import BacktestConfig, run_backtest
from apps.backtests.metrics import compute_metrics
from apps.backtests.models import Sweep, SweepChunk
from apps.backtests.services import BacktestRequestError, JobRequest
from apps.backtests.strategies import get_strategy
from tests.backtests.helpers import json_close

FAST = [3, 5, 8, 13]
SLOW = [10, 20, 30, 40, 60]


def job(**kw: Any) -> JobRequest:
    base = {"symbol": "BTC-USD", "timeframe": "1h", "strategy": "sma_cross"}
    return JobRequest(**{**base, "fee_bps": 10.0, "slippage_bps": 5.0, **kw})


def test_grid_values_lists_ranges_and_text() -> None:
    strategy = get_strategy("sma_cross")
    values, combos, skipped = sweep.expand_grid(
        strategy, {"fast": "5:15:5", "slow": [20, 30], "allow_short": "true,false"}
    )
    assert values == {
        "fast": [5, 10, 15],
        "slow": [20, 30],
        "allow_short": [True, False],
    }
    assert len(combos) == 12 and skipped == 0
    assert combos[0] == {"fast": 5, "slow": 20, "allow_short": True}


def test_grid_points_the_strategy_refuses_are_skipped_and_counted() -> None:
    strategy = get_strategy("sma_cross")
    _, combos, skipped = sweep.expand_grid(
        strategy, {"fast": [10, 20], "slow": [10, 30]}
    )
    assert skipped == 2  # fast 10 / slow 10 and fast 20 / slow 10
    assert [(c["fast"], c["slow"]) for c in combos] == [(10, 30), (20, 30)]


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"fast": "1:100:1", "slow": "2:100:1"}, "at most 2,000"),
        ({"fast": "1:100000:1"}, "at most 2000"),
        ({"lag": [1]}, "unknown parameter"),
        ({"fast": [0, 5]}, "fast"),
        ({"fast": "9:3:1"}, "start <= stop"),
        ({"fast": "5:10:2.5"}, "must be an integer"),
        ({}, "at least one"),
        ({"fast": [50], "slow": [10]}, "none of the 1"),
    ],
)
def test_bad_grids_are_refused_with_a_clear_message(
    grid: dict[str, Any], message: str
) -> None:
    with pytest.raises(sweep.GridError, match=message):
        sweep.expand_grid(get_strategy("sma_cross"), grid)


def test_rank_puts_undefined_values_last_and_keeps_ties_in_order() -> None:
    rows = [
        {"params": {"a": 1}, "is": {"sharpe": None}},
        {"params": {"a": 2}, "is": {"sharpe": 1.0}},
        {"params": {"a": 3}, "is": {"sharpe": 2.0}},
        {"params": {"a": 4}, "is": {"sharpe": 1.0}},
    ]
    ranked = sweep.rank(rows, "sharpe")
    assert [r["params"]["a"] for r in ranked] == [3, 2, 4, 1]
    assert [r["rank"] for r in ranked] == [1, 2, 3, 4]


@pytest.mark.django_db
def test_a_sweep_ranks_in_sample_and_reports_out_of_sample(
    alice: Any, btc: Any
) -> None:
    created = services.create_sweep(
        owner=alice,
        req=job(),
        grid={"fast": FAST, "slow": SLOW},
        metric="total_return",
        in_sample=0.7,
        enqueue=False,
    )
    assert created.combinations == 19 and created.skipped == 1  # 13 / 10
    assert created.chunks_total == 1
    assert created.bars_in_sample == 210 and created.bars_out_sample == 90
    done = services.run_sweep_inline(created)
    assert done.status == "succeeded" and done.progress == 100
    assert len(done.results) == 19
    is_values = [r["is"]["total_return"] for r in done.results]
    assert is_values == sorted(is_values, reverse=True)

    # The top in-sample combination, run directly on each side of the split.
    best = done.results[0]
    data = services.load_ohlcv(btc, "1h", None, None)
    target = get_strategy("sma_cross").signals(data, **best["params"])
    cfg = BacktestConfig(fee_bps=10.0, slippage_bps=5.0)
    for side, part, cut in [
        ("is", data.slice(0, 210), target[:210]),
        ("oos", data.slice(210, None), target[210:]),
    ]:
        direct = compute_metrics(run_backtest(part, cut, cfg), part, bars_per_year=8760)
        assert json_close(best[side], sweep.summarize(direct)), side
    assert AuditLog.objects.filter(action="sweep.succeeded").count() == 1


@pytest.mark.django_db
def test_chunks_fan_out_and_the_last_one_finishes_the_sweep(
    alice: Any, btc: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(services, "SWEEP_CHUNK_SIZE", 3)
    created = services.create_sweep(
        owner=alice, req=job(), grid={"fast": FAST, "slow": SLOW[:2]}, enqueue=False
    )
    chunks = list(created.chunks.order_by("-index"))  # any order will do
    assert len(chunks) == 3
    for chunk in chunks[:-1]:
        assert tasks.run_sweep_chunk_task(chunk.pk) == "succeeded"
        assert Sweep.objects.get(pk=created.pk).status == "running"
    assert tasks.run_sweep_chunk_task(chunks[-1].pk) == "succeeded"
    # Redelivered: nothing changes.
    assert tasks.run_sweep_chunk_task(chunks[0].pk) is None
    done = Sweep.objects.get(pk=created.pk)
    assert done.status == "succeeded" and done.chunks_done == 3
    assert len(done.results) == 7 and done.skipped == 1  # 13 / 10 refused
    assert AuditLog.objects.filter(action="sweep.succeeded").count() == 1


@pytest.mark.django_db
def test_create_sweep_dispatches_a_group_after_commit(
    alice: Any, btc: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    dispatched: list[int] = []
    monkeypatch.setattr(services, "dispatch_sweep", lambda s: dispatched.append(s.pk))
    with django_capture_on_commit_callbacks(execute=True):
        created = services.create_sweep(
            owner=alice, req=job(), grid={"fast": FAST, "slow": SLOW}
        )
    assert dispatched == [created.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"grid": {"fast": "1:100:1", "slow": "2:200:1"}}, "grid"),
        ({"metric": "luck"}, "metric"),
        ({"in_sample": 0.99}, "in_sample"),
        ({"req": job(params={"slow": 0})}, "params.slow"),
        ({"req": job(symbol="NOPE-USD")}, "symbol"),
    ],
)
def test_bad_sweeps_are_refused_by_field(
    alice: Any, btc: Any, kw: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {"owner": alice, "req": job(), "grid": {"fast": FAST}}
    with pytest.raises(BacktestRequestError) as caught:
        services.create_sweep(**{**args, **kw}, enqueue=False)
    assert field in caught.value.fields
    assert not Sweep.objects.exists()


@pytest.mark.django_db
def test_a_failing_chunk_fails_the_sweep_and_the_others_stop(
    alice: Any, btc: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(services, "SWEEP_CHUNK_SIZE", 3)
    created = services.create_sweep(
        owner=alice, req=job(), grid={"fast": FAST, "slow": SLOW[:2]}, enqueue=False
    )
    first, *others = list(created.chunks.order_by("index"))
    # The candles change under the sweep: its first chunk notices and fails it.
    btc.candles.filter(timeframe="1h").order_by("-open_time").first().delete()
    assert tasks.run_sweep_chunk_task(first.pk) == "failed"
    failed = Sweep.objects.get(pk=created.pk)
    assert failed.status == "failed" and "changed" in failed.error
    assert [tasks.run_sweep_chunk_task(c.pk) for c in others] == ["failed", "failed"]
    assert AuditLog.objects.filter(action="sweep.failed").count() == 1


@pytest.mark.django_db
def test_a_sweep_deleted_while_it_runs_is_left_alone(alice: Any, btc: Any) -> None:
    created = services.create_sweep(
        owner=alice, req=job(), grid={"fast": FAST}, enqueue=False
    )
    chunk = created.chunks.get()
    services.delete_sweep(sweep=created, actor=alice)
    assert tasks.run_sweep_chunk_task(chunk.pk) is None
    assert not Sweep.objects.exists()


@pytest.mark.django_db
def test_a_dead_workers_chunk_is_taken_over_by_its_redelivery(
    alice: Any, btc: Any
) -> None:
    created = services.create_sweep(
        owner=alice, req=job(), grid={"fast": FAST}, enqueue=False
    )
    chunk = created.chunks.get()
    # Claimed a moment ago by a worker that then died: a fresh delivery of another
    # message leaves it alone, the redelivered message takes it over.
    SweepChunk.objects.filter(pk=chunk.pk).update(
        status="running", started_at=timezone.now(), attempts=1
    )
    assert services.run_sweep_chunk(chunk_id=chunk.pk) is None
    done = services.run_sweep_chunk(chunk_id=chunk.pk, redelivered=True)
    assert done is not None and done.status == "succeeded" and done.attempts == 2
    assert Sweep.objects.get(pk=created.pk).status == "succeeded"


class WorkerDied(BaseException):
    """Stands in for SIGKILL: nothing after the claim runs, nothing is cleaned up."""


@pytest.mark.django_db
def test_a_chunk_that_kills_its_worker_max_attempts_times_fails_the_sweep(
    alice: Any, btc: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(services, "SWEEP_CHUNK_SIZE", 3)
    created = services.create_sweep(
        owner=alice, req=job(), grid={"fast": FAST, "slow": SLOW[:2]}, enqueue=False
    )
    poison, *others = list(created.chunks.order_by("index"))

    def die(job_id: int, *, variable: str = "") -> None:
        if job_id == poison.pk:
            raise WorkerDied

    monkeypatch.setattr(services, "_die_if_told", die)
    # The first delivery and two redeliveries each claim the chunk and die.
    for attempt in range(1, services.MAX_ATTEMPTS + 1):
        with pytest.raises(WorkerDied):
            services.run_sweep_chunk(chunk_id=poison.pk, redelivered=attempt > 1)
        row = SweepChunk.objects.get(pk=poison.pk)
        assert (row.status, row.attempts) == ("running", attempt)
    # The next redelivery finds the cap reached: the chunk and its sweep fail, once.
    failed = services.run_sweep_chunk(chunk_id=poison.pk, redelivered=True)
    assert failed is not None and (failed.status, failed.attempts) == ("failed", 3)
    sweep_row = Sweep.objects.get(pk=created.pk)
    assert sweep_row.status == "failed"
    assert sweep_row.error.startswith("The worker died 3 times running this job")
    assert services.run_sweep_chunk(chunk_id=poison.pk, redelivered=True) is None
    assert [tasks.run_sweep_chunk_task(c.pk) for c in others] == ["failed", "failed"]
    assert AuditLog.objects.filter(action="sweep.failed").count() == 1
    assert not AuditLog.objects.filter(action="sweep.succeeded").exists()


@pytest.mark.django_db
def test_the_chunk_task_passes_the_brokers_redelivered_flag(
    alice: Any, btc: Any, monkeypatch: Any
) -> None:
    seen: list[tuple[int, bool]] = []

    def fake(*, chunk_id: int, redelivered: bool = False) -> None:
        seen.append((chunk_id, redelivered))

    monkeypatch.setattr(services, "run_sweep_chunk", fake)
    tasks.run_sweep_chunk_task.apply(args=[7])
    task = tasks.run_sweep_chunk_task
    task.push_request(delivery_info={"redelivered": True})
    try:
        task.run(8)
    finally:
        task.pop_request()
    assert seen == [(7, False), (8, True)]
