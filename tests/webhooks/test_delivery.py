"""Deliveries to a real local HTTP receiver: the signature checked with an HMAC
computed here independently, retries with backoff, the cap, no redirects, SSRF
refusals at save time and at delivery time, and idempotent attempts."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.webhooks import services, tasks
from apps.webhooks.models import WebhookDelivery

from .conftest import make_endpoint

pytestmark = pytest.mark.django_db


def _one_delivery(endpoint: Any) -> WebhookDelivery:
    services.emit_event(
        user=endpoint.owner,
        event="backtest.completed",
        data={"backtest": 7, "status": "succeeded", "total_return": 0.125},
    )
    return WebhookDelivery.objects.get(endpoint=endpoint)


def test_signature_verifies_with_an_independent_hmac(
    alice: Any, receiver: Any, local_targets: Any
) -> None:
    endpoint = make_endpoint(alice, receiver.url)
    secret = endpoint.secret
    delivery = _one_delivery(endpoint)
    assert tasks.deliver_webhook_task(delivery.pk) == "succeeded"

    [got] = receiver.requests
    assert got.path == "/hooks/aaiti"
    expected = hmac.new(secret.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["X-AAITI-Signature"] == f"sha256={expected}"
    # A different secret does not verify.
    wrong = hmac.new(b"another-secret-value", got.body, hashlib.sha256).hexdigest()
    assert got.headers["X-AAITI-Signature"] != f"sha256={wrong}"
    assert got.headers["X-AAITI-Event"] == "backtest.completed"
    assert got.headers["X-AAITI-Delivery"] == str(delivery.delivery_id)
    assert got.headers["Content-Type"] == "application/json"
    body = json.loads(got.body)
    assert body["event"] == "backtest.completed"
    assert body["id"] == str(delivery.delivery_id)
    assert body["data"] == {"backtest": 7, "status": "succeeded", "total_return": 0.125}
    assert body["created"].endswith("Z")
    assert secret not in got.body.decode()

    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 1
    assert delivery.last_status_code == 200 and delivery.last_error == ""
    assert delivery.duration_ms is not None and delivery.finished_at is not None


def test_the_body_is_strict_json(alice: Any, receiver: Any, local_targets: Any) -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    endpoint = make_endpoint(alice, receiver.url)
    services.emit_event(
        user=alice,
        event="backtest.completed",
        data={
            "sharpe": float("nan"),
            "ratio": [float("inf"), 1.5],
            "price": Decimal("9412.1000000000"),
            "time": datetime(2020, 1, 1, 13, tzinfo=UTC),
        },
    )
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert tasks.deliver_webhook_task(delivery.pk) == "succeeded"

    def strict(token: str) -> None:
        raise ValueError(token)

    data = json.loads(receiver.requests[0].body, parse_constant=strict)["data"]
    assert data == {
        "sharpe": None,
        "ratio": [None, 1.5],
        "price": "9412.1000000000",
        "time": "2020-01-01T13:00:00Z",
    }


def test_retries_with_backoff_on_500_then_succeeds(
    alice: Any,
    receiver: Any,
    local_targets: Any,
    monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    scheduled: list[tuple[list[int], float]] = []
    monkeypatch.setattr(
        tasks.deliver_webhook_task,
        "apply_async",
        lambda args, countdown, **kw: scheduled.append((args, countdown)),
    )
    receiver.script = [500, 503]
    delivery = _one_delivery(make_endpoint(alice, receiver.url))

    for attempt, delay in [(1, 10.0), (2, 60.0)]:
        before = timezone.now()
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.deliver_webhook_task(delivery.pk) == "pending"
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
        assert delivery.last_status_code == (500 if attempt == 1 else 503)
        assert "HTTP 5" in delivery.last_error
        assert scheduled[-1] == ([delivery.pk], delay)
        due = delivery.next_attempt_at - before
        assert timedelta(seconds=delay) <= due < timedelta(seconds=delay + 5)
        # The message comes back early (a duplicate): not due, nothing is sent.
        assert tasks.deliver_webhook_task(delivery.pk) == "pending"
        assert len(receiver.requests) == attempt
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now()
        )

    assert tasks.deliver_webhook_task(delivery.pk) == "succeeded"
    delivery.refresh_from_db()
    assert delivery.attempts == 3 and delivery.last_status_code == 200
    assert len(receiver.requests) == 3
    # Every attempt sent the same bytes, so the same signature.
    assert len({r.body for r in receiver.requests}) == 1
    assert len({r.headers["X-AAITI-Signature"] for r in receiver.requests}) == 1


def test_fails_after_the_attempt_cap(
    alice: Any, receiver: Any, local_targets: Any, monkeypatch: Any
) -> None:
    local_targets.WEBHOOK_RETRY_DELAYS = [1.0, 2.0]
    monkeypatch.setattr(services, "enqueue", lambda *a, **k: None)
    receiver.script = [500] * 10
    delivery = _one_delivery(make_endpoint(alice, receiver.url))
    for _ in range(3):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now()
        )
        tasks.deliver_webhook_task(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 3
    assert delivery.next_attempt_at is None and delivery.finished_at is not None
    # A failed delivery is never attempted again by a stray message.
    assert tasks.deliver_webhook_task(delivery.pk) == "failed"
    assert len(receiver.requests) == 3


def test_a_succeeded_delivery_is_not_sent_twice(
    alice: Any, receiver: Any, local_targets: Any
) -> None:
    delivery = _one_delivery(make_endpoint(alice, receiver.url))
    assert tasks.deliver_webhook_task(delivery.pk) == "succeeded"
    assert tasks.deliver_webhook_task(delivery.pk) == "succeeded"
    assert len(receiver.requests) == 1


def test_an_attempt_claimed_by_another_worker_is_skipped(
    alice: Any, receiver: Any, local_targets: Any, monkeypatch: Any
) -> None:
    delivery = _one_delivery(make_endpoint(alice, receiver.url))
    real_update = WebhookDelivery.objects.filter

    # Another worker claims the attempt between our read and our claim.
    def racing_filter(*args: Any, **kwargs: Any) -> Any:
        if "attempts" in kwargs and kwargs.get("attempts") == 0:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=1)
        return real_update(*args, **kwargs)

    monkeypatch.setattr(WebhookDelivery.objects, "filter", racing_filter)
    assert services.attempt_delivery(delivery_id=delivery.pk) is None
    assert receiver.requests == []


def test_redirects_are_not_followed(
    alice: Any, receiver: Any, local_targets: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(services, "enqueue", lambda *a, **k: None)
    receiver.script = [(302, receiver.url.replace("/hooks/aaiti", "/elsewhere"))]
    delivery = _one_delivery(make_endpoint(alice, receiver.url))
    assert tasks.deliver_webhook_task(delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.last_status_code == 302
    assert delivery.last_error == "redirect not followed"
    assert [r.path for r in receiver.requests] == ["/hooks/aaiti"]


def test_a_network_error_is_retried(
    alice: Any, local_targets: Any, monkeypatch: Any
) -> None:
    import socket

    monkeypatch.setattr(services, "enqueue", lambda *a, **k: None)
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    delivery = _one_delivery(make_endpoint(alice, f"http://127.0.0.1:{port}/x"))
    assert tasks.deliver_webhook_task(delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.last_status_code is None
    assert "ConnectionRefused" in delivery.last_error
    assert delivery.attempts == 1 and delivery.next_attempt_at is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8000/hook",
        "http://192.168.1.10/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_private_targets_are_refused_when_not_allowed(
    alice: Any, settings: Any, url: str
) -> None:
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(services.WebhookError) as err:
        make_endpoint(alice, url)
    assert err.value.field == "url"
    assert "public addresses" in err.value.message


def test_a_name_resolving_to_a_private_address_is_refused(
    alice: Any, settings: Any, public_dns: Any
) -> None:
    public_dns["internal.example.com"] = ["93.184.215.14", "10.0.0.5"]
    with pytest.raises(services.WebhookError, match="10.0.0.5, a private"):
        make_endpoint(alice, "https://internal.example.com/hook")
    endpoint = make_endpoint(alice, "https://hooks.example.com/hook")
    assert endpoint.url == "https://hooks.example.com/hook"


def test_the_address_is_checked_again_at_delivery_time(
    alice: Any,
    receiver: Any,
    local_targets: Any,
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(services, "enqueue", lambda *a, **k: None)
    delivery = _one_delivery(make_endpoint(alice, receiver.url))
    # The setting is turned off after the endpoint was saved (or a name now
    # resolves elsewhere): the attempt is refused and nothing is sent.
    local_targets.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    assert tasks.deliver_webhook_task(delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("refused:")
    assert "loopback" in delivery.last_error
    assert receiver.requests == []


def test_the_request_goes_to_the_checked_address(
    alice: Any, receiver: Any, local_targets: Any, public_dns: Any, monkeypatch: Any
) -> None:
    """A name is resolved once per attempt and the connection goes to that
    address, with the name in the Host header (no second lookup to rebind)."""
    port = receiver.url.split(":")[2].split("/")[0]
    public_dns["rebind.example.com"] = ["127.0.0.1"]
    endpoint = make_endpoint(alice, f"http://rebind.example.com:{port}/hooks/aaiti")
    delivery = _one_delivery(endpoint)
    assert tasks.deliver_webhook_task(delivery.pk) == "succeeded"
    assert receiver.requests[0].headers["Host"] == f"rebind.example.com:{port}"


@pytest.fixture
def tls_receiver(tmp_path: Any) -> Any:
    """An https receiver whose self-signed certificate names hooks.example.com."""
    import subprocess

    from .conftest import start_receiver

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(  # noqa: S603
        [  # noqa: S607
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=hooks.example.com",
            "-addext",
            "subjectAltName=DNS:hooks.example.com",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server, rec = start_receiver(tls=(str(cert), str(key)))
    rec.cafile = str(cert)
    yield rec
    server.shutdown()
    server.server_close()


def test_https_checks_the_certificate_against_the_host_name(
    alice: Any,
    tls_receiver: Any,
    local_targets: Any,
    public_dns: Any,
    monkeypatch: Any,
) -> None:
    """The connection goes to the checked address, while TLS (SNI and the
    certificate's name) still uses the URL's host name."""
    import ssl

    monkeypatch.setattr(services, "enqueue", lambda *a, **k: None)
    port = tls_receiver.url.split(":")[2].split("/")[0]
    public_dns["hooks.example.com"] = ["127.0.0.1"]
    endpoint = make_endpoint(alice, f"https://hooks.example.com:{port}/hooks/aaiti")
    delivery = _one_delivery(endpoint)
    # Not trusted: the self-signed certificate is refused, nothing is read.
    assert tasks.deliver_webhook_task(delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert "CERTIFICATE_VERIFY_FAILED" in delivery.last_error
    assert tls_receiver.requests == []

    trusted = ssl.create_default_context(cafile=tls_receiver.cafile)
    monkeypatch.setattr(
        "apps.webhooks.targets.ssl.create_default_context", lambda: trusted
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now()
    )
    assert tasks.deliver_webhook_task(delivery.pk) == "succeeded"
    assert tls_receiver.requests[0].headers["Host"] == f"hooks.example.com:{port}"

    # The same certificate does not pass for another name on the same address.
    public_dns["other.example.com"] = ["127.0.0.1"]
    other = make_endpoint(alice, f"https://other.example.com:{port}/hooks/aaiti")
    wrong = _one_delivery(other)
    assert tasks.deliver_webhook_task(wrong.pk) == "pending"
    wrong.refresh_from_db()
    assert "CERTIFICATE_VERIFY_FAILED" in wrong.last_error
    assert len(tls_receiver.requests) == 1


def test_url_rules(alice: Any, settings: Any, public_dns: Any) -> None:
    settings.WEBHOOK_ALLOW_HTTP = False
    cases = {
        "http://hooks.example.com/x": "https://",
        "ftp://hooks.example.com/x": "https://",
        "https://user:pw@hooks.example.com/x": "user name or password",
        "https:///nohost": "no host",
        "https://does-not-exist.invalid/x": "does not resolve",
        "https://hooks.example.com:99999/x": "valid URL",
    }
    for url, message in cases.items():
        with pytest.raises(services.WebhookError, match=message):
            make_endpoint(alice, url)


def test_secrets_are_generated_or_checked(alice: Any, public_dns: Any) -> None:
    a = make_endpoint(alice, "https://hooks.example.com/a")
    b = make_endpoint(alice, "https://hooks.example.com/b")
    assert len(a.secret) >= 40 and a.secret != b.secret
    with pytest.raises(services.WebhookError, match="16 to 200"):
        services.create_endpoint(
            owner=alice,
            url="https://hooks.example.com/c",
            events=["trade.executed"],
            secret="x",
        )
    own = services.create_endpoint(
        owner=alice,
        url="https://hooks.example.com/d",
        events=["trade.executed"],
        secret="my-own-secret-of-enough-length",
    )
    assert own.secret == "my-own-secret-of-enough-length"


def test_unknown_events_and_the_cap_are_refused(
    alice: Any, settings: Any, public_dns: Any
) -> None:
    with pytest.raises(services.WebhookError, match="Unknown event"):
        make_endpoint(alice, "https://hooks.example.com/a", ["bot.exploded"])
    with pytest.raises(services.WebhookError, match="at least one"):
        services.create_endpoint(
            owner=alice, url="https://hooks.example.com/a", events=[]
        )
    settings.WEBHOOK_MAX_ENDPOINTS_PER_USER = 2
    make_endpoint(alice, "https://hooks.example.com/1")
    make_endpoint(alice, "https://hooks.example.com/2")
    with pytest.raises(services.WebhookError, match="maximum of 2"):
        make_endpoint(alice, "https://hooks.example.com/3")


def test_enqueue_never_fails_or_blocks_the_caller(
    monkeypatch: Any, caplog: Any
) -> None:
    from kombu.exceptions import OperationalError

    calls: list[dict[str, Any]] = []

    def broker_down(**kwargs: Any) -> None:
        calls.append(kwargs)
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379")

    monkeypatch.setattr(tasks.deliver_webhook_task, "apply_async", broker_down)
    services.enqueue(5)
    services.enqueue(6, countdown=60.0)
    # No publish retries: the feed's tick or the web request goes on at once.
    assert calls == [
        {"args": [5], "countdown": None, "retry": False},
        {"args": [6], "countdown": 60.0, "retry": False},
    ]
    assert "webhook delivery 5 not queued" in caplog.text


def test_the_sweep_requeues_overdue_deliveries(
    alice: Any, receiver: Any, local_targets: Any, monkeypatch: Any
) -> None:
    sent: list[int] = []
    monkeypatch.setattr(services, "enqueue", lambda pk, countdown=None: sent.append(pk))
    delivery = _one_delivery(make_endpoint(alice, receiver.url))
    assert services.retry_due() == 0
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    assert services.retry_due() == 1 and sent == [delivery.pk]


def test_old_finished_deliveries_are_pruned(
    alice: Any, receiver: Any, local_targets: Any
) -> None:
    endpoint = make_endpoint(alice, receiver.url)
    old = timezone.now() - timedelta(days=31)
    rows = {
        status: WebhookDelivery.objects.create(
            endpoint=endpoint, event="ping", payload={}, status=status
        )
        for status in ("succeeded", "failed", "pending")
    }
    recent = WebhookDelivery.objects.create(
        endpoint=endpoint, event="ping", payload={}, status="succeeded"
    )
    WebhookDelivery.objects.filter(pk__in=[r.pk for r in rows.values()]).update(
        created_at=old
    )
    assert tasks.prune_deliveries_task() == 2
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {
        rows["pending"].pk,
        recent.pk,
    }


def test_the_worker_consumes_the_webhooks_queue() -> None:
    """Deliveries go to the default queue, which the Procfile's worker consumes."""
    from pathlib import Path

    from aaiti.celery import app

    route = app.amqp.router.route({}, "apps.webhooks.tasks.deliver_webhook_task")
    queue = route["queue"].name
    procfile = (Path(__file__).resolve().parents[2] / "Procfile").read_text()
    worker = next(line for line in procfile.splitlines() if line.startswith("worker:"))
    assert queue in worker.split("-Q ")[1].split()[0].split(",")
