from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import Client
from pythonjsonlogger.json import JsonFormatter

pytestmark = pytest.mark.django_db


def test_one_json_line_per_request_without_secrets(
    client: Client, caplog: Any, alice: Any
) -> None:
    client.force_login(alice)
    with caplog.at_level(logging.INFO, logger="aaiti.request"):
        response = client.get(
            "/accounts/profile/?token=SECRET123", HTTP_X_REQUEST_ID="req-abcdef12"
        )
    assert response["X-Request-ID"] == "req-abcdef12"
    records = [r for r in caplog.records if r.name == "aaiti.request"]
    assert len(records) == 1
    line = JsonFormatter("%(levelname)s %(name)s %(message)s").format(records[0])
    data = json.loads(line)
    assert data["method"] == "GET" and data["path"] == "/accounts/profile/"
    assert data["status"] == 200 and data["user_id"] == alice.pk
    assert data["request_id"] == "req-abcdef12" and data["duration_ms"] >= 0
    assert "SECRET123" not in line


def test_a_malformed_request_id_is_replaced(client: Client) -> None:
    response = client.get("/api/health", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert len(response["X-Request-ID"]) == 32
