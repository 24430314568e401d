"""A training run whose worker died: the redelivered message takes the dead claim
over, and the MAX_ATTEMPTS-th death fails the run instead of looping."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from apps.audit.models import AuditLog
from apps.mlmodels import services
from apps.mlmodels.models import RunStatus, TrainingRun
from apps.mlmodels.services.training import MAX_ATTEMPTS

pytestmark = pytest.mark.django_db


def _held_by_a_dead_worker(alice: Any, make_model: Any, attempts: int) -> Any:
    model = make_model(alice)
    run = services.start_training(model=model, actor=alice, enqueue=False)
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.TRAINING, started_at=timezone.now(), attempts=attempts
    )
    return run


def test_a_first_delivery_trains_and_counts_one_attempt(
    alice: Any, make_model: Any
) -> None:
    run = services.start_training(model=make_model(alice), actor=alice, enqueue=False)
    assert services.run_training(run_id=run.pk).status == RunStatus.TRAINED
    run.refresh_from_db()
    assert run.attempts == 1


def test_a_fresh_claim_is_left_to_its_worker_unless_redelivered(
    alice: Any, make_model: Any
) -> None:
    run = _held_by_a_dead_worker(alice, make_model, attempts=1)
    # A plain second delivery (e.g. a duplicate) does not touch a live claim.
    assert services.run_training(run_id=run.pk) is None
    run.refresh_from_db()
    assert (run.status, run.attempts) == (RunStatus.TRAINING, 1)
    # The broker's redelivered flag says its holder died: taken over, trained once.
    done = services.run_training(run_id=run.pk, redelivered=True)
    assert done is not None and done.status == RunStatus.TRAINED
    assert done.attempts == 2
    assert AuditLog.objects.filter(action="model.trained").count() == 1
    # The same message once more (acknowledgement lost): nothing happens.
    assert services.run_training(run_id=run.pk, redelivered=True) is None
    assert AuditLog.objects.filter(action="model.trained").count() == 1


def test_the_last_allowed_death_fails_the_run_with_the_reason(
    alice: Any, make_model: Any
) -> None:
    run = _held_by_a_dead_worker(alice, make_model, attempts=MAX_ATTEMPTS)
    assert services.run_training(run_id=run.pk, redelivered=True) is None
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.attempts == MAX_ATTEMPTS
    assert run.error.startswith(f"The worker died {MAX_ATTEMPTS} times")
    run.model.refresh_from_db()
    assert run.model.status == "failed"
    failed = AuditLog.objects.filter(action="model.training_failed")
    assert failed.count() == 1
    # A further delivery neither trains nor fails it twice.
    assert services.run_training(run_id=run.pk, redelivered=True) is None
    assert failed.count() == 1
    assert not AuditLog.objects.filter(action="model.trained").exists()


def test_training_and_backtests_share_the_attempts_cap() -> None:
    from apps.backtests.services import MAX_ATTEMPTS as BACKTEST_CAP

    assert MAX_ATTEMPTS == BACKTEST_CAP == 3


def test_the_task_passes_the_brokers_redelivered_flag(
    alice: Any, make_model: Any
) -> None:
    from apps.mlmodels import tasks

    run = _held_by_a_dead_worker(alice, make_model, attempts=1)
    plain = tasks.train_model_task.apply(args=[run.pk])
    assert plain.get() is None
    # As a worker delivers it again: the request carries the broker's flag.
    task = tasks.train_model_task
    task.push_request(id="redelivery", delivery_info={"redelivered": True})
    try:
        assert task(run.pk) == "trained"
    finally:
        task.pop_request()
    run.refresh_from_db()
    assert run.attempts == 2 and run.celery_task_id == "redelivery"
