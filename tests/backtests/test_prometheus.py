"""/metrics reports backtest durations and outcomes exactly as stored."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest

from apps.backtests import services, tasks
from apps.backtests.models import Backtest
from apps.backtests.services import JobRequest
from apps.system.collectors import BACKTEST_BUCKETS
from tests.system.scrape import buckets, scrape, value

pytestmark = pytest.mark.django_db
NAME = "aaiti_backtest_duration_seconds"


def submit(owner: Any, **params: Any) -> Backtest:
    return services.create_backtest(
        owner=owner,
        req=JobRequest(
            symbol="BTC-USD", timeframe="1h", strategy="sma_cross", params=params
        ),
        enqueue=False,
    )


def seconds(backtest: Backtest) -> float:
    backtest.refresh_from_db()
    return (backtest.finished_at - backtest.started_at).total_seconds()


def test_two_backtests_run_by_the_service_are_counted_with_their_durations(
    client: Any, settings: Any, alice: Any, btc: Any
) -> None:
    before = scrape(client, settings)
    assert f"{NAME}_count" not in before  # no job has run: no series at all
    first, second = submit(alice, fast=5, slow=20), submit(alice, fast=3, slow=30)
    assert tasks.run_backtest_task(first.pk) == "succeeded"
    assert tasks.run_backtest_task(second.pk) == "succeeded"
    queued = submit(alice, fast=8, slow=40)  # not run: not in the histogram

    samples = scrape(client, settings)
    assert value(samples, f"{NAME}_count", outcome="succeeded") == 2
    stored = seconds(first) + seconds(second)
    assert value(samples, f"{NAME}_sum", outcome="succeeded") == pytest.approx(
        stored, rel=1e-9, abs=1e-6
    )
    assert value(samples, "aaiti_jobs", kind="backtest", status="succeeded") == 2
    assert value(samples, "aaiti_jobs", kind="backtest", status="queued") == 1
    assert queued.status == "queued"


def test_durations_fall_in_their_buckets_by_outcome(
    client: Any, settings: Any, alice: Any, btc: Any
) -> None:
    runs = [submit(alice, fast=f, slow=30) for f in (3, 4, 5, 6)]
    for backtest in runs:
        tasks.run_backtest_task(backtest.pk)
    # A failure: its candles deleted before it ran.
    doomed = submit(alice, fast=7, slow=30)
    btc.candles.all().delete()
    assert tasks.run_backtest_task(doomed.pk) == "failed"
    # Set the stored durations to figures whose buckets are known by hand.
    chosen = {runs[0]: 0.3, runs[1]: 7.0, runs[2]: 45.0, runs[3]: 4000.0, doomed: 2.0}
    for backtest, secs in chosen.items():
        backtest.refresh_from_db()
        Backtest.objects.filter(pk=backtest.pk).update(
            finished_at=backtest.started_at + timedelta(seconds=secs)
        )
    samples = scrape(client, settings)
    ok = buckets(samples, NAME, outcome="succeeded")
    assert ok["0.25"] == 0 and ok["0.5"] == 1 and ok["5.0"] == 1
    assert ok["10.0"] == 2 and ok["60.0"] == 3 and ok["3600.0"] == 3
    assert ok["+Inf"] == 4
    assert len(ok) == len(BACKTEST_BUCKETS) + 1
    assert list(ok.values()) == sorted(ok.values())  # cumulative
    assert value(samples, f"{NAME}_sum", outcome="succeeded") == pytest.approx(
        0.3 + 7 + 45 + 4000
    )
    failed = buckets(samples, NAME, outcome="failed")
    assert failed["1.0"] == 0 and failed["2.5"] == 1 and failed["+Inf"] == 1
    assert math.isclose(value(samples, f"{NAME}_sum", outcome="failed"), 2.0)
