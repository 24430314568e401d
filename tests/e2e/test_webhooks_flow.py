"""Webhooks in the browser: register an endpoint on the settings page, see its
secret once, send a test event to a real local receiver through the worker (its
first attempt answered 500 and retried), see it succeed in the delivery log,
redeliver it, and delete the endpoint."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.webhooks.conftest import start_receiver

from .helpers import sign_up

pytestmark = pytest.mark.e2e


def wait_for(predicate: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_register_a_webhook_and_see_its_deliveries(
    page: Any, live_url: str, worker: Any, screenshot: Any
) -> None:
    server, receiver = start_receiver()
    try:
        sign_up(page, live_url, "webhooks")
        page.goto(f"{live_url}/accounts/profile/")
        section = page.get_by_test_id("webhooks")
        expect(section.get_by_role("heading", name="Webhooks")).to_be_visible()
        expect(section.get_by_text("No webhooks yet.")).to_be_visible()

        page.get_by_label("Endpoint URL").fill(receiver.url)
        page.get_by_label("Trade executed").check()
        page.get_by_label("Bot status changed").check()
        page.get_by_role("button", name="Add webhook").click()
        secret_box = page.get_by_test_id("webhook-secret")
        expect(secret_box).to_be_visible()
        secret = secret_box.inner_text().strip()
        assert len(secret) >= 40
        row = page.get_by_test_id("webhook-endpoint")
        expect(row).to_contain_text(receiver.url)
        expect(row).to_contain_text("trade.executed, bot.status_changed")
        screenshot("webhooks-added")

        # Shown once: a reload no longer has it.
        page.reload()
        expect(page.get_by_test_id("webhook-endpoint")).to_have_count(1)
        expect(page.get_by_test_id("webhook-secret")).to_have_count(0)
        assert secret not in page.content()

        # The receiver fails the first attempt: the worker retries it (1 s here).
        receiver.script = [500]
        page.get_by_role("button", name="Send test event").click()
        expect(page.get_by_test_id("webhook-notice")).to_contain_text("Test event")
        delivery = page.get_by_test_id("webhook-delivery")
        expect(delivery).to_have_count(1)
        # The worker delivers it; the log polls itself until it is done.
        expect(delivery.get_by_test_id("delivery-status")).to_have_text(
            "Succeeded", timeout=30_000
        )
        expect(delivery.get_by_test_id("delivery-http")).to_have_text("200")
        expect(delivery.get_by_test_id("delivery-attempts")).to_have_text("2")
        expect(delivery).to_contain_text("ping")
        screenshot("webhooks-delivered")

        first, got = receiver.requests
        assert first.body == got.body  # a retry sends the same bytes
        expected = hmac.new(secret.encode(), got.body, hashlib.sha256).hexdigest()
        assert got.headers["X-AAITI-Signature"] == f"sha256={expected}"
        assert json.loads(got.body)["event"] == "ping"

        page.get_by_role("button", name="Redeliver").click()
        expect(page.get_by_test_id("webhook-delivery")).to_have_count(2)
        expect(
            page.locator('[data-testid="webhook-delivery"][data-status="succeeded"]')
        ).to_have_count(2, timeout=30_000)
        wait_for(lambda: len(receiver.requests) == 3)
        ids = [r.headers["X-AAITI-Delivery"] for r in receiver.requests]
        assert ids[0] == ids[1] != ids[2]  # a retry keeps its id, a redelivery not

        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Delete").click()
        expect(page.get_by_text("Webhook deleted.")).to_be_visible()
        expect(page.get_by_test_id("webhook-endpoint")).to_have_count(0)
        expect(page.get_by_test_id("webhook-delivery")).to_have_count(0)
    finally:
        server.shutdown()
        server.server_close()
