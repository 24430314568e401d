from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.audit.models import AuditLog

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-horse-battery-7"


def actions() -> list[str]:
    return list(AuditLog.objects.order_by("seq").values_list("action", flat=True))


def test_signup_creates_a_trader_whatever_role_is_posted(client: Client) -> None:
    response = client.post(
        "/accounts/signup/",
        {
            "email": "New@Example.com",
            "display_name": "Newbie",
            "password1": "a-long-enough-password",
            "password2": "a-long-enough-password",
            "role": "admin",
            "is_staff": "on",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(email="new@example.com")
    assert user.role == "trader" and not user.is_staff
    assert "account.signup" in actions()
    assert client.get("/").status_code == 200  # signed in


def test_signup_reports_form_errors_and_writes_nothing(
    client: Client, alice: Any
) -> None:
    response = client.post(
        "/accounts/signup/",
        {
            "email": "ALICE@example.com",
            "password1": "short",
            "password2": "different",
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "already exists" in body
    assert User.objects.count() == 1
    assert "account.signup" not in actions()


def test_signup_rejects_weak_passwords(client: Client) -> None:
    response = client.post(
        "/accounts/signup/",
        {
            "email": "x@example.com",
            "password1": "12345678901",
            "password2": "12345678901",
        },
    )
    assert response.status_code == 200
    assert "entirely numeric" in response.content.decode()
    assert not User.objects.filter(email="x@example.com").exists()


def test_login_logout_round_trip_is_audited(
    client: Client, alice: Any, password: str
) -> None:
    assert client.get("/").status_code == 302  # the dashboard needs a login
    bad = client.post("/accounts/login/", {"username": alice.email, "password": "nope"})
    assert bad.status_code == 200 and "not correct" in bad.content.decode()
    good = client.post(
        "/accounts/login/", {"username": "ALICE@example.com", "password": password}
    )
    assert good.status_code == 302
    page = client.get("/")
    assert page.status_code == 200 and b"Dashboard" in page.content
    assert client.get("/accounts/logout/").status_code == 405  # POST only
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302
    assert actions() == ["auth.login_failed", "auth.login", "auth.logout"]
    failed = AuditLog.objects.get(action="auth.login_failed")
    assert failed.details == {"email": "alice@example.com"}
    assert "nope" not in str(AuditLog.objects.values_list("details", flat=True))


def test_login_redirects_only_to_local_next(
    client: Client, alice: Any, password: str
) -> None:
    response = client.post(
        "/accounts/login/?next=https://evil.example/",
        {
            "username": alice.email,
            "password": password,
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == "/"


def test_password_change_keeps_the_session_and_audits(
    client: Client, alice: Any, password: str
) -> None:
    client.force_login(alice)
    response = client.post(
        "/accounts/password/",
        {
            "old_password": password,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert client.get("/accounts/profile/").status_code == 200
    assert "account.password_changed" in actions()


def test_profile_page_shows_and_saves_the_profile(client: Client, alice: Any) -> None:
    client.force_login(alice)
    page = client.get("/accounts/profile/")
    assert b"alice@example.com" in page.content and b"Trader" in page.content
    client.post("/accounts/profile/", {"display_name": "Alice L."})
    alice.refresh_from_db()
    assert alice.display_name == "Alice L."


def test_nav_shows_admin_only_to_staff(client: Client, alice: Any, admin: Any) -> None:
    client.force_login(alice)
    assert b'href="/admin/"' not in client.get("/").content
    client.force_login(admin)
    assert b'href="/admin/"' in client.get("/").content


def test_admin_role_and_active_changes_are_audited(
    client: Client, admin: Any, bob: Any
) -> None:
    client.force_login(admin)
    response = client.post(
        f"/admin/accounts/user/{bob.pk}/change/",
        {
            "email": bob.email,
            "display_name": "Bob",
            "role": "viewer",
        },
    )  # is_active unchecked -> False
    assert response.status_code == 302, response.content.decode()[:2000]
    bob.refresh_from_db()
    assert bob.role == "viewer" and not bob.is_active
    role = AuditLog.objects.get(action="account.role_changed")
    assert (
        role.details["role"] == ["trader", "viewer"] and role.actor_email == admin.email
    )
    assert AuditLog.objects.get(action="account.active_changed").details[
        "is_active"
    ] == [True, False]


def test_non_admins_cannot_reach_django_admin(client: Client, alice: Any) -> None:
    client.force_login(alice)
    assert client.get("/admin/").status_code == 302
