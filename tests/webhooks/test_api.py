"""The webhooks API: create (the secret once), read, update, delete, the
delivery log, test pings and redelivery; errors in the one shape; the isolation
matrix (anonymous 401, another user 404, viewer 403) on every path; no secret in
any read or in the audit trail."""

from __future__ import annotations

from typing import Any

import pytest

from apps.audit.models import AuditLog
from apps.webhooks import services
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint

from .conftest import make_endpoint

pytestmark = pytest.mark.django_db
BODY = {"url": "https://hooks.example.com/aaiti", "events": ["trade.executed"]}


@pytest.fixture
def client_alice(api: Any, alice: Any, public_dns: Any) -> Any:
    api.force_authenticate(alice)
    return api


def test_create_shows_the_secret_once(client_alice: Any, alice: Any) -> None:
    r = client_alice.post("/api/webhooks/", BODY, format="json")
    assert r.status_code == 201, r.content
    created = r.json()
    secret = created["secret"]
    assert secret == WebhookEndpoint.objects.get(pk=created["id"]).secret
    assert created["events"] == ["trade.executed"] and created["active"] is True
    one = client_alice.get(f"/api/webhooks/{created['id']}/")
    listed = client_alice.get("/api/webhooks/")
    for response in (one, listed):
        assert response.status_code == 200
        assert "secret" not in response.content.decode()
        assert secret not in response.content.decode()
    assert listed.json()["count"] == 1
    assert [e["id"] for e in listed.json()["results"]] == [created["id"]]
    rows = AuditLog.objects.filter(user=alice, action="webhook.created")
    assert rows.count() == 1
    assert secret not in str(rows.get().details)
    assert rows.get().details["host"] == "hooks.example.com"


def test_a_supplied_secret_is_used_and_never_echoed_later(client_alice: Any) -> None:
    secret = "receiver-chosen-secret-0123456789"
    r = client_alice.post("/api/webhooks/", {**BODY, "secret": secret}, format="json")
    assert r.status_code == 201 and r.json()["secret"] == secret
    r = client_alice.post("/api/webhooks/", {**BODY, "secret": "short"}, format="json")
    assert r.status_code == 400
    assert "secret" in r.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"url": "http://hooks.example.com/x"}, "url"),
        ({"url": "https://10.0.0.1/x"}, "url"),
        ({"url": "https://169.254.169.254/latest"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"events": ["bot.exploded"]}, "events"),
        ({"events": []}, "events"),
        ({"events": "trade.executed"}, "events"),
    ],
)
def test_bad_input_is_400_with_fields(
    client_alice: Any, change: dict[str, Any], field: str
) -> None:
    r = client_alice.post("/api/webhooks/", {**BODY, **change}, format="json")
    assert r.status_code == 400, r.content
    error = r.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]
    assert not WebhookEndpoint.objects.exists()


def test_the_cap_is_a_400(client_alice: Any, settings: Any) -> None:
    settings.WEBHOOK_MAX_ENDPOINTS_PER_USER = 1
    assert client_alice.post("/api/webhooks/", BODY, format="json").status_code == 201
    r = client_alice.post("/api/webhooks/", BODY, format="json")
    assert r.status_code == 400 and "maximum of 1" in r.json()["error"]["message"]


