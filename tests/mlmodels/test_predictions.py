"""Forecasts from the trained artefact, scoring against the candles that arrive,
live accuracy and its drift warning, the beat schedule, the leaderboard."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from apps.mlmodels import services
from apps.mlmodels.models import ForecastJob, Prediction

from .conftest import START, closes, store_bars

pytestmark = pytest.mark.django_db


def forecast(model: Any, actor: Any = None) -> ForecastJob:
    job = services.request_forecast(
        model=model, actor=actor or model.owner, enqueue=False
    )
    services.run_forecast(job_id=job.pk)
    job.refresh_from_db()
    return job


def test_forecast_stores_one_prediction_per_bar_ahead(trained: Any) -> None:
    job = forecast(trained)
    assert job.status == "done", job.error
    rows = list(job.predictions.order_by("horizon"))
    series = closes(300)
    last = series[-1]
    # The naive interval by hand: sigma = RMS of the one-step changes the final fit
    # saw (the last 200 bars), widened by sqrt(h); z = 1.959964 at 95 %.
    sigma = math.sqrt(np.mean(np.diff(series[-200:]) ** 2))
    assert [p.horizon for p in rows] == [1, 2, 3, 4, 5, 6]
    for p in rows:
        assert p.value == pytest.approx(last)
        half = 1.959964 * sigma * math.sqrt(p.horizon)
        assert p.lower == pytest.approx(last - half, rel=1e-6)
        assert p.upper == pytest.approx(last + half, rel=1e-6)
        assert p.target_time == START + timedelta(hours=299 + p.horizon)
        assert p.confidence == 0.95 and p.symbol == "BTC-USD"
        assert p.actual is None and p.error is None
    assert job.origin_time == START + timedelta(hours=299)


def test_forecast_refused_for_an_untrained_model(alice: Any, make_model: Any) -> None:
    model = make_model(alice)
    with pytest.raises(services.ModelRequestError) as err:
        services.request_forecast(model=model, actor=alice, enqueue=False)
    assert err.value.status == 409


def test_forecast_fails_cleanly_on_a_tampered_artefact(trained: Any) -> None:
    path = trained.trained_run.artefact_path
    with open(path, "r+b") as handle:
        handle.seek(40)
        handle.write(b"XX")
    job = forecast(trained)
    assert job.status == "failed" and "checksum" in job.error


def test_scoring_fills_actual_and_error_once_the_bar_has_closed(
    trained: Any, asset: Any
) -> None:
    job = forecast(trained)
    assert services.score_predictions() == 0  # the target bars have not arrived
    last = closes(300)[-1]
    arrived = [last + 3.0, last - 1.0, last + 10.0]
    store_bars(asset, arrived, start=START + timedelta(hours=300))
    # Bars 300-302 are stored; the feed-less market time is the end of bar 302.
    assert services.score_predictions() == 3
    rows = {p.horizon: p for p in job.predictions.all()}
    assert rows[1].actual == pytest.approx(last + 3.0)
    assert rows[1].error == pytest.approx(3.0)
    assert rows[2].error == pytest.approx(-1.0)
    assert rows[3].error == pytest.approx(10.0)
    assert rows[4].actual is None and rows[4].scored_at is None
    assert services.score_predictions() == 0  # scored once
    live = services.live_accuracy(trained)
    assert live.scored == 3 and live.pending == 3
    assert live.mae == pytest.approx((3 + 1 + 10) / 3)
    covered = [rows[h].lower <= rows[h].actual <= rows[h].upper for h in (1, 2, 3)]
    assert live.coverage == pytest.approx(sum(covered) / 3)
    assert not live.drifting  # fewer than 10 scored


def test_scoring_under_replay_waits_for_the_replayed_time(
    trained: Any, asset: Any
) -> None:
    from apps.market.prices import store_tick

    forecast(trained)
    store_bars(asset, closes(310)[300:], start=START + timedelta(hours=300))
    # The replay stands at the open of bar 302: bars 300 and 301 have closed.
    t = START + timedelta(hours=302)
    store_tick(asset_id=asset.pk, price=1.0, time=t, source="replay", replay_time=t)
    assert services.score_predictions() == 2


def test_live_accuracy_warns_when_it_drifts_from_walk_forward(
    trained: Any, asset: Any
) -> None:
    forecast(trained)
    forecast(trained)
    wf_mae = trained.metrics["metrics"]["mae"]
    last = closes(300)[-1]
    store_bars(asset, [last + 5 * wf_mae] * 6, start=START + timedelta(hours=300))
    assert services.score_predictions() == 12
    live = services.live_accuracy(trained)
    assert live.scored == 12
    assert live.mae == pytest.approx(5 * wf_mae)
    assert live.drifting and live.ratio == pytest.approx(5.0)


def test_schedule_retrains_on_new_bars_then_forecasts(
    trained: Any, asset: Any, monkeypatch: Any
) -> None:
    trained.scheduled = True
    trained.save()
    # No new bars and no forecast of this run yet: one forecast is queued.
    assert services.run_schedules() == {"retrained": 0, "forecast": 1}
    assert services.run_schedules() == {"retrained": 0, "forecast": 0}
    store_bars(asset, closes(305)[300:], start=START + timedelta(hours=300))
    assert services.run_schedules() == {"retrained": 1, "forecast": 0}
    run = trained.runs.get(status="queued")
    assert run.source == "schedule" and run.predict_after


def test_leaderboard_groups_by_window_and_ranks_by_rmse(
    alice: Any, bob: Any, trained: Any, make_model: Any
) -> None:
    for name, algorithm in [("drift one", "drift"), ("other window", "naive")]:
        model = make_model(
            alice,
            name=name,
            algorithm=algorithm,
            horizon=6 if name != "other window" else 12,
        )
        run = services.start_training(model=model, actor=alice, enqueue=False)
        services.run_training(run_id=run.pk)
    bobs = make_model(bob, name="bob's")
    services.run_training(
        run_id=services.start_training(model=bobs, actor=bob, enqueue=False).pk
    )
    groups = services.leaderboard(owner=alice, symbol="btc-usd", timeframe="1h")
    assert len(groups) == 2
    same = next(g for g in groups if g["horizon"] == 6)
    assert {r["name"] for r in same["models"]} == {"naive one", "drift one"}
    rmses = [r["rmse"] for r in same["models"]]
    assert rmses == sorted(rmses) and same["models"][0]["rank"] == 1
    assert same["naive"]["rmse"] == pytest.approx(
        next(r for r in same["models"] if r["name"] == "naive one")["rmse"]
    )
    assert Prediction.objects.count() == 0
