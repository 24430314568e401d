"""The models API: every endpoint, owner isolation (404), viewers (403 on
writes), anonymous callers (401), bad params (400 naming the field)."""

from __future__ import annotations

from typing import Any

import pytest

from apps.mlmodels import services
from apps.mlmodels.models import ForecastJob, MLModel, TrainingRun

pytestmark = pytest.mark.django_db

BODY = {
    "name": "arima 2",
    "algorithm": "arima",
    "symbol": "BTC-USD",
    "timeframe": "1h",
    "params": {"p": 2, "d": 1, "q": 0},
    "horizon": 6,
    "folds": 3,
    "max_train_bars": 200,
}


@pytest.fixture
def no_enqueue(monkeypatch: Any) -> None:
    """Keep the task messages out of Redis: record them instead."""
    from apps.mlmodels import tasks

    class Result:
        id = "task-id"

    monkeypatch.setattr(tasks.train_model_task, "delay", lambda pk: Result())
    monkeypatch.setattr(tasks.forecast_task, "delay", lambda pk: Result())


def test_create_list_read(api: Any, alice: Any, asset: Any) -> None:
    api.force_authenticate(alice)
    response = api.post("/api/models/", BODY, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "untrained" and body["params"]["p"] == 2
    listing = api.get("/api/models/").json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == body["id"]
    assert api.get(body["url"]).json()["name"] == "arima 2"


def test_create_bad_params_names_the_field(api: Any, alice: Any, asset: Any) -> None:
    api.force_authenticate(alice)
    response = api.post("/api/models/", {**BODY, "params": {"p": -1}}, format="json")
    assert response.status_code == 400
    assert "params.p" in response.json()["error"]["fields"]
    response = api.post("/api/models/", {**BODY, "timeframe": "2h"}, format="json")
    assert response.status_code == 400
    assert "timeframe" in response.json()["error"]["fields"]
    response = api.post("/api/models/", {**BODY, "algorithm": "magic"}, format="json")
    assert "algorithm" in response.json()["error"]["fields"]


def test_patch_name_and_params_and_refuse_unknown(
    api: Any, alice: Any, make_model: Any
) -> None:
    model = make_model(alice, algorithm="arima", params={"p": 1})
    api.force_authenticate(alice)
    url = f"/api/models/{model.pk}/"
    response = api.patch(url, {"name": "new", "params": {"p": 3}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "new" and response.json()["params"]["p"] == 3
    response = api.patch(url, {"algorithm": "naive"}, format="json")
    assert (
        response.status_code == 400
        and "algorithm" in response.json()["error"]["fields"]
    )
    response = api.patch(url, {"params": {"p": 50}}, format="json")
    assert (
        response.status_code == 400 and "params.p" in response.json()["error"]["fields"]
    )


def test_patch_refused_while_training(
    api: Any, alice: Any, make_model: Any, no_enqueue: None
) -> None:
    model = make_model(alice)
    api.force_authenticate(alice)
    assert api.post(f"/api/models/{model.pk}/train/").status_code == 202
    response = api.patch(f"/api/models/{model.pk}/", {"name": "x"}, format="json")
    assert response.status_code == 409


def test_train_cancel_runs(
    api: Any, alice: Any, make_model: Any, no_enqueue: None
) -> None:
    model = make_model(alice)
    api.force_authenticate(alice)
    response = api.post(f"/api/models/{model.pk}/train/")
    assert response.status_code == 202
    run = response.json()
    assert run["status"] == "queued" and response["Location"] == run["url"]
    assert api.get(run["url"]).json()["id"] == run["id"]
    assert api.post(f"/api/models/{model.pk}/train/").status_code == 409
    response = api.post(f"/api/models/{model.pk}/cancel/")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    assert api.post(f"/api/models/{model.pk}/cancel/").status_code == 409
    runs = api.get(f"/api/models/{model.pk}/runs/").json()
    assert runs["count"] == 1 and runs["results"][0]["status"] == "cancelled"


def test_predict_answers_202_with_the_job_then_predictions(
    api: Any, trained: Any, no_enqueue: None
) -> None:
    api.force_authenticate(trained.owner)
    response = api.post(f"/api/models/{trained.pk}/predict/")
    assert response.status_code == 202
    job = response.json()
    assert job["status"] == "queued" and job["predictions"] == []
    services.run_forecast(job_id=job["id"])  # what the worker does
    done = api.get(job["url"]).json()
    assert done["status"] == "done" and len(done["predictions"]) == 6
    listing = api.get(f"/api/models/{trained.pk}/predictions/").json()
    assert listing["count"] == 6
    assert listing["live_accuracy"]["scored"] == 0
    assert (
        api.get(f"/api/models/{trained.pk}/predictions/?scored=true").json()["count"]
        == 0
    )


def test_predict_untrained_is_409(api: Any, alice: Any, make_model: Any) -> None:
    model = make_model(alice)
    api.force_authenticate(alice)
    assert api.post(f"/api/models/{model.pk}/predict/").status_code == 409


def test_compare_and_algorithms(api: Any, trained: Any) -> None:
    api.force_authenticate(trained.owner)
    body = api.get("/api/models/compare/?symbol=BTC-USD&timeframe=1h").json()
    assert body["windows"][0]["models"][0]["id"] == trained.pk
    response = api.get("/api/models/compare/?symbol=BTC-USD&timeframe=2h")
    assert (
        response.status_code == 400
        and "timeframe" in response.json()["error"]["fields"]
    )
    algos = api.get("/api/algorithms/").json()
    names = {a["name"] for a in algos}
    assert {"naive", "arima", "sarima", "prophet", "lstm"} <= names
    arima = next(a for a in algos if a["name"] == "arima")
    assert {"name", "type", "default", "min", "max"} <= set(arima["params"][0])


def test_delete(api: Any, trained: Any) -> None:
    api.force_authenticate(trained.owner)
    assert api.delete(f"/api/models/{trained.pk}/").status_code == 204
    assert not MLModel.objects.filter(pk=trained.pk).exists()
    assert TrainingRun.objects.count() == 0


def test_another_users_model_is_404_everywhere(
    api: Any, bob: Any, trained: Any
) -> None:
    api.force_authenticate(bob)
    pk = trained.pk
    run = trained.trained_run.pk
    job = services.request_forecast(model=trained, actor=trained.owner, enqueue=False)
    for path in [
        f"/api/models/{pk}/",
        f"/api/models/{pk}/runs/",
        f"/api/models/{pk}/runs/{run}/",
        f"/api/models/{pk}/predictions/",
        f"/api/models/{pk}/forecasts/{job.pk}/",
    ]:
        assert api.get(path).status_code == 404, path
    for path in ["train", "cancel", "predict"]:
        assert api.post(f"/api/models/{pk}/{path}/").status_code == 404, path
    assert (
        api.patch(f"/api/models/{pk}/", {"name": "x"}, format="json").status_code == 404
    )
    assert api.delete(f"/api/models/{pk}/").status_code == 404
    assert api.get("/api/models/").json()["count"] == 0
    body = api.get("/api/models/compare/?symbol=BTC-USD&timeframe=1h").json()
    assert body["windows"] == []
    assert ForecastJob.objects.filter(pk=job.pk).exists()


def test_viewer_reads_but_cannot_write(api: Any, vera: Any, asset: Any) -> None:
    api.force_authenticate(vera)
    assert api.get("/api/models/").status_code == 200
    assert api.get("/api/algorithms/").status_code == 200
    response = api.post("/api/models/", BODY, format="json")
    assert response.status_code == 403
    model = MLModel.objects.create(
        owner=vera,
        name="v",
        algorithm="naive",
        symbol="BTC-USD",
        asset=asset,
        timeframe="1h",
    )
    for path in ["train", "cancel", "predict"]:
        assert api.post(f"/api/models/{model.pk}/{path}/").status_code == 403
    assert (
        api.patch(f"/api/models/{model.pk}/", {"name": "x"}, format="json").status_code
        == 403
    )
    assert api.delete(f"/api/models/{model.pk}/").status_code == 403


def test_anonymous_is_401(api: Any, trained: Any) -> None:
    for path in [
        "/api/models/",
        f"/api/models/{trained.pk}/",
        f"/api/models/{trained.pk}/runs/",
        f"/api/models/{trained.pk}/predictions/",
        "/api/models/compare/?symbol=BTC-USD&timeframe=1h",
        "/api/algorithms/",
    ]:
        assert api.get(path).status_code == 401, path
    assert api.post("/api/models/", BODY, format="json").status_code == 401
    assert api.post(f"/api/models/{trained.pk}/train/").status_code == 401


def test_jwt_works(api: Any, alice: Any, tokens: dict[str, str], asset: Any) -> None:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api.post("/api/models/", BODY, format="json").status_code == 201
