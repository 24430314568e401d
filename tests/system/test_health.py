from __future__ import annotations

from typing import Any

import pytest
from django.test import Client


@pytest.mark.django_db
def test_health_reports_every_dependency_ok_without_auth(client: Client) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    # No feed runs in this test: that degrades the service, it does not fail it.
    assert body["status"] == "degraded"
    assert body["checks"].pop("feed") == {"status": "absent"}
    assert set(body["checks"]) == {
        "database",
        "cache",
        "redis",
        "celery_broker",
        "channel_layer",
    }
    assert all(c["status"] == "ok" for c in body["checks"].values())


@pytest.mark.django_db
def test_health_is_503_when_redis_is_unreachable(client: Client, settings: Any) -> None:
    # check_redis dials settings.REDIS_URL afresh on every call.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["redis"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"
    # Names the failure, never the address or credentials.
    assert "127.0.0.1" not in response.content.decode()


@pytest.mark.django_db
def test_health_reports_the_age_of_the_last_tick(client: Client) -> None:
    from datetime import UTC, datetime, timedelta

    from django.core.cache import cache

    from apps.market.live import HEARTBEAT_KEY

    cache.set(
        HEARTBEAT_KEY,
        {"time": datetime.now(UTC) - timedelta(seconds=5), "provider": "replay"},
    )
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["checks"]["feed"]["status"] == "ok"
    assert 4 < body["checks"]["feed"]["age_seconds"] < 30
    cache.set(
        HEARTBEAT_KEY,
        {"time": datetime.now(UTC) - timedelta(minutes=10), "provider": "replay"},
    )
    body = client.get("/api/health").json()
    assert body["status"] == "degraded" and body["checks"]["feed"]["status"] == "stale"
