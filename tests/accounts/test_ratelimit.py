from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight(settings: Any) -> Any:
    # Day-long windows: the counters are fixed windows, and a test whose requests
    # straddled a window's end would see its counter start again.
    settings.RATELIMIT_LOGIN_ACCOUNT = "3/d"
    settings.RATELIMIT_LOGIN_IP = "6/d"
    settings.RATELIMIT_SIGNUP_IP = "2/d"
    return settings


def fail_login(client: Client, email: str, ip: str, **headers: str) -> Any:
    return client.post(
        "/accounts/login/",
        {"username": email, "password": "wrong"},
        REMOTE_ADDR=ip,
        **headers,
    )


def test_login_locks_out_with_429_and_retry_after(
    tight: Any, client: Client, alice: Any, password: str
) -> None:
    for _ in range(3):
        assert fail_login(client, alice.email, "10.0.0.5").status_code == 200
    locked = client.post(
        "/accounts/login/",
        {"username": alice.email, "password": password},
        REMOTE_ADDR="10.0.0.5",
    )
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert b"Too many attempts" in locked.content


def test_forged_forwarded_for_does_not_reset_the_counter(
    tight: Any, client: Client, alice: Any
) -> None:
    for n in range(3):
        fail_login(client, alice.email, "10.0.0.5", HTTP_X_FORWARDED_FOR=f"1.2.3.{n}")
    again = fail_login(client, alice.email, "10.0.0.5", HTTP_X_FORWARDED_FOR="9.9.9.9")
    assert again.status_code == 429


def test_the_real_user_from_another_address_is_not_locked_out(
    tight: Any, client: Client, alice: Any, password: str
) -> None:
    for _ in range(4):
        fail_login(client, alice.email, "10.0.0.5")
    ok = Client().post(
        "/accounts/login/",
        {"username": alice.email, "password": password},
        REMOTE_ADDR="10.0.0.77",
    )
    assert ok.status_code == 302


def test_per_address_limit_stops_spraying_many_accounts(
    tight: Any, client: Client
) -> None:
    codes = [
        fail_login(client, f"user{n}@example.com", "10.0.0.9").status_code
        for n in range(7)
    ]
    assert codes[:6] == [200] * 6 and codes[6] == 429


def test_trusted_proxy_forwarded_address_is_used(
    tight: Any, settings: Any, client: Client, alice: Any, password: str
) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    for _ in range(3):
        fail_login(client, alice.email, "10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert (
        fail_login(
            client, alice.email, "10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5"
        ).status_code
        == 429
    )
    # Another client behind the same proxy is a different address.
    other = client.post(
        "/accounts/login/",
        {"username": alice.email, "password": password},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.6",
    )
    assert other.status_code == 302


def test_token_endpoint_locks_out_with_429(tight: Any, api: Any, alice: Any) -> None:
    for _ in range(3):
        r = api.post(
            "/api/auth/token/",
            {"email": alice.email, "password": "bad"},
            format="json",
            REMOTE_ADDR="10.0.0.5",
        )
        assert r.status_code == 401
    locked = api.post(
        "/api/auth/token/",
        {"email": alice.email, "password": "bad"},
        format="json",
        REMOTE_ADDR="10.0.0.5",
    )
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert locked.json()["error"]["code"] == "throttled"


def test_signup_is_limited_per_address(tight: Any, client: Client) -> None:
    codes = []
    for n in range(3):
        codes.append(
            client.post(
                "/accounts/signup/",
                {
                    "email": f"s{n}@example.com",
                    "password1": "a-long-enough-password",
                    "password2": "a-long-enough-password",
                },
                REMOTE_ADDR="10.1.1.1",
            ).status_code
        )
        client.logout()
    assert codes == [302, 302, 429]