def test_update_and_delete(client_alice: Any, alice: Any) -> None:
    pk = client_alice.post("/api/webhooks/", BODY, format="json").json()["id"]
    r = client_alice.patch(
        f"/api/webhooks/{pk}/",
        {"events": ["backtest.completed", "trade.executed"], "active": False},
        format="json",
    )
    assert r.status_code == 200, r.content
    # Stored in the canonical order of events.
    assert r.json()["events"] == ["trade.executed", "backtest.completed"]
    assert r.json()["active"] is False
    r = client_alice.patch(f"/api/webhooks/{pk}/", {"secret": "x" * 30}, format="json")
    assert r.status_code == 400 and "secret" in r.json()["error"]["fields"]
    r = client_alice.patch(f"/api/webhooks/{pk}/", {"url": "https://127.0.0.1/"})
    assert r.status_code == 400
    assert client_alice.delete(f"/api/webhooks/{pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()
    actions = set(AuditLog.objects.filter(user=alice).values_list("action", flat=True))
    assert {"webhook.created", "webhook.updated", "webhook.deleted"} <= actions


def test_ping_delivery_log_and_redeliver(
    client_alice: Any,
    alice: Any,
    receiver: Any,
    local_targets: Any,
    monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    r = client_alice.post(
        "/api/webhooks/", {**BODY, "url": receiver.url}, format="json"
    )
    pk = r.json()["id"]
    queued: list[int] = []
    monkeypatch.setattr(
        services, "enqueue", lambda pk, countdown=None: queued.append(pk)
    )
    with django_capture_on_commit_callbacks(execute=True):
        r = client_alice.post(f"/api/webhooks/{pk}/test/")
    # Sent to the queue once committed; the worker's task is run here directly.
    assert queued == [r.json()["id"]]
    assert r.status_code == 202, r.content
    ping = r.json()
    assert ping["event"] == "ping" and ping["status"] == "pending"

    from apps.webhooks.tasks import deliver_webhook_task

    assert deliver_webhook_task(ping["id"]) == "succeeded"
    assert receiver.requests[0].headers["X-AAITI-Event"] == "ping"
    log = client_alice.get(f"/api/webhooks/{pk}/deliveries/").json()
    assert log["count"] == 1
    [row] = log["results"]
    assert row["status"] == "succeeded" and row["last_status_code"] == 200
    assert row["attempts"] == 1 and row["delivery_id"] == ping["delivery_id"]

    r = client_alice.post(f"/api/webhooks/{pk}/deliveries/{ping['id']}/redeliver/")
    assert r.status_code == 202, r.content
    again = r.json()
    assert again["redelivery_of"] == ping["id"] and again["status"] == "pending"
    assert again["delivery_id"] != ping["delivery_id"]
    assert again["payload"]["data"] == row["payload"]["data"]
    # A pending delivery cannot be redelivered (it is still being attempted).
    r = client_alice.post(f"/api/webhooks/{pk}/deliveries/{again['id']}/redeliver/")
    assert r.status_code == 400 and "still being attempted" in r.text
    one = client_alice.get(f"/api/webhooks/{pk}/deliveries/{again['id']}/")
    assert one.status_code == 200 and one.json()["id"] == again["id"]
    actions = list(AuditLog.objects.filter(user=alice).values_list("action", flat=True))
    assert "webhook.test_sent" in actions and "webhook.redelivered" in actions
    secret = WebhookEndpoint.objects.get(pk=pk).secret
    assert all(
        secret not in str(d) for d in AuditLog.objects.values_list("details", flat=True)
    )


def test_pagination_is_the_apis(
    client_alice: Any, alice: Any, receiver: Any, local_targets: Any
) -> None:
    endpoint = make_endpoint(alice, receiver.url)
    for _ in range(55):
        WebhookDelivery.objects.create(endpoint=endpoint, event="ping", payload={})
    page = client_alice.get(f"/api/webhooks/{endpoint.pk}/deliveries/").json()
    assert page["count"] == 55 and len(page["results"]) == 50 and page["next"]


def _paths(endpoint: Any, delivery: Any) -> list[tuple[str, str]]:
    base = f"/api/webhooks/{endpoint.pk}/"
    return [
        ("get", base),
        ("patch", base),
        ("delete", base),
        ("get", f"{base}deliveries/"),
        ("get", f"{base}deliveries/{delivery.pk}/"),
        ("post", f"{base}deliveries/{delivery.pk}/redeliver/"),
        ("post", f"{base}test/"),
    ]


PATH_NAMES = ["get", "patch", "delete", "deliveries", "delivery", "redeliver", "test"]


@pytest.mark.parametrize("which", range(len(PATH_NAMES)), ids=PATH_NAMES)
def test_isolation_matrix(
    api: Any,
    alice: Any,
    bob: Any,
    vera: Any,
    local_targets: Any,
    receiver: Any,
    which: int,
) -> None:
    endpoint = make_endpoint(alice, receiver.url)
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event="ping", payload={}, status="succeeded"
    )
    method, url = _paths(endpoint, delivery)[which]
    body = {"active": False}
    assert getattr(api, method)(url, body, format="json").status_code == 401
    api.force_authenticate(bob)
    r = getattr(api, method)(url, body, format="json")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    api.force_authenticate(vera)
    expected = 404 if method == "get" else 403
    assert getattr(api, method)(url, body, format="json").status_code == expected
    endpoint.refresh_from_db()  # still there, unchanged
    assert endpoint.active is True
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1


def test_lists_are_scoped_and_viewers_cannot_create(
    api: Any, alice: Any, bob: Any, vera: Any, public_dns: Any
) -> None:
    make_endpoint(alice, BODY["url"])
    for user in (bob, vera):
        api.force_authenticate(user)
        assert api.get("/api/webhooks/").json()["results"] == []
    assert api.post("/api/webhooks/", BODY, format="json").status_code == 403
    api.force_authenticate(None)
    assert api.get("/api/webhooks/").status_code == 401
    assert api.post("/api/webhooks/", BODY, format="json").status_code == 401


def test_the_schema_documents_the_webhooks_api(client: Any) -> None:
    schema = client.get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    ).json()
    for path in [
        "/api/webhooks/",
        "/api/webhooks/{id}/",
        "/api/webhooks/{id}/deliveries/",
        "/api/webhooks/{id}/deliveries/{delivery}/",
        "/api/webhooks/{id}/deliveries/{delivery}/redeliver/",
        "/api/webhooks/{id}/test/",
    ]:
        assert path in schema["paths"], path
    created = schema["paths"]["/api/webhooks/"]["post"]["responses"]["201"]
    ref = created["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    assert "secret" in schema["components"]["schemas"][ref]["properties"]
    read = schema["components"]["schemas"]["Endpoint"]["properties"]
    assert "secret" not in read
