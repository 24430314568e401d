"""The backtest, strategy and sweep API: 202 jobs, 400 by field, 404 across users."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.backtests import services
from apps.backtests.models import Backtest, Sweep
from apps.backtests.strategies import STRATEGIES

pytestmark = pytest.mark.django_db
BODY = {
    "symbol": "BTC-USD",
    "timeframe": "1h",
    "strategy": "sma_cross",
    "params": {"fast": 5, "slow": 20},
}


@pytest.fixture
def done(alice: Any, btc: Any) -> Backtest:
    backtest = services.create_backtest(
        owner=alice,
        req=services.JobRequest(**{**BODY, "fee_bps": 10.0, "slippage_bps": 0.0}),
        enqueue=False,
    )
    return services.run_backtest_job(backtest_id=backtest.pk)


def test_post_answers_202_with_the_job_url_and_enqueues(
    api: APIClient,
    alice: Any,
    btc: Any,
    monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from apps.backtests import tasks

    sent: list[int] = []
    monkeypatch.setattr(tasks.run_backtest_task, "delay", sent.append)
    api.force_authenticate(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/backtests/", BODY, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["progress"] == 0
    assert body["url"] == f"/api/backtests/{body['id']}/"
    assert response["Location"].endswith(body["url"])
    assert body["fee_bps"] == 10.0 and body["slippage_bps"] == 5.0  # defaults
    assert sent == [body["id"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"strategy": "astrology"}, "strategy"),
        ({"params": {"fast": 30, "slow": 20}}, "params.fast"),
        ({"params": {"fast": 5, "slow": 20, "x": 1}}, "params.x"),
        ({"symbol": "NOPE-USD"}, "symbol"),
        ({"timeframe": "7m"}, "timeframe"),
        ({"start": "2019-02-01T00:00:00Z", "end": "2019-01-01T00:00:00Z"}, "end"),
        ({"start": "2018-01-01T00:00:00Z", "end": "2018-02-01T00:00:00Z"}, "start"),
        ({"fraction": 2}, "fraction"),
        ({"stop_loss": 3}, "stop_loss"),
    ],
)
def test_bad_input_is_400_with_field_messages(
    api: APIClient, alice: Any, btc: Any, change: dict[str, Any], field: str
) -> None:
    api.force_authenticate(alice)
    response = api.post("/api/backtests/", {**BODY, **change}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert not Backtest.objects.exists()


def test_list_and_read_show_status_progress_and_metrics(
    api: APIClient, alice: Any, done: Backtest
) -> None:
    api.force_authenticate(alice)
    listing = api.get("/api/backtests/").json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == done.pk
    body = api.get(f"/api/backtests/{done.pk}/").json()
    assert body["status"] == "succeeded" and body["progress"] == 100
    assert body["metrics"]["total_return"] == done.total_return
    assert body["trade_count"] == len(done.trades)


def test_trades_are_paginated(api: APIClient, alice: Any, done: Backtest) -> None:
    api.force_authenticate(alice)
    first = api.get(f"/api/backtests/{done.pk}/trades/").json()
    assert first["count"] == len(done.trades) > 0
    trade = first["results"][0]
    assert trade["entry_price"] == done.trades[0]["entry_price"]
    assert trade["side"] == "long" and trade["entry_time"].endswith("Z")
    assert "return" in trade


def test_equity_is_the_full_curve(api: APIClient, alice: Any, done: Backtest) -> None:
    api.force_authenticate(alice)
    body = api.get(f"/api/backtests/{done.pk}/equity/").json()
    assert body["count"] == 300 == len(body["results"])
    assert body["results"][-1]["equity"] == done.final_capital
    assert body["results"][0]["time"] == "2019-01-01T00:00:00Z"


def test_delete_removes_and_audits(api: APIClient, alice: Any, done: Backtest) -> None:
    from apps.audit.models import AuditLog

    api.force_authenticate(alice)
    assert api.delete(f"/api/backtests/{done.pk}/").status_code == 204
    assert not Backtest.objects.exists()
    assert AuditLog.objects.filter(action="backtest.deleted").exists()


def test_another_users_backtest_is_404_everywhere(
    api: APIClient, bob: Any, done: Backtest
) -> None:
    api.force_authenticate(bob)
    for suffix in ["", "trades/", "equity/"]:
        response = api.get(f"/api/backtests/{done.pk}/{suffix}")
        assert response.status_code == 404, suffix
        assert response.json()["error"]["code"] == "not_found"
    assert api.delete(f"/api/backtests/{done.pk}/").status_code == 404
    assert api.get("/api/backtests/").json()["count"] == 0
    assert Backtest.objects.filter(pk=done.pk).exists()


def test_viewer_cannot_post_and_anonymous_is_401(
    api: APIClient, vera: Any, btc: Any
) -> None:
    assert api.get("/api/backtests/").status_code == 401
    assert api.get("/api/strategies/").status_code == 401
    assert api.post("/api/backtests/", BODY, format="json").status_code == 401
    api.force_authenticate(vera)
    assert api.post("/api/backtests/", BODY, format="json").status_code == 403
    assert api.post("/api/sweeps/", BODY, format="json").status_code == 403
    assert api.get("/api/backtests/").status_code == 200


def test_strategies_list_parameters_types_ranges_defaults(
    api: APIClient, alice: Any
) -> None:
    api.force_authenticate(alice)
    body = api.get("/api/strategies/").json()
    assert [s["name"] for s in body] == list(STRATEGIES)
    sma = next(s for s in body if s["name"] == "sma_cross")
    fast = next(p for p in sma["params"] if p["name"] == "fast")
    assert fast == {**STRATEGIES["sma_cross"].params[0].as_dict()}
    assert fast["type"] == "int" and fast["default"] == 10 and fast["max"] == 5000
    forecast = next(s for s in body if s["name"] == "model_forecast")
    assert forecast["backtestable"] is True and sma["backtestable"] is True


def test_sweeps_post_list_and_ranked_detail(
    api: APIClient, alice: Any, bob: Any, btc: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(services, "dispatch_sweep", lambda sweep: None)
    api.force_authenticate(alice)
    grid = {"fast": [3, 5, 8], "slow": {"start": 20, "stop": 40, "step": 10}}
    response = api.post(
        "/api/sweeps/", {**BODY, "grid": grid, "metric": "sharpe"}, format="json"
    )
    assert response.status_code == 202, response.content
    created = response.json()
    assert created["combinations"] == 9 and created["status"] == "queued"
    assert created["grid"] == {"fast": [3, 5, 8], "slow": [20, 30, 40]}
    services.run_sweep_inline(Sweep.objects.get(pk=created["id"]))
    assert api.get("/api/sweeps/").json()["count"] == 1
    detail = api.get(f"{created['url']}?limit=3").json()
    assert detail["status"] == "succeeded" and len(detail["results"]) == 3
    assert [r["rank"] for r in detail["results"]] == [1, 2, 3]
    assert {"params", "is", "oos"} <= set(detail["results"][0])
    api.force_authenticate(bob)
    assert api.get(created["url"]).status_code == 404
    assert api.get("/api/sweeps/").json()["count"] == 0


def test_a_grid_over_the_cap_is_400(api: APIClient, alice: Any, btc: Any) -> None:
    api.force_authenticate(alice)
    grid = {"fast": "1:100:1", "slow": "2:200:1"}
    response = api.post("/api/sweeps/", {**BODY, "grid": grid}, format="json")
    assert response.status_code == 400
    assert "at most 2,000" in response.json()["error"]["fields"]["grid"][0]


def test_schema_documents_the_backtest_paths(api: APIClient, alice: Any) -> None:
    api.force_authenticate(alice)
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/backtests/",
        "/api/backtests/{id}/",
        "/api/backtests/{id}/trades/",
        "/api/backtests/{id}/equity/",
        "/api/strategies/",
        "/api/sweeps/",
        "/api/sweeps/{id}/",
    ]:
        assert path in paths, path
