"""JWT for API clients: obtain, refresh with rotation, verify, logout, revocation."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from apps.accounts.permissions import ViewerReadOnly
from apps.audit.models import AuditLog

pytestmark = pytest.mark.django_db


def bearer(client: APIClient, token: str) -> APIClient:
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_obtain_gives_tokens_that_reach_the_api(
    api: APIClient, tokens: dict[str, str], alice: Any
) -> None:
    assert set(tokens) == {"access", "refresh"}
    me = bearer(api, tokens["access"]).get("/api/me/")
    assert me.status_code == 200
    assert me.json()["email"] == alice.email and me.json()["role"] == "trader"
    assert AuditLog.objects.filter(action="auth.token_obtained", user=alice).exists()


def test_token_lifetimes_are_15_minutes_and_1_day(tokens: dict[str, str]) -> None:
    from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

    access, refresh = AccessToken(tokens["access"]), RefreshToken(tokens["refresh"])
    assert access["exp"] - access["iat"] == 15 * 60
    assert refresh["exp"] - refresh["iat"] == 24 * 3600


def test_wrong_password_is_401_in_the_one_error_shape(
    api: APIClient, alice: Any
) -> None:
    response = api.post(
        "/api/auth/token/", {"email": alice.email, "password": "wrong"}, format="json"
    )
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "no_active_account" and error["message"]
    assert AuditLog.objects.filter(action="auth.token_failed").exists()


def test_refresh_rotates_and_the_old_refresh_token_is_dead(
    api: APIClient, tokens: dict[str, str]
) -> None:
    first = api.post(
        "/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh"] != tokens["refresh"]
    reuse = api.post(
        "/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert reuse.status_code == 401
    again = api.post(
        "/api/auth/token/refresh/", {"refresh": rotated["refresh"]}, format="json"
    )
    assert again.status_code == 200


def test_verify_accepts_good_and_refuses_tampered_tokens(
    api: APIClient, tokens: dict[str, str]
) -> None:
    ok = api.post("/api/auth/token/verify/", {"token": tokens["access"]}, format="json")
    assert ok.status_code == 200
    tampered = tokens["access"][:-2] + (
        "AA" if not tokens["access"].endswith("AA") else "BB"
    )
    bad = api.post("/api/auth/token/verify/", {"token": tampered}, format="json")
    assert bad.status_code == 401


def test_logout_blacklists_refresh_and_kills_the_access_token(
    api: APIClient, tokens: dict[str, str]
) -> None:
    client = bearer(api, tokens["access"])
    out = client.post(
        "/api/auth/logout/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert out.status_code == 205
    assert client.get("/api/me/").status_code == 401
    refresh = APIClient().post(
        "/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refresh.status_code == 401


def test_password_change_revokes_every_token(
    api: APIClient, tokens: dict[str, str], password: str
) -> None:
    client = bearer(api, tokens["access"])
    changed = client.post(
        "/api/auth/password/",
        {"old_password": password, "new_password": "brand-new-secret-42"},
        format="json",
    )
    assert changed.status_code == 204
    assert client.get("/api/me/").status_code == 401
    refresh = APIClient().post(
        "/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refresh.status_code == 401


def test_password_change_with_wrong_old_password_is_400(
    api: APIClient, tokens: dict[str, str]
) -> None:
    response = bearer(api, tokens["access"]).post(
        "/api/auth/password/",
        {"old_password": "nope", "new_password": "brand-new-secret-42"},
        format="json",
    )
    assert response.status_code == 400
    assert "old_password" in response.json()["error"]["fields"]


def test_deactivation_revokes_tokens(
    api: APIClient, tokens: dict[str, str], alice: Any, admin: Any
) -> None:
    from apps.accounts.services import set_role_and_active

    set_role_and_active(user=alice, role="trader", is_active=False, actor=admin)
    assert bearer(api, tokens["access"]).get("/api/me/").status_code == 401
    refresh = APIClient().post(
        "/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refresh.status_code == 401


def test_me_patch_changes_only_the_display_name(api: APIClient, alice: Any) -> None:
    api.force_authenticate(alice)
    response = api.patch(
        "/api/me/",
        {"display_name": "Al", "role": "admin", "email": "x@example.com"},
        format="json",
    )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert (alice.display_name, alice.role, alice.email) == (
        "Al",
        "trader",
        "alice@example.com",
    )


def test_api_accepts_the_session_but_demands_csrf(alice: Any) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get("/api/me/").status_code == 200
    assert (
        client.patch("/api/me/", {"display_name": "x"}, format="json").status_code
        == 403
    )


def test_anonymous_calls_are_refused(api: APIClient) -> None:
    response = api.get("/api/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


class _WriteView(APIView):
    def post(self, request: Any) -> Any:
        from rest_framework.response import Response

        return Response({"ok": True})

    def get(self, request: Any) -> Any:
        from rest_framework.response import Response

        return Response({"ok": True})


def test_viewers_read_but_change_nothing(vera: Any, alice: Any) -> None:
    factory = APIRequestFactory()
    view = _WriteView.as_view()
    from rest_framework.test import force_authenticate

    for user, method, expected in [
        (vera, "get", 200),
        (vera, "post", 403),
        (alice, "post", 200),
    ]:
        request = getattr(factory, method)("/x")
        force_authenticate(request, user=user)
        assert view(request).status_code == expected
    assert ViewerReadOnly in [type(p) for p in _WriteView().get_permissions()]
