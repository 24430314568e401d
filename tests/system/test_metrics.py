from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_metrics_are_not_public(client: Client, settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.9.9.9"]
    assert client.get("/metrics").status_code == 403
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert (
        client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code
        == 200
    )


def test_metrics_count_requests_latency_errors_and_shared_figures(
    client: Client, settings: Any
) -> None:
    from apps.market.live import HEARTBEAT_KEY
    from apps.system.metrics import count_tick

    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    client.get("/api/health")
    client.get("/api/health")
    count_tick()
    count_tick()
    from datetime import UTC, datetime

    from django.core.cache import cache

    cache.set(HEARTBEAT_KEY, {"time": datetime.now(UTC), "provider": "replay"})
    body = client.get("/metrics").content.decode()
    health = [
        line
        for line in body.splitlines()
        if line.startswith("aaiti_http_requests_total{") and 'view="health"' in line
    ]
    assert health and float(health[0].split()[-1]) >= 2
    assert (
        'aaiti_http_request_duration_seconds_bucket{le="0.005",view="health"}' in body
    )
    assert "aaiti_feed_ticks_recorded 2.0" in body
    assert 'aaiti_celery_queue_depth{queue="training"}' in body
    age = [
        line
        for line in body.splitlines()
        if line.startswith("aaiti_feed_last_tick_age")
    ]
    assert 0 <= float(age[0].split()[-1]) < 30
