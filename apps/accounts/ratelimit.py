"""Rate limits for login, sign-up and token endpoints, counted in the shared cache.

Counters live in Redis (the default cache), so they hold across every web process.
The client address is the socket's unless it belongs to a proxy listed in
TRUSTED_PROXIES; only then is X-Forwarded-For read, from the right, so a client
cannot reset its counter by sending a forged header.

Login attempts are limited per address (all attempts) and per account and address
(failures only): an attacker hammering one account is stopped, but the real owner,
coming from another address, can still sign in.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from .models import normalize_email


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    remote = _valid_ip(request.META.get("REMOTE_ADDR", "") or "")
    trusted = set(settings.TRUSTED_PROXIES)
    if remote is None or remote not in trusted:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([h for h in forwarded.split(",") if h.strip()]):
        ip = _valid_ip(hop)
        if ip is None:
            return remote
        if ip not in trusted:
            return ip
    return remote


@dataclass(frozen=True)
class Limited:
    retry_after: int
    scope: str


def _usage(
    request: HttpRequest,
    group: str,
    key: Callable[..., str],
    rate: str,
    increment: bool,
) -> Limited | None:
    if not settings.RATELIMIT_ENABLE or not rate:
        return None
    usage = get_usage(request, group=group, key=key, rate=rate, increment=increment)
    if not usage:
        return None
    # A peek (no increment) is over the limit once the count has reached it.
    over = usage["should_limit"] if increment else usage["count"] >= usage["limit"]
    if over:
        return Limited(retry_after=max(1, int(usage["time_left"])), scope=group)
    return None


def _ip_key(group: str, request: HttpRequest) -> str:
    return client_ip(request) or "unknown"


def _account_key(email: str) -> Callable[[str, HttpRequest], str]:
    def key(group: str, request: HttpRequest) -> str:
        return f"{normalize_email(email)}|{client_ip(request) or 'unknown'}"

    return key


def check_login_allowed(request: HttpRequest, email: str) -> Limited | None:
    """Count this attempt against the address; refuse if either limit is reached."""
    by_ip = _usage(request, "login-ip", _ip_key, settings.RATELIMIT_LOGIN_IP, True)
    if by_ip:
        return by_ip
    return _usage(
        request,
        "login-account",
        _account_key(email),
        settings.RATELIMIT_LOGIN_ACCOUNT,
        False,
    )


def record_login_failure(request: HttpRequest, email: str) -> None:
    _usage(
        request,
        "login-account",
        _account_key(email),
        settings.RATELIMIT_LOGIN_ACCOUNT,
        True,
    )


def check_signup_allowed(request: HttpRequest) -> Limited | None:
    return _usage(request, "signup-ip", _ip_key, settings.RATELIMIT_SIGNUP_IP, True)


def _user_key(user_pk: object) -> Callable[[str, HttpRequest], str]:
    def key(group: str, request: HttpRequest) -> str:
        return f"user:{user_pk}"

    return key


def check_otp_allowed(request: HttpRequest, user_pk: object) -> Limited | None:
    """Refuse a second-factor attempt once the account has too many wrong codes.

    Counted per account, not per address: whoever is here already has the
    password, and spreading guesses over many addresses must not help them.
    """
    by_ip = _usage(request, "login-ip", _ip_key, settings.RATELIMIT_LOGIN_IP, True)
    if by_ip:
        return by_ip
    return _usage(
        request,
        "otp-account",
        _user_key(user_pk),
        settings.RATELIMIT_OTP_ACCOUNT,
        False,
    )


def record_otp_failure(request: HttpRequest, user_pk: object) -> None:
    _usage(
        request, "otp-account", _user_key(user_pk), settings.RATELIMIT_OTP_ACCOUNT, True
    )
