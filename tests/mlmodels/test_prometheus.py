"""/metrics reports training durations and outcomes as the runs recorded them."""

from __future__ import annotations

from typing import Any

import pytest

from apps.mlmodels import services
from apps.mlmodels.models import TrainingRun
from tests.system.scrape import buckets, scrape, value

pytestmark = pytest.mark.django_db
NAME = "aaiti_training_duration_seconds"


def test_training_runs_are_counted_by_outcome_with_their_durations(
    client: Any, settings: Any, alice: Any, make_model: Any
) -> None:
    for name in ("first", "second"):
        model = make_model(alice, name=name)
        run = services.start_training(model=model, actor=alice, enqueue=False)
        services.run_training(run_id=run.pk)
    # Too short a history for 5 folds of 100 bars: fails, with its duration.
    broken = make_model(alice, name="broken", horizon=100, folds=5)
    run = services.start_training(model=broken, actor=alice, enqueue=False)
    services.run_training(run_id=run.pk)

    runs = TrainingRun.objects.all()
    by_status: dict[str, list[float]] = {}
    for r in runs:
        by_status.setdefault(r.status, []).append(r.duration_seconds)
    assert sorted(by_status) == ["failed", "trained"]
    assert len(by_status["trained"]) == 2

    samples = scrape(client, settings)
    for status, durations in by_status.items():
        assert value(samples, f"{NAME}_count", outcome=status) == len(durations)
        assert value(samples, f"{NAME}_sum", outcome=status) == pytest.approx(
            sum(durations), rel=1e-9
        )
        counts = buckets(samples, NAME, outcome=status)
        for le, count in counts.items():
            limit = float(le)
            assert count == sum(1 for d in durations if d <= limit), (status, le)
    assert value(samples, "aaiti_jobs", kind="training", status="trained") == 2
