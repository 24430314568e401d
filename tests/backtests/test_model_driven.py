"""Model-driven backtests: a trained forecaster's out-of-sample predictions drive
the ``model_forecast`` strategy. The key property is no look-ahead: changing any
bar after t changes no prediction made at or before t, so nothing decided or
filled up to t + 1 changes. Baselines are checked against their formulas,
computed here independently."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.backtests.engine import OHLCV, BacktestConfig, run_backtest
from apps.backtests.forecast_inputs import walk_forward_predictions
from apps.backtests.strategies import get_strategy
from tests.backtests.conftest import START, make_asset, wave
from tests.backtests.helpers import random_walk


def _walk(close: np.ndarray, algorithm: str, **kw: Any) -> np.ndarray:
    return walk_forward_predictions(
        close,
        first=kw.pop("first", 0),
        algorithm=algorithm,
        params=kw.pop("params", {}),
        refit_every=kw.pop("refit_every", 24),
        freq="1h",
        **kw,
    )


# --- pure: predictions and the engine ------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    cut=st.integers(0, 117),
    refit_every=st.integers(1, 50),
    algorithm=st.sampled_from(["naive", "drift"]),
    max_train=st.sampled_from([None, 30]),
)
def test_changing_bars_after_t_changes_nothing_decided_or_filled_up_to_t_plus_1(
    seed: int, cut: int, refit_every: int, algorithm: str, max_train: int | None
) -> None:
    data = random_walk(seed, 120)
    rng = np.random.default_rng(seed + 7)
    # Every bar after ``cut`` changes, except bar cut + 1's open: that is where a
    # decision made at bar ``cut``'s close fills.
    close = data.close.copy()
    close[cut + 1 :] *= np.exp(rng.normal(0, 0.05, close.size - cut - 1))
    opens = data.open.copy()
    opens[cut + 2 :] = close[cut + 1 : -1]
    changed = OHLCV(
        data.timestamp,
        opens,
        np.maximum.reduce([data.high, close, opens]),
        np.minimum.reduce([data.low, close, opens]),
        close,
        data.volume,
    )
    kw = {"refit_every": refit_every, "first": 5, "max_train": max_train}
    before, after = _walk(data.close, algorithm, **kw), _walk(close, algorithm, **kw)
    np.testing.assert_array_equal(before[: cut + 1], after[: cut + 1])
    assert not np.allclose(before[cut + 1 :], after[cut + 1 :], equal_nan=True)

    strategy = get_strategy("model_forecast")
    targets = [
        strategy.signals(d, predictions=p, threshold_bps=5, allow_short=True)
        for d, p in ((data, before), (changed, after))
    ]
    np.testing.assert_array_equal(targets[0][: cut + 1], targets[1][: cut + 1])
    cfg = BacktestConfig(fee_bps=10, allow_short=True)
    a, b = (
        run_backtest(d, t, cfg) for d, t in zip((data, changed), targets, strict=True)
    )
    entered = [
        [(int(t.entry_bar[i]), float(t.entry_price[i])) for i in range(len(t))]
        for t in (a.trades, b.trades)
    ]
    early = [[e for e in trades if e[0] <= cut + 1] for trades in entered]
    assert early[0] == early[1]
    np.testing.assert_array_equal(a.equity[: cut + 1], b.equity[: cut + 1])


def test_arima_walk_forward_predictions_have_no_look_ahead() -> None:
    close = random_walk(3, 160).close
    kw = {"params": {"p": 1, "d": 1, "q": 0}, "refit_every": 60, "first": 40}
    before = _walk(close, "arima", **kw)
    for cut in (45, 99, 100, 130):
        changed = close.copy()
        changed[cut + 1 :] *= 1.3
        after = _walk(changed, "arima", **kw)
        np.testing.assert_array_equal(before[: cut + 1], after[: cut + 1])
        assert not np.allclose(before[cut + 1 :], after[cut + 1 :])
    assert np.all(np.isnan(before[:40])) and np.all(np.isfinite(before[40:]))


def test_arima_one_step_forecasts_match_statsmodels_refiltered_on_each_prefix() -> None:
    from statsmodels.tsa.arima.model import ARIMA

    from apps.mlmodels.forecasters import create

    y = random_walk(4, 140).close
    model = create("arima", {"p": 1, "d": 1, "q": 1}).fit(y[:100])
    out = model.one_step_ahead(y[100:])
    assert out.shape == (41,)
    for j in (0, 13, 40):
        ref = ARIMA(y[: 100 + j], order=(1, 1, 1)).filter(model.fitted_params)
        assert out[j] == pytest.approx(float(ref.forecast(1)[0]), rel=1e-9)


def test_sarima_simple_differencing_one_step_matches_its_own_forecast() -> None:
    import copy

    from apps.mlmodels.forecasters import create

    y = random_walk(6, 130).close
    params = {"p": 1, "d": 1, "q": 0, "P": 0, "D": 1, "Q": 1, "s": 12}
    model = create("sarima", {**params, "simple_differencing": True}).fit(y[:100])
    out = model.one_step_ahead(y[100:])
    for j in (0, 9, 30):
        prefix = copy.copy(model)
        prefix._set_results(y[: 100 + j], model.fitted_params)
        assert out[j] == pytest.approx(prefix.forecast(1).mean[0], rel=1e-9)


def test_naive_predicts_the_last_close_so_a_positive_threshold_never_trades() -> None:
    data = random_walk(11, 200)
    predictions = _walk(data.close, "naive", refit_every=7, first=10)
    assert np.all(np.isnan(predictions[:10]))
    np.testing.assert_array_equal(predictions[10:], data.close[10:])
    target = get_strategy("model_forecast").signals(
        data, predictions=predictions, threshold_bps=1, allow_short=True
    )
    assert not target.any()
    assert len(run_backtest(data, target, BacktestConfig()).trades) == 0


@pytest.mark.parametrize(
    ("refit_every", "max_train"), [(1, None), (10, None), (25, 40)]
)
def test_drift_predictions_follow_the_drift_formula(
    refit_every: int, max_train: int | None
) -> None:
    close = random_walk(5, 150).close
    first = 20
    predictions = _walk(
        close, "drift", refit_every=refit_every, first=first, max_train=max_train
    )
    expected = np.full(close.size, np.nan)
    for r in range(first, close.size, refit_every):
        lo = 0 if max_train is None else max(0, r + 1 - max_train)
        slope = (close[r] - close[lo]) / (r - lo)  # fitted on bars lo..r only
        for t in range(r, min(r + refit_every, close.size)):
            expected[t] = close[t] + slope  # level follows the bars, slope frozen
    np.testing.assert_allclose(predictions, expected, rtol=1e-12)


def test_too_little_history_leaves_the_first_bars_without_predictions() -> None:
    close = random_walk(2, 30).close
    predictions = _walk(close, "arima", params={"p": 1, "d": 1, "q": 0}, first=0)
    assert np.all(np.isnan(predictions[:9])) and np.all(np.isfinite(predictions[9:]))


# --- the service: create, run, refuse ---------------------------------------------


def _model(owner: Any, algorithm: str = "naive", **kw: Any) -> Any:
    from apps.mlmodels.services import ModelSpec, create_model

    spec = ModelSpec(
        name=kw.pop("name", f"{algorithm} model"),
        algorithm=algorithm,
        symbol=kw.pop("symbol", "BTC-USD"),
        timeframe=kw.pop("timeframe", "1h"),
        params=kw.pop("params", {}),
        horizon=kw.pop("horizon", 6),
        folds=kw.pop("folds", 3),
        max_train_bars=kw.pop("max_train_bars", 100),
        **kw,
    )
    return create_model(owner=owner, spec=spec)


def _train(model: Any, actor: Any) -> Any:
    from apps.mlmodels.services import run_training, start_training

    run = start_training(model=model, actor=actor, enqueue=False)
    run_training(run_id=run.pk)
    model.refresh_from_db()
    assert model.trained_run is not None, run
    return model


def _request(mlmodel: Any, **kw: Any) -> Any:
    from apps.backtests import services

    return services.JobRequest(
        **{
            "symbol": "BTC-USD",
            "timeframe": "1h",
            "strategy": "model_forecast",
            "params": {"threshold_bps": 5},
            "model": mlmodel.pk if mlmodel is not None else None,
            "fee_bps": 10.0,
            "slippage_bps": 0.0,
            **kw,
        }
    )


def _create(owner: Any, mlmodel: Any, **kw: Any) -> Any:
    from apps.backtests import services

    req = _request(mlmodel, **kw)
    return services.create_backtest(owner=owner, req=req, enqueue=False)


def _refused(owner: Any, mlmodel: Any, **kw: Any) -> dict[str, list[str]]:
    from apps.backtests import services

    with pytest.raises(services.BacktestRequestError) as caught:
        _create(owner, mlmodel, **kw)
    return caught.value.fields


@pytest.fixture
def _var_dir(settings: Any, tmp_path: Any) -> None:
    settings.VAR_DIR = tmp_path


@pytest.mark.django_db
def test_a_naive_walk_forward_backtest_runs_in_the_worker_and_makes_no_trades(
    alice: Any, btc: Any
) -> None:
    from apps.backtests import services

    model = _model(alice)
    backtest = _create(alice, model, start=START + timedelta(hours=100))
    assert backtest.model == model
    assert backtest.params == {
        "threshold_bps": 5.0,
        "allow_short": False,
        "refit": "walk_forward",
        "refit_every": 24,
    }
    done = services.run_backtest_job(backtest_id=backtest.pk)
    assert done is not None and done.status == "succeeded", done.error
    assert done.bars == 200 and done.trade_count == 0


@pytest.mark.django_db
def test_drift_predictions_use_the_history_before_the_start(
    alice: Any, btc: Any
) -> None:
    from apps.backtests.model_driven import compute_predictions
    from apps.backtests.services import load_ohlcv

    model = _model(alice, "drift", max_train_bars=50)
    backtest = _create(alice, model, start=START + timedelta(hours=100), refit_every=30)
    data = load_ohlcv(btc, "1h", backtest.start, backtest.end)
    predictions = compute_predictions(
        backtest=backtest, time=data.timestamp, close=data.close
    )
    close = np.array(wave(300))
    expected = np.empty(200)
    for i in range(200):
        r = 100 + (i // 30) * 30  # the refit bar, in the whole series
        slope = (close[r] - close[r - 49]) / 49  # the last 50 bars up to r
        expected[i] = close[100 + i] + slope
    np.testing.assert_allclose(predictions, expected, rtol=1e-12)


@pytest.mark.django_db
def test_a_drift_model_trades_a_trend_and_refits_push_progress(
    alice: Any, btc: Any, monkeypatch: Any
) -> None:
    from apps.backtests import services

    seen: list[int] = []
    real = services._progress
    monkeypatch.setattr(
        services, "_progress", lambda b, v: (seen.append(v), real(b, v))
    )
    model = _model(alice, "drift", max_train_bars=20)
    backtest = _create(alice, model, refit_every=10, params={"threshold_bps": 1})
    done = services.run_backtest_job(backtest_id=backtest.pk)
    assert done.status == "succeeded", done.error
    assert done.trade_count > 0
    assert seen == sorted(seen) and done.progress == 100
    assert any(40 < v < 80 for v in seen)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"model": None}, "model", "Choose one of your models"),
        ({"model": 999_999}, "model", "You have no model 999999"),
        ({"model": "x"}, "model", "A model id"),
        ({"refit": "sometimes"}, "refit", "walk_forward, frozen"),
        ({"refit_every": 0}, "refit_every", "from 1 to"),
        ({"refit_every": 2.5}, "refit_every", "whole number"),
    ],
)
def test_bad_model_settings_are_field_errors(
    alice: Any, btc: Any, change: dict[str, Any], field: str, text: str
) -> None:
    from apps.backtests import services

    with pytest.raises(services.BacktestRequestError) as caught:
        services.create_backtest(
            owner=alice, req=_request(_model(alice), **change), enqueue=False
        )
    fields = caught.value.fields
    assert list(fields) == [field] and text in fields[field][0]


@pytest.mark.django_db
def test_too_many_refits_are_refused_before_anything_runs(
    alice: Any, btc: Any, monkeypatch: Any
) -> None:
    from apps.backtests import model_driven

    monkeypatch.setattr(model_driven, "MAX_REFITS", 100)
    fields = _refused(alice, _model(alice), refit_every=2)
    assert "150 fits (at most 100)" in fields["refit_every"][0]
    assert _create(alice, _model(alice, name="other"), refit_every=3).pk


@pytest.mark.django_db
def test_another_users_model_reads_as_missing(alice: Any, bob: Any, btc: Any) -> None:
    model = _model(bob)
    fields = _refused(alice, model)
    assert fields == {"model": [f"You have no model {model.pk}."]}


@pytest.mark.django_db
def test_a_model_of_another_series_is_refused(alice: Any, btc: Any) -> None:
    make_asset("ETH-USD", wave(50))
    eth = _model(alice, symbol="ETH-USD", name="eth")
    assert "forecasts ETH-USD 1h" in _refused(alice, eth)["model"][0]
    hourly = _model(alice, name="daily", timeframe="1d")
    assert "forecasts BTC-USD 1d" in _refused(alice, hourly)["model"][0]


@pytest.mark.django_db
def test_sweeps_still_refuse_model_driven_strategies(alice: Any, btc: Any) -> None:
    from apps.backtests import services

    with pytest.raises(services.BacktestRequestError) as caught:
        services.create_sweep(
            owner=alice,
            req=_request(_model(alice)),
            grid={"threshold_bps": [1, 2]},
            enqueue=False,
        )
    assert "needs a model's predictions" in caught.value.fields["strategy"][0]


@pytest.mark.django_db
def test_a_deleted_model_fails_the_job_with_a_message(alice: Any, btc: Any) -> None:
    from apps.backtests import services

    model = _model(alice)
    backtest = _create(alice, model)
    model.delete()
    done = services.run_backtest_job(backtest_id=backtest.pk)
    assert (
        done.status == "failed" and "model of this backtest was deleted" in done.error
    )
    assert done.model is None


# --- frozen mode -------------------------------------------------------------------


@pytest.fixture
def trained_drift(alice: Any, btc: Any, _var_dir: None) -> Any:
    """A drift model trained on the 300 stored bars; then 150 more bars arrive."""
    from apps.market.services import Bar, upsert_candles

    model = _train(_model(alice, "drift", max_train_bars=100), alice)
    later = wave(450)[300:]
    bars = [
        Bar(START + timedelta(hours=300 + i), c - 0.1, c + 1, c - 1, c, 10.0)
        for i, c in enumerate(later)
    ]
    upsert_candles(asset=btc, timeframe="1h", bars=bars)
    return model


@pytest.mark.django_db
def test_frozen_mode_refuses_a_model_trained_on_bars_after_the_start(
    alice: Any, trained_drift: Any
) -> None:
    run = trained_drift.trained_run
    assert run.data_end == START + timedelta(hours=299)
    for start in (START + timedelta(hours=250), run.data_end):
        fields = _refused(alice, trained_drift, refit="frozen", start=start)
        assert (
            "Frozen mode needs a model trained only on bars before"
            in fields["refit"][0]
        )
        assert "2019-01-13 11:00 UTC" in fields["refit"][0]


@pytest.mark.django_db
def test_frozen_mode_trades_on_the_artefacts_forecasts(
    alice: Any, btc: Any, trained_drift: Any
) -> None:
    from apps.backtests import services
    from apps.backtests.model_driven import compute_predictions
    from apps.backtests.services import load_ohlcv

    start = START + timedelta(hours=320)  # 20 bars after the training data
    backtest = _create(alice, trained_drift, refit="frozen", start=start)
    run = trained_drift.trained_run
    assert backtest.params["refit"] == "frozen"
    assert backtest.params["training_run"] == run.pk
    data = load_ohlcv(btc, "1h", backtest.start, backtest.end)
    predictions = compute_predictions(
        backtest=backtest, time=data.timestamp, close=data.close
    )
    close = np.array(wave(450))
    slope = (close[299] - close[200]) / 99  # the artefact's: last 100 trained bars
    np.testing.assert_allclose(predictions, close[320:] + slope, rtol=1e-12)
    # A retraining later does not change what this backtest uses.
    _train(trained_drift, alice)
    assert trained_drift.trained_run_id != run.pk
    done = services.run_backtest_job(backtest_id=backtest.pk)
    assert done.status == "succeeded", done.error
    assert done.bars == 130


@pytest.mark.django_db
def test_frozen_mode_needs_a_trained_model(alice: Any, btc: Any) -> None:
    fields = _refused(alice, _model(alice), refit="frozen")
    assert "has no trained artefact" in fields["refit"][0]


# --- API ---------------------------------------------------------------------------

API_BODY = {
    "symbol": "BTC-USD",
    "timeframe": "1h",
    "strategy": "model_forecast",
    "params": {"threshold_bps": 5},
}


@pytest.mark.django_db
def test_api_post_takes_a_model_and_refit_settings(
    api: Any, alice: Any, btc: Any, monkeypatch: Any
) -> None:
    from apps.backtests import tasks

    monkeypatch.setattr(tasks.run_backtest_task, "delay", lambda pk: None)
    model = _model(alice, "drift")
    api.force_authenticate(alice)
    body = {**API_BODY, "model": model.pk, "refit": "walk_forward", "refit_every": 48}
    response = api.post("/api/backtests/", body, format="json")
    assert response.status_code == 202, response.content
    created = response.json()
    assert created["model"] == model.pk
    assert created["params"] == {
        "threshold_bps": 5.0,
        "allow_short": False,
        "refit": "walk_forward",
        "refit_every": 48,
    }


@pytest.mark.django_db
def test_api_refuses_missing_foreign_and_mismatched_models_with_400(
    api: Any, alice: Any, bob: Any, btc: Any
) -> None:
    api.force_authenticate(alice)
    theirs = _model(bob)
    daily = _model(alice, timeframe="1d", name="daily")
    cases = [
        ({}, "Choose one of your models"),
        ({"model": theirs.pk}, f"You have no model {theirs.pk}."),
        ({"model": daily.pk}, "forecasts BTC-USD 1d"),
    ]
    for extra, text in cases:
        response = api.post("/api/backtests/", {**API_BODY, **extra}, format="json")
        assert response.status_code == 400, response.content
        assert text in str(response.json()), response.json()
    untrained = _model(alice, name="hourly")
    response = api.post(
        "/api/backtests/",
        {**API_BODY, "model": untrained.pk, "refit": "frozen"},
        format="json",
    )
    assert response.status_code == 400
    assert "no trained artefact" in response.json()["error"]["fields"]["refit"][0]


@pytest.mark.django_db
def test_strategies_mark_model_forecast_backtestable_with_its_inputs(
    api: Any, alice: Any
) -> None:
    api.force_authenticate(alice)
    body = api.get("/api/strategies/").json()
    forecast = next(s for s in body if s["name"] == "model_forecast")
    assert forecast["backtestable"] is True and forecast["inputs"] == ["predictions"]
    names = [i["name"] for i in forecast["model_inputs"]]
    assert names == ["model", "refit", "refit_every"]
    refit = forecast["model_inputs"][1]
    assert refit["choices"] == ["walk_forward", "frozen"]
    assert refit["default"] == "walk_forward"
    sma = next(s for s in body if s["name"] == "sma_cross")
    assert sma["model_inputs"] == []


# --- pages -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_form_offers_trained_models_with_their_series_and_refit_options(
    client: Any, alice: Any, bob: Any, trained_drift: Any
) -> None:
    _model(alice, name="never trained")
    _train(_model(bob, "drift", name="bobs"), bob)
    client.force_login(alice)
    html = client.get("/backtests/").content.decode()
    assert 'data-model-select="1"' in html
    assert (
        f'<option value="{trained_drift.pk}" data-symbol="BTC-USD" data-timeframe="1h"'
        in html
    )
    assert "never trained" not in html and "bobs" not in html
    assert 'name="refit"' in html and 'name="refit_every"' in html
    assert 'value="frozen"' in html
    assert "<script>" not in html


@pytest.mark.django_db
def test_posting_the_form_with_a_model_and_the_detail_page_shows_it(
    client: Any, alice: Any, trained_drift: Any, monkeypatch: Any
) -> None:
    from apps.backtests import services, tasks
    from apps.backtests.models import Backtest

    monkeypatch.setattr(tasks.run_backtest_task, "delay", lambda pk: None)
    client.force_login(alice)
    form = {
        "symbol": "BTC-USD",
        "timeframe": "1h",
        "strategy": "model_forecast",
        "p_model_forecast_threshold_bps": "5",
        "model": str(trained_drift.pk),
        "refit": "frozen",
        "start": "2019-01-14 00:00",
        "initial_capital": "10000",
        "fraction": "100",
    }
    response = client.post("/backtests/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    backtest = Backtest.objects.get()
    assert backtest.model == trained_drift and backtest.params["refit"] == "frozen"
    services.run_backtest_job(backtest_id=backtest.pk)
    page = client.get(f"/backtests/{backtest.pk}/").content.decode()
    assert f'href="/models/{trained_drift.pk}/"' in page
    assert "frozen, the trained artefact of run" in page

    early = client.post("/backtests/", {**form, "start": "2019-01-10 00:00"})
    assert early.status_code == 400
    assert "Frozen mode needs a model trained only on bars before" in (
        early.content.decode()
    )
    walk = client.post(
        "/backtests/", {**form, "refit": "walk_forward", "refit_every": "50"}
    )
    assert walk.status_code == 302
    latest = Backtest.objects.first()
    services.run_backtest_job(backtest_id=latest.pk)
    page = client.get(f"/backtests/{latest.pk}/").content.decode()
    assert "walk-forward, refitted every 50 bars" in page
