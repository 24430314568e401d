"""The Webhooks section of the settings page: add (the secret shown once), form
errors as 400, delete, test event, the delivery log with redelivery; full pages
and htmx fragments; owner scoping, viewers read-only, anonymous to the login."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.audit.models import AuditLog
from apps.webhooks import services
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint

from .conftest import make_endpoint

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
FORM = {"url": "https://hooks.example.com/aaiti", "events": ["trade.executed"]}


@pytest.fixture(autouse=True)
def _no_queue(monkeypatch: Any) -> list[int]:
    queued: list[int] = []
    monkeypatch.setattr(
        services, "enqueue", lambda pk, countdown=None: queued.append(pk)
    )
    return queued


def login(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_the_settings_page_has_the_webhooks_section(alice: Any) -> None:
    html = login(alice).get("/accounts/profile/").content.decode()
    assert 'id="webhooks"' in html and "No webhooks yet." in html
    assert 'action="/accounts/webhooks/new/"' in html
    assert 'hx-post="/accounts/webhooks/new/"' in html
    for label in ("Trade executed", "Bot status changed", "Backtest completed"):
        assert label in html
    assert "No deliveries yet." in html


def test_adding_shows_the_secret_once(alice: Any, public_dns: Any) -> None:
    web = login(alice)
    r = web.post("/accounts/webhooks/new/", FORM, **HX)
    assert r.status_code == 200
    endpoint = WebhookEndpoint.objects.get(owner=alice)
    html = r.content.decode()
    assert endpoint.secret in html and 'data-testid="webhook-secret"' in html
    assert "<html" not in html  # the fragment only
    assert endpoint.events == ["trade.executed"]
    for page in (
        web.get("/accounts/profile/"),
        web.get("/accounts/webhooks/", **HX),
        web.get("/accounts/webhooks/log/", **HX),
    ):
        assert page.status_code == 200
        assert endpoint.secret not in page.content.decode()
    assert "https://hooks.example.com/aaiti" in web.get("/accounts/profile/").text
    details = AuditLog.objects.get(action="webhook.created").details
    assert endpoint.secret not in str(details)


def test_adding_without_htmx_shows_the_secret_on_its_own_page(
    alice: Any, public_dns: Any
) -> None:
    r = login(alice).post("/accounts/webhooks/new/", FORM)
    assert r.status_code == 200 and "<html" in r.text
    assert WebhookEndpoint.objects.get(owner=alice).secret in r.text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({**FORM, "url": "https://127.0.0.1/hook"}, "loopback"),
        ({**FORM, "url": "https://169.254.169.254/"}, "link-local"),
        ({**FORM, "url": "http://hooks.example.com/"}, "https://"),
        ({"url": FORM["url"]}, "Choose at least one event."),
        ({**FORM, "secret": "short"}, "16 to 200"),
    ],
)
def test_form_errors_are_400(
    alice: Any, public_dns: Any, form: dict[str, Any], message: str
) -> None:
    r = login(alice).post("/accounts/webhooks/new/", form, **HX)
    assert r.status_code == 400 and message in r.text
    assert not WebhookEndpoint.objects.exists()
    r = login(alice).post("/accounts/webhooks/new/", form)
    assert r.status_code == 400 and message in r.text


def test_the_delivery_log_lists_and_redelivers(
    alice: Any, local_targets: Any, receiver: Any, _no_queue: list[int]
) -> None:
    from apps.webhooks.tasks import deliver_webhook_task

    endpoint = make_endpoint(alice, receiver.url)
    web = login(alice)
    r = web.post(f"/accounts/webhooks/{endpoint.pk}/test/", **HX)
    assert r.status_code == 200 and "Test event queued" in r.text
    ping = WebhookDelivery.objects.get(endpoint=endpoint)
    assert 'data-status="pending"' in r.text
    assert 'hx-trigger="every 2s"' in r.text  # the log polls while pending
    receiver.script = [500]
    deliver_webhook_task(ping.pk)
    log = web.get("/accounts/webhooks/log/", **HX).text
    assert 'data-event="ping"' in log and "HTTP 500" in log
    assert '<td data-testid="delivery-http">500</td>' in log
    WebhookDelivery.objects.filter(pk=ping.pk).update(next_attempt_at=None)
    deliver_webhook_task(ping.pk)
    log = web.get("/accounts/webhooks/log/", **HX).text
    assert 'data-status="succeeded"' in log and "every 2s" not in log
    assert '<td data-testid="delivery-http">200</td>' in log
    assert f"/accounts/webhooks/deliveries/{ping.pk}/redeliver/" in log
    r = web.post(f"/accounts/webhooks/deliveries/{ping.pk}/redeliver/", **HX)
    assert r.status_code == 200 and "Delivery queued again." in r.text
    assert WebhookDelivery.objects.filter(redelivery_of=ping).count() == 1
    full = web.get("/accounts/profile/").text
    assert full.count('data-testid="webhook-delivery"') == 2


def test_delete(alice: Any, public_dns: Any) -> None:
    endpoint = make_endpoint(alice, FORM["url"])
    r = login(alice).post(f"/accounts/webhooks/{endpoint.pk}/delete/")
    assert r.status_code == 302 and r["Location"] == "/accounts/profile/#webhooks"
    assert not WebhookEndpoint.objects.exists()
    assert AuditLog.objects.filter(action="webhook.deleted").count() == 1


def test_another_users_webhook_is_404_and_viewers_403(
    alice: Any, bob: Any, vera: Any, public_dns: Any
) -> None:
    endpoint = make_endpoint(alice, FORM["url"])
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event="ping", payload={}, status="succeeded"
    )
    posts = [
        f"/accounts/webhooks/{endpoint.pk}/delete/",
        f"/accounts/webhooks/{endpoint.pk}/test/",
        f"/accounts/webhooks/deliveries/{delivery.pk}/redeliver/",
    ]
    for url in posts:
        assert login(bob).post(url, **HX).status_code == 404, url
        assert login(vera).post(url, **HX).status_code == 403, url
        r = Client().post(url)
        assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    assert login(vera).post("/accounts/webhooks/new/", FORM).status_code == 403
    assert WebhookEndpoint.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1
    # bob's settings page shows none of alice's webhooks or deliveries.
    html = login(bob).get("/accounts/profile/").text
    assert FORM["url"] not in html and "No deliveries yet." in html
    # A viewer sees the section but no forms.
    html = login(vera).get("/accounts/profile/").text
    assert 'id="webhooks"' in html and "/accounts/webhooks/new/" not in html


def test_admin_lists_webhooks_without_secrets(
    admin: Any, alice: Any, public_dns: Any
) -> None:
    endpoint = make_endpoint(alice, FORM["url"])
    WebhookDelivery.objects.create(endpoint=endpoint, event="ping", payload={})
    web = login(admin)
    for url in (
        "/admin/webhooks/webhookendpoint/",
        f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/",
        "/admin/webhooks/webhookdelivery/",
    ):
        r = web.get(url)
        assert r.status_code == 200, url
        assert endpoint.secret not in r.text
    assert (
        "https://hooks.example.com/aaiti"
        in web.get("/admin/webhooks/webhookendpoint/").text
    )
    r = web.post(
        f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/",
        {"url": "https://127.0.0.1/", "active": "on"},
    )
    assert r.status_code == 403
    assert WebhookEndpoint.objects.get().url == FORM["url"]
    r = web.post(
        f"/admin/webhooks/webhookendpoint/{endpoint.pk}/delete/", {"post": "yes"}
    )
    assert r.status_code == 302 and not WebhookEndpoint.objects.exists()
    row = AuditLog.objects.get(action="webhook.deleted")
    assert row.user == admin and row.details == {"host": "hooks.example.com"}
