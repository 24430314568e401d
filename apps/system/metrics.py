"""Prometheus metrics at /metrics.

HTTP metrics are counted in this process (the request log middleware observes every
request). Figures that other processes produce (ticks recorded by the feed, job
queue depth, broadcast latency) are read from Redis, and state (orders, fills, bot
equity, job durations and outcomes) from the database, at scrape time, so one
scrape of any web process sees them: collectors.py explains the choice. Not public: a bearer token (METRICS_TOKEN) or, without one, only the
addresses in METRICS_ALLOWED_IPS.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .collectors import StateCollector

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "aaiti_http_requests",
    "HTTP requests by view, method and status",
    ["view", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "aaiti_http_request_duration_seconds",
    "HTTP request latency by view",
    ["view"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ERRORS = Counter(
    "aaiti_http_errors",
    "HTTP responses with status >= 500 by view",
    ["view"],
    registry=REGISTRY,
)
TICKS_KEY = "metrics:feed:ticks"
QUEUES = ("default", "training", "backtests")


def observe_request(request: HttpRequest, status: int, seconds: float) -> None:
    match = getattr(request, "resolver_match", None)
    view = (match.view_name if match else "") or "unresolved"
    REQUESTS.labels(view, request.method or "", str(status)).inc()
    LATENCY.labels(view).observe(seconds)
    if status >= 500:
        ERRORS.labels(view).inc()


def count_tick() -> None:
    cache.add(TICKS_KEY, 0, timeout=None)
    cache.incr(TICKS_KEY)


class SharedCollector:
    """Figures kept in Redis by other processes, read at scrape time."""

    def describe(self) -> list[Any]:
        # Without this the registry calls collect() at import time, which would
        # reach Redis and import the feed module while it is itself importing us.
        return []

    def collect(self) -> Iterator[Any]:
        from apps.market.feed import feed_status

        ticks = GaugeMetricFamily(
            "aaiti_feed_ticks_recorded", "Ticks the feed has recorded"
        )
        ticks.add_metric([], float(cache.get(TICKS_KEY) or 0))
        yield ticks
        age = GaugeMetricFamily(
            "aaiti_feed_last_tick_age_seconds",
            "Seconds since the feed's last heartbeat (-1: none)",
        )
        age.add_metric([], float(feed_status().get("age_seconds", -1)))
        yield age
        depth = GaugeMetricFamily(
            "aaiti_celery_queue_depth", "Jobs waiting per queue", labels=["queue"]
        )
        for queue, length in queue_depths().items():
            depth.add_metric([queue], float(length))
        yield depth


def queue_depths() -> dict[str, int]:
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)
    try:
        return {q: int(client.llen(q)) for q in QUEUES}
    except redis.RedisError:
        return {}
    finally:
        client.close()


REGISTRY.register(SharedCollector())
REGISTRY.register(StateCollector())


def allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.META.get("HTTP_AUTHORIZATION", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    from apps.accounts.ratelimit import client_ip

    return client_ip(request) in set(settings.METRICS_ALLOWED_IPS)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    started = time.perf_counter()
    body = generate_latest(REGISTRY)
    response = HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
    response["X-Scrape-Seconds"] = f"{time.perf_counter() - started:.4f}"
    return response
