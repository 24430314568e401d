"""Headers on pages and API responses, token abuse, and JSON-only Celery."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def csp_directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/markets/",
        "/accounts/profile/",
        "/api/me/",
        "/accounts/login/",
        "/api/health",
    ],
)
def test_every_response_carries_the_security_headers(
    client: Client, alice: Any, path: str
) -> None:
    if path != "/accounts/login/":
        client.force_login(alice)
    response = client.get(path)
    assert response.status_code in (200, 503)
    csp = csp_directives(response["Content-Security-Policy"])
    assert (
        "'unsafe-inline'" not in csp["script-src"]
        and "'unsafe-eval'" not in csp["script-src"]
    )
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_script(client: Client, alice: Any) -> None:
    import re

    client.force_login(alice)
    for path in ["/", "/markets/", "/accounts/profile/"]:
        html = client.get(path).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)


def test_session_cookie_is_httponly_and_samesite(
    client: Client, alice: Any, password: str
) -> None:
    response = client.post(
        "/accounts/login/", {"username": alice.email, "password": password}
    )
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_token_is_refused(api: APIClient, tokens: dict[str, str]) -> None:
    payload = json.loads(
        base64.urlsafe_b64decode(tokens["access"].split(".")[1] + "==")
    )
    forged = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(payload)}."
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert api.get("/api/me/").status_code == 401


def test_refresh_token_is_not_an_access_token(
    api: APIClient, tokens: dict[str, str]
) -> None:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['refresh']}")
    assert api.get("/api/me/").status_code == 401


def test_expired_access_token_is_refused(api: APIClient, alice: Any) -> None:
    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(alice)
    token.set_exp(lifetime=-timedelta(seconds=1))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/me/").status_code == 401


def test_token_signed_with_another_key_is_refused(api: APIClient, alice: Any) -> None:
    import jwt

    forged = jwt.encode(
        {
            "token_type": "access",
            "user_id": str(alice.pk),
            "jti": "x",
            "exp": 4102444800,
        },
        "not-our-key",
        algorithm="HS256",
    )
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert api.get("/api/me/").status_code == 401


def test_celery_accepts_json_only() -> None:
    import pickle

    from kombu.exceptions import ContentDisallowed
    from kombu.serialization import loads

    from aaiti.celery import app

    assert set(app.conf.accept_content) == {"json"}
    assert app.conf.task_serializer == "json" and app.conf.result_serializer == "json"
    pickled = pickle.dumps({"task": "x"})
    with pytest.raises(ContentDisallowed):
        loads(
            pickled,
            "application/x-python-serialize",
            "binary",
            accept=app.conf.accept_content,
        )


def test_redis_down_is_a_503_in_the_error_shape(
    api: APIClient, tokens: dict[str, str], monkeypatch: Any
) -> None:
    import redis

    def down(*args: Any, **kwargs: Any) -> Any:
        raise redis.exceptions.ConnectionError("Connection refused")

    # The JWT denylist lookup is the first thing to touch Redis on an API call.
    monkeypatch.setattr("apps.accounts.authentication.cache.get", down)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    response = api.get("/api/me/")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response["Retry-After"] == "30"
