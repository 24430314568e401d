"""Where a webhook may go, and the one HTTP request that goes there.

A URL must be https (http only with ``WEBHOOK_ALLOW_HTTP``), carry no credentials,
and its host must resolve only to public addresses: loopback, private, link-local,
multicast, reserved and unspecified ones are refused unless
``WEBHOOK_ALLOW_PRIVATE_TARGETS`` is on. The check runs when an endpoint is saved
and again at every attempt, and the request then connects to the very address
that was checked (no second lookup a rebinding DNS server could answer
differently). Redirects are never followed: a 3xx is a failed attempt.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_RESPONSE_BYTES = 64 * 1024


class TargetError(Exception):
    """A URL or address a webhook may not be sent to; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def parse_url(url: str) -> Target:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise TargetError(f"Not a valid URL: {exc}.") from None
    allowed = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed:
        raise TargetError("The URL must start with https://.")
    if not parts.hostname:
        raise TargetError("The URL has no host.")
    if parts.username or parts.password:
        raise TargetError("The URL must not contain a user name or password.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname, port or default, path)


def refusal(ip: IP) -> str | None:
    """Why ``ip`` is not a public address, or None if it is."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    for flag in ("loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{flag}"):
            return flag.replace("_", "-")
    if ip.is_unspecified or not ip.is_global:
        return "non-public"
    return None


def resolve(host: str, port: int) -> list[IP]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise TargetError(f"The host {host} does not resolve.") from None
    seen: list[IP] = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if ip not in seen:
            seen.append(ip)
    if not seen:
        raise TargetError(f"The host {host} does not resolve.")
    return seen


def checked_address(target: Target) -> IP:
    """The address to connect to; every address the host resolves to must pass."""
    addresses = resolve(target.host, target.port)
    if not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        for ip in addresses:
            why = refusal(ip)
            if why:
                raise TargetError(
                    f"The host {target.host} resolves to {ip}, a {why} address: "
                    "webhooks go only to public addresses."
                )
    return addresses[0]


def check_url(url: str) -> Target:
    target = parse_url(url)
    checked_address(target)
    return target


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, ip: IP, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._ip = str(ip)

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, ip: IP, timeout: float) -> None:
        super().__init__(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
        self._ip = str(ip)

    def connect(self) -> None:
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        # SNI and certificate checked against the URL's host name.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass
class Response:
    status: int | None
    error: str
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(url: str, body: bytes, headers: dict[str, str]) -> Response:
    """One POST, checked and pinned; network errors become ``Response.error``."""
    started = time.perf_counter()

    def done(status: int | None, error: str) -> Response:
        elapsed = (time.perf_counter() - started) * 1000
        return Response(status, error[:300], round(elapsed, 1))

    try:
        target = parse_url(url)
        ip = checked_address(target)
    except TargetError as exc:
        return done(None, f"refused: {exc}")
    timeout = float(settings.WEBHOOK_TIMEOUT_SECONDS)
    cls = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    conn = cls(target.host, target.port, ip, timeout)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        reply = conn.getresponse()
        reply.read(MAX_RESPONSE_BYTES)
    except (OSError, http.client.HTTPException) as exc:
        return done(None, f"{type(exc).__name__}: {exc}" if str(exc) else repr(exc))
    finally:
        conn.close()
    if 300 <= reply.status < 400:
        return done(reply.status, "redirect not followed")
    if not 200 <= reply.status < 300:
        return done(reply.status, f"HTTP {reply.status} {reply.reason}")
    return done(reply.status, "")
