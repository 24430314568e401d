"""A first training asked to forecast after it (the demo's, a schedule's) queues the
forecast once it is trained, instead of failing on a stale model object."""

from __future__ import annotations

from typing import Any

import pytest

from apps.mlmodels import services
from apps.mlmodels.models import ForecastJob


@pytest.mark.django_db
def test_first_training_with_predict_after_queues_a_forecast(
    alice: Any,
    make_model: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: Any,
) -> None:
    sent: list[int] = []
    monkeypatch.setattr(
        "apps.mlmodels.services.forecasts._enqueue_forecast", sent.append
    )
    model = make_model(alice)
    assert not model.can_predict
    with django_capture_on_commit_callbacks(execute=True):
        run = services.start_training(
            model=model, actor=alice, predict_after=True, enqueue=False
        )
        services.run_training(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "trained"
    job = ForecastJob.objects.get(model=model)
    assert job.run_id == run.pk and sent == [job.pk]
    services.run_forecast(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "done" and job.predictions.count() == model.horizon
