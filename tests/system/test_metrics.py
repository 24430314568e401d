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


def test_shared_histogram_buckets_sum_and_count_by_hand(
    client: Any, settings: Any
) -> None:
    from apps.system.collectors import BROADCAST_LATENCY
    from tests.system.scrape import buckets, scrape, value

    for seconds in (0.003, 0.02, 0.02, 7.0):
        BROADCAST_LATENCY.observe(seconds)
    samples = scrape(client, settings)
    name = BROADCAST_LATENCY.name
    counts = buckets(samples, name)
    assert counts["0.001"] == 0 and counts["0.0025"] == 0 and counts["0.005"] == 1
    assert counts["0.01"] == 1 and counts["0.025"] == 3 and counts["2.5"] == 3
    assert counts["+Inf"] == 4 == value(samples, f"{name}_count")
    assert value(samples, f"{name}_sum") == pytest.approx(7.043)


def test_the_feed_records_each_broadcasts_latency(
    client: Any, settings: Any, monkeypatch: Any
) -> None:
    import time

    from apps.market.feed import Feed
    from apps.market.models import Asset
    from apps.market.services import Bar, upsert_candles
    from apps.system.collectors import BROADCAST_LATENCY
    from tests.market.test_feed import ROWS, replay_stream
    from tests.system.scrape import buckets, scrape, value

    monkeypatch.setattr("apps.market.feed.on_tick", lambda *, asset, tick: 0)
    btc = Asset.objects.create(symbol="BTC-USD", base="BTC", quote="USD")
    upsert_candles(asset=btc, timeframe="1h", bars=[Bar(*r) for r in ROWS])
    started = time.monotonic()
    stats = Feed([replay_stream(btc)]).run(max_ticks=8)
    elapsed = time.monotonic() - started
    samples = scrape(client, settings)
    name = BROADCAST_LATENCY.name
    # One observation per broadcast, each no longer than the whole run.
    assert stats.broadcasts >= 1
    assert value(samples, f"{name}_count") == stats.broadcasts
    total = value(samples, f"{name}_sum")
    assert 0 < total <= stats.broadcasts * elapsed
    assert buckets(samples, name)["+Inf"] == stats.broadcasts
