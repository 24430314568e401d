"""Webhook fixtures: a real HTTP receiver on 127.0.0.1 (http.server in a thread)
that records every request and answers with the statuses a test scripts, and
settings that allow plain http and local targets so deliveries can reach it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    # Statuses to answer, in order; once used up, 200. A (status, location) pair
    # answers a redirect.
    script: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    cafile: str = ""


def start_receiver(
    tls: tuple[str, str] | None = None,
) -> tuple[ThreadingHTTPServer, Receiver]:
    """A receiver on 127.0.0.1; with ``tls`` (cert file, key file) it speaks https."""
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.requests.append(
                    Received(self.path, dict(self.headers.items()), body)
                )
                answer = receiver.script.pop(0) if receiver.script else 200
            status, location = answer if isinstance(answer, tuple) else (answer, "")
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/aaiti"
    if tls:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        receiver.url = receiver.url.replace("http://", "https://")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server, rec = start_receiver()
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def local_targets(settings: Any) -> Any:
    """What a developer sets to deliver to a receiver on this machine."""
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_RETRY_DELAYS = [10.0, 60.0, 300.0, 1800.0]
    settings.WEBHOOK_TIMEOUT_SECONDS = 2
    return settings


@pytest.fixture
def public_dns(monkeypatch: Any) -> dict[str, list[str]]:
    """Host names resolving to addresses of our choosing (no DNS here): public
    ones to save an endpoint, private ones to check the refusals. No traffic is
    ever sent to these addresses."""
    import socket

    table: dict[str, list[str]] = {"hooks.example.com": ["93.184.215.14"]}
    real = socket.getaddrinfo

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in table:
            return [
                (
                    socket.AF_INET6 if ":" in ip else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (ip, port),
                )
                for ip in table[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr("apps.webhooks.targets.socket.getaddrinfo", fake)
    return table


def make_endpoint(owner: Any, url: str, events: list[str] | None = None) -> Any:
    from apps.webhooks.models import EVENTS
    from apps.webhooks.services import create_endpoint

    return create_endpoint(owner=owner, url=url, events=list(events or EVENTS))
