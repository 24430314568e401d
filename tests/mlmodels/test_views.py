"""Model pages as full pages and as htmx fragments; form errors are 400s."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from apps.mlmodels.models import MLModel

pytestmark = pytest.mark.django_db

FORM = {
    "name": "my arima",
    "algorithm": "arima",
    "symbol": "BTC-USD",
    "timeframe": "1h",
    "horizon": "6",
    "folds": "3",
    "max_train_bars": "200",
    "level": "0.95",
    "p_arima__p": "2",
    "p_arima__d": "1",
    "p_arima__q": "0",
    "p_arima__trend": "auto",
}


@pytest.fixture
def logged_in(client: Client, alice: Any) -> Client:
    client.force_login(alice)
    return client


def test_index_renders_every_algorithms_fields(logged_in: Client, asset: Any) -> None:
    response = logged_in.get("/models/")
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("naive", "arima", "sarima", "prophet", "lstm"):
        assert f'data-algorithm="{name}"' in html or name in ("naive", "drift")
    assert 'name="p_lstm__epochs"' in html and "data-algorithm-select" in html
    assert "js/model_form.js" in html and "<script>" not in html


def test_create_through_the_form(logged_in: Client, alice: Any, asset: Any) -> None:
    response = logged_in.post("/models/", FORM)
    model = MLModel.objects.get(owner=alice)
    assert (
        response.status_code == 302 and response["Location"] == f"/models/{model.pk}/"
    )
    assert model.params["p"] == 2 and model.algorithm == "arima"


def test_form_errors_are_400_on_the_field(logged_in: Client, asset: Any) -> None:
    response = logged_in.post("/models/", {**FORM, "p_arima__p": "99"})
    assert response.status_code == 400
    assert "p must be an integer from 0" in response.content.decode().replace(
        "&#x27;", "'"
    ) or ("from 0 to" in response.content.decode())
    response = logged_in.post(
        "/models/", {**FORM, "p_arima__d": "2", "p_arima__trend": "c"}
    )
    assert response.status_code == 400
    assert "not allowed with d = 2" in response.content.decode().replace("&#x27;", "'")
    assert MLModel.objects.count() == 0


def test_index_lists_models_with_skill(logged_in: Client, trained: Any) -> None:
    html = logged_in.get("/models/").content.decode()
    assert trained.name in html and "Trained" in html and "0.000" in html


def test_detail_page_with_metrics_chart_and_actions(
    logged_in: Client, trained: Any
) -> None:
    response = logged_in.get(f"/models/{trained.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        'data-testid="metrics-table"' in html and "ties with the naive forecast" in html
    )
    assert 'id="forecast-chart"' in html and 'id="model-chart-config"' in html
    assert f'action="/models/{trained.pk}/train/"' in html
    assert f'hx-post="/models/{trained.pk}/predict/"' in html
    assert f'ws-connect="/ws/me/?topics=model:{trained.pk}"' in html
    config = json.loads(
        html.split('id="model-chart-config" type="application/json">')[1].split(
            "</script>"
        )[0]
    )
    assert len(config["walk_forward"]["folds"]) == 3


def test_train_button_full_page_and_htmx(
    logged_in: Client, alice: Any, make_model: Any, monkeypatch: Any
) -> None:
    from apps.mlmodels import tasks

    monkeypatch.setattr(
        tasks.train_model_task, "delay", lambda pk: type("R", (), {"id": ""})()
    )
    model = make_model(alice)
    response = logged_in.post(f"/models/{model.pk}/train/")
    assert response.status_code == 302
    model.refresh_from_db()
    assert model.status == "queued"
    response = logged_in.post(f"/models/{model.pk}/cancel/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith(f'<div id="model-{model.pk}-status"') and "Untrained" in html
    response = logged_in.post(f"/models/{model.pk}/cancel/", HTTP_HX_REQUEST="true")
    assert response.status_code == 409


def test_predict_button_htmx_shows_the_pending_job(
    logged_in: Client, trained: Any, monkeypatch: Any
) -> None:
    from apps.mlmodels import tasks

    monkeypatch.setattr(
        tasks.forecast_task, "delay", lambda pk: type("R", (), {"id": ""})()
    )
    response = logged_in.post(f"/models/{trained.pk}/predict/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="model-{trained.pk}-predictions"' in html and "forecast-pending" in html


def test_fragments(logged_in: Client, trained: Any) -> None:
    status = logged_in.get(f"/models/{trained.pk}/status/")
    assert status.status_code == 200 and "Trained" in status.content.decode()
    preds = logged_in.get(f"/models/{trained.pk}/predictions/")
    assert "No forecasts yet" in preds.content.decode()


def test_leaderboard_page(logged_in: Client, trained: Any) -> None:
    response = logged_in.get("/models/leaderboard/?symbol=BTC-USD&timeframe=1h")
    assert response.status_code == 200
    html = response.content.decode()
    assert trained.name in html and "naive forecast (reference)" in html


def test_other_users_model_is_404(client: Client, bob: Any, trained: Any) -> None:
    client.force_login(bob)
    pk = trained.pk
    for path in [
        f"/models/{pk}/",
        f"/models/{pk}/status/",
        f"/models/{pk}/predictions/",
    ]:
        assert client.get(path).status_code == 404
    for path in ["train", "cancel", "predict", "delete"]:
        assert client.post(f"/models/{pk}/{path}/").status_code == 404
    assert trained.name not in client.get("/models/leaderboard/").content.decode()


def test_viewer_cannot_create_or_train(client: Client, vera: Any, asset: Any) -> None:
    client.force_login(vera)
    html = client.get("/models/").content.decode()
    assert "Viewers cannot create models" in html
    response = client.post("/models/", FORM)
    assert response.status_code == 302 and not MLModel.objects.exists()
    model = MLModel.objects.create(
        owner=vera,
        name="v",
        algorithm="naive",
        symbol="BTC-USD",
        asset=asset,
        timeframe="1h",
    )
    client.post(f"/models/{model.pk}/train/")
    assert (
        client.post(f"/models/{model.pk}/train/", HTTP_HX_REQUEST="true").status_code
        == 403
    )
    model.refresh_from_db()
    assert model.status == "untrained" and not model.runs.exists()


def test_anonymous_is_sent_to_login(client: Client) -> None:
    response = client.get("/models/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_dashboard_counts_models(logged_in: Client, trained: Any) -> None:
    html = logged_in.get("/").content.decode()
    assert "forecasting models" in html
