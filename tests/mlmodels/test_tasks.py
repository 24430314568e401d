"""The Celery tasks called directly: thin wrappers over the services."""

from __future__ import annotations

from typing import Any

import pytest

from apps.mlmodels import services, tasks

pytestmark = pytest.mark.django_db


def test_train_task_trains_then_a_second_delivery_does_nothing(
    alice: Any, make_model: Any
) -> None:
    model = make_model(alice)
    run = services.start_training(model=model, actor=alice, enqueue=False)
    assert tasks.train_model_task.apply(args=[run.pk]).get() == "trained"
    assert tasks.train_model_task.apply(args=[run.pk]).get() is None
    run.refresh_from_db()
    assert run.celery_task_id  # the delivering task's id, recorded on claim


def test_forecast_score_and_schedule_tasks(trained: Any) -> None:
    job = services.request_forecast(model=trained, actor=trained.owner, enqueue=False)
    assert tasks.forecast_task.apply(args=[job.pk]).get() == "done"
    assert tasks.forecast_task.apply(args=[job.pk]).get() is None
    assert tasks.score_predictions_task.apply().get() == 0
    assert tasks.run_schedules_task.apply().get() == {"retrained": 0, "forecast": 0}


def test_training_time_limit_is_below_the_hard_limit() -> None:
    from django.conf import settings

    assert tasks.train_model_task.soft_time_limit < settings.CELERY_TASK_TIME_LIMIT
    assert tasks.train_model_task.soft_time_limit == tasks.TRAINING_SOFT_TIME_LIMIT


def test_failed_training_shows_its_error_on_the_page(
    client: Any, alice: Any, make_model: Any
) -> None:
    model = make_model(alice, horizon=100, folds=5)
    run = services.start_training(model=model, actor=alice, enqueue=False)
    services.run_training(run_id=run.pk)
    client.force_login(alice)
    html = client.get(f"/models/{model.pk}/").content.decode()
    assert 'data-testid="training-error"' in html and "too short" in html
