"""The bots API: CRUD, lifecycle, orders with Idempotency-Key, reads, errors, and
the isolation matrix (another user's bot is 404 on every path)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from apps.bots.models import TradingBot

from .conftest import START, feed, make_bot

BODY = {
    "name": "api bot",
    "symbol": "BTC-USD",
    "strategy": "sma_cross",
    "params": {"fast": 3, "slow": 8},
    "timeframe": "1h",
    "stop_loss": "0.05",
}


@pytest.fixture
def client_alice(api: Any, alice: Any) -> Any:
    api.force_authenticate(alice)
    return api


def test_create_list_read(client_alice: Any, asset: Any) -> None:
    r = client_alice.post("/api/bots/", BODY, format="json")
    assert r.status_code == 201, r.content
    bot = r.json()
    assert bot["symbol"] == "BTC-USD" and bot["status"] == "stopped"
    assert bot["stop_loss"] == "0.050000" and bot["cash"].startswith("10000")
    listed = client_alice.get("/api/bots/").json()
    assert [b["id"] for b in listed["results"]] == [bot["id"]]
    assert client_alice.get(f"/api/bots/{bot['id']}/").json()["name"] == "api bot"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"params": {"fast": 9, "slow": 3}}, "params"),
        ({"mode": "live"}, "mode"),
        ({"symbol": "NOPE-USD"}, "symbol"),
        ({"timeframe": "7m"}, "timeframe"),
        ({"stop_loss": "2"}, "stop_loss"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_input_is_400_with_fields(
    client_alice: Any, asset: Any, change: Any, field: str
) -> None:
    r = client_alice.post("/api/bots/", {**BODY, **change}, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["error"]["fields"]
    assert not TradingBot.objects.exists()


def test_lifecycle_over_the_api(client_alice: Any, asset: Any) -> None:
    pk = client_alice.post("/api/bots/", BODY, format="json").json()["id"]
    assert client_alice.post(f"/api/bots/{pk}/start/").json()["status"] == "running"
    r = client_alice.patch(f"/api/bots/{pk}/", {"name": "x"}, format="json")
    assert r.status_code == 400 and "Stop the bot" in r.json()["error"]["message"]
    assert client_alice.post(f"/api/bots/{pk}/pause/").json()["status"] == "paused"
    assert (
        client_alice.post(
            f"/api/bots/{pk}/stop/", {"close_position": True}, format="json"
        ).json()["status"]
        == "stopped"
    )
    r = client_alice.patch(
        f"/api/bots/{pk}/",
        {"name": "renamed", "params": {"fast": 2, "slow": 5}},
        format="json",
    )
    assert r.status_code == 200 and r.json()["name"] == "renamed"
    assert client_alice.post(f"/api/bots/{pk}/reset/").status_code == 200
    assert client_alice.delete(f"/api/bots/{pk}/").status_code == 204
    assert client_alice.get(f"/api/bots/{pk}/").status_code == 404


def test_reads_after_trading(client_alice: Any, alice: Any, asset: Any) -> None:
    pk = client_alice.post("/api/bots/", BODY, format="json").json()["id"]
    client_alice.post(f"/api/bots/{pk}/start/")
    feed(asset, end=START + timedelta(hours=60))
    orders = client_alice.get(f"/api/bots/{pk}/orders/").json()["results"]
    fills = client_alice.get(f"/api/bots/{pk}/fills/").json()["results"]
    journal = client_alice.get(f"/api/bots/{pk}/journal/").json()["results"]
    assert orders and fills and journal
    assert any("crossed" in e["message"] for e in journal)
    position = client_alice.get(f"/api/bots/{pk}/position/").json()
    assert position["symbol"] == "BTC-USD"
    metrics = client_alice.get(f"/api/bots/{pk}/metrics/").json()
    assert {"equity", "profit", "cash", "fills"} <= set(metrics)


def test_manual_order_idempotency_key(client_alice: Any, asset: Any) -> None:
    pk = client_alice.post("/api/bots/", BODY, format="json").json()["id"]
    body = {"side": "buy", "quantity": "0.01"}
    first = client_alice.post(
        f"/api/bots/{pk}/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc"
    )
    again = client_alice.post(
        f"/api/bots/{pk}/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc"
    )
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"] and again.json()["key"] == "abc"
    other = client_alice.post(
        f"/api/bots/{pk}/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="def"
    )
    assert other.status_code == 201
    assert len(client_alice.get(f"/api/bots/{pk}/orders/").json()["results"]) == 2


def test_limit_order_needs_a_price(client_alice: Any, asset: Any) -> None:
    pk = client_alice.post("/api/bots/", BODY, format="json").json()["id"]
    r = client_alice.post(
        f"/api/bots/{pk}/orders/",
        {"side": "buy", "quantity": "1", "type": "limit"},
        format="json",
    )
    assert r.status_code == 400 and "limit_price" in r.json()["error"]["fields"]


PATHS = [
    ("get", ""),
    ("patch", ""),
    ("delete", ""),
    ("post", "start/"),
    ("post", "pause/"),
    ("post", "stop/"),
    ("post", "reset/"),
    ("get", "orders/"),
    ("post", "orders/"),
    ("get", "fills/"),
    ("get", "position/"),
    ("get", "journal/"),
    ("get", "metrics/"),
]


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_isolation_matrix(
    api: Any, alice: Any, bob: Any, vera: Any, asset: Any, method: str, path: str
) -> None:
    bot = make_bot(alice)
    url = f"/api/bots/{bot.pk}/{path}"
    body = {"side": "buy", "quantity": "1"} if path == "orders/" else {"name": "x"}
    assert getattr(api, method)(url, body, format="json").status_code == 401
    api.force_authenticate(bob)
    assert getattr(api, method)(url, body, format="json").status_code == 404
    api.force_authenticate(vera)
    expected = 404 if method == "get" else 403
    assert getattr(api, method)(url, body, format="json").status_code == expected
    TradingBot.objects.get(pk=bot.pk)  # still there


def test_viewer_cannot_create(api: Any, vera: Any, asset: Any) -> None:
    api.force_authenticate(vera)
    assert api.post("/api/bots/", BODY, format="json").status_code == 403
    assert api.get("/api/bots/").json()["results"] == []


@pytest.mark.parametrize("body", [-1171955, [1, 2], "yes please"])
def test_stop_with_a_body_that_is_not_an_object_is_a_400(
    client_alice: Any, asset: Any, body: Any
) -> None:
    """Regression (found by fuzzing): a JSON body that is not an object was a 500."""
    pk = client_alice.post("/api/bots/", BODY, format="json").json()["id"]
    client_alice.post(f"/api/bots/{pk}/start/")
    r = client_alice.post(f"/api/bots/{pk}/stop/", body, format="json")
    assert r.status_code == 400, r.content
    assert r.json()["error"]["code"]
    assert TradingBot.objects.get(pk=pk).status == "running"


@pytest.mark.parametrize(
    ("form", "closes"),
    [
        ({"close_position": "false"}, False),
        ({"close_position": "true"}, True),
        ({}, False),
    ],
)
def test_stop_reads_close_position_as_a_boolean(
    client_alice: Any, asset: Any, monkeypatch: Any, form: Any, closes: bool
) -> None:
    """Regression: a form's close_position=false was bool("false"), i.e. True, and
    would have sold the position."""
    from apps.bots import services

    seen: list[bool] = []
    original = services.stop_bot

    def spy(**kwargs: Any) -> Any:
        seen.append(kwargs["close_position"])
        return original(**kwargs)

    monkeypatch.setattr(services, "stop_bot", spy)
    pk = client_alice.post("/api/bots/", BODY, format="json").json()["id"]
    client_alice.post(f"/api/bots/{pk}/start/")
    r = client_alice.post(f"/api/bots/{pk}/stop/", form)  # multipart, as a form posts
    assert r.status_code == 200, r.content
    assert seen == [closes]
    assert TradingBot.objects.get(pk=pk).status == "stopped"
