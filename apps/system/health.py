"""Dependency checks behind GET /api/health. No secrets in what they return."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache
from django.db import connection

CHECK_TIMEOUT_SECONDS = 2.0


def check_database() -> dict[str, Any]:
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
        cur.fetchone()
    return {"vendor": connection.vendor}


def check_cache() -> dict[str, Any]:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "ok", 10)
    if cache.get(key) != "ok":
        raise RuntimeError("cache did not return what was written")
    cache.delete(key)
    return {}


def _redis_ping(url: str) -> None:
    import redis

    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
        socket_timeout=CHECK_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()


def check_redis() -> dict[str, Any]:
    _redis_ping(settings.REDIS_URL)
    return {}


def check_broker() -> dict[str, Any]:
    from aaiti.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_SECONDS)
    return {}


def check_channel_layer() -> dict[str, Any]:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")

    async def roundtrip() -> None:
        import asyncio

        channel = await layer.new_channel()
        await layer.send(channel, {"type": "health.ping"})
        await asyncio.wait_for(layer.receive(channel), CHECK_TIMEOUT_SECONDS)

    async_to_sync(roundtrip)()
    return {}


CHECKS: dict[str, Callable[[], dict[str, Any]]] = {
    "database": check_database,
    "cache": check_cache,
    "redis": check_redis,
    "celery_broker": check_broker,
    "channel_layer": check_channel_layer,
}


def feed_check() -> dict[str, Any]:
    from apps.market.feed import feed_status

    return feed_status()


def run_checks() -> tuple[bool, dict[str, Any]]:
    results: dict[str, Any] = {}
    healthy = True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            entry = {"status": "ok", **check()}
        except Exception as exc:  # noqa: BLE001 - any failure is a failed check
            healthy = False
            # The class name only: messages can carry hosts or credentials.
            entry = {"status": "error", "error": type(exc).__name__}
        entry["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[name] = entry
    # Informational: a stale or absent feed degrades the service, it does not take
    # it down (pages, API and jobs still work), so it never turns health into 503.
    try:
        results["feed"] = feed_check()
    except Exception as exc:  # noqa: BLE001
        results["feed"] = {"status": "error", "error": type(exc).__name__}
    return healthy, results
