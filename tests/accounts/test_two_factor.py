"""Two-factor sign-in: set-up on the profile page, the code step after the password,
recovery codes, code reuse, lockout, the admin gate, the JWT token endpoint.

Codes are computed by hand (tests/accounts/totp_reference.py) and the TOTP clock
of django-otp is pinned, so no test depends on where in a 30 s step it runs.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client, override_settings
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from apps.accounts import twofactor
from apps.audit.models import AuditLog
from tests.accounts.totp_reference import hotp, key_from_base32, totp

pytestmark = pytest.mark.django_db

T0 = 1_800_000_000.0  # a fixed instant, on a step boundary (divisible by 30)

# RFC 6238 appendix B, SHA1, 8 digits, key "12345678901234567890".
RFC6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]
RFC_KEY = b"12345678901234567890"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Pin the time django-otp's TOTP device reads (it calls ``time.time()``)."""
    from django_otp.plugins.otp_totp import models as totp_models

    pinned = Clock()
    monkeypatch.setattr(totp_models, "time", SimpleNamespace(time=pinned.time))
    return pinned


def enable(user: Any, clock: Clock) -> tuple[bytes, list[str]]:
    """Turn two factors on for ``user`` through the services; return key and codes."""
    device = twofactor.start_setup(user=user)
    key = device.bin_key
    codes = twofactor.confirm_setup(user=user, code=totp(key, clock.now))
    clock.now += 30  # the confirming code is spent; the next step is fresh
    return key, codes


def password_step(client: Client, user: Any, password: str) -> Any:
    return client.post(
        "/accounts/login/", {"username": user.email, "password": password}
    )


def audit_text() -> str:
    return str(list(AuditLog.objects.values_list("action", "details")))


# --- the reference itself ----------------------------------------------------------


def test_hand_computed_totp_matches_the_rfc6238_sha1_vectors() -> None:
    for unix_time, expected in RFC6238_SHA1:
        assert totp(RFC_KEY, unix_time, digits=8) == expected
    # RFC 4226 appendix D, the HOTP layer underneath.
    assert [hotp(RFC_KEY, c) for c in range(3)] == ["755224", "287082", "359152"]


def test_django_otp_totp_device_agrees_with_the_rfc_vectors(
    alice: Any, clock: Clock
) -> None:
    device = TOTPDevice.objects.create(
        user=alice, key=RFC_KEY.hex(), digits=8, confirmed=True, tolerance=0
    )
    for unix_time, expected in RFC6238_SHA1:
        clock.now = unix_time
        device.throttle_reset()
        assert device.verify_token(expected), unix_time
        wrong = str((int(expected) + 1) % 10**8).zfill(8)
        clock.now = unix_time  # same step: the right code is spent, a wrong one too
        assert not device.verify_token(wrong)


# --- set-up on the profile page ------------------------------------------------------


def test_profile_page_sets_up_two_factor_with_a_qr_code_and_recovery_codes(
    client: Client, alice: Any, clock: Clock
) -> None:
    client.force_login(alice)
    profile = client.get("/accounts/profile/")
    assert b"Turn on two-factor sign-in" in profile.content
    assert (
        client.post("/accounts/two-factor/start/").url == "/accounts/two-factor/setup/"
    )
    page = client.get("/accounts/two-factor/setup/")
    assert page.status_code == 200
    assert "img-src 'self'" in page["Content-Security-Policy"]
    assert b'src="/accounts/two-factor/qr.svg"' in page.content
    secret = re.search(
        r'data-testid="two-factor-secret">([A-Z2-7]+)<', page.content.decode()
    ).group(1)
    device = TOTPDevice.objects.get(user=alice)
    assert key_from_base32(secret) == device.bin_key and not device.confirmed

    qr = client.get("/accounts/two-factor/qr.svg")
    assert qr["Content-Type"] == "image/svg+xml" and "no-store" in qr["Cache-Control"]
    assert qr.content.lstrip().startswith(b"<svg") and b"<script" not in qr.content

    wrong = client.post("/accounts/two-factor/setup/", {"code": "000000"})
    assert wrong.status_code == 400 and "not correct" in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed and not twofactor.has_two_factor(alice)
    device.throttle_reset()

    done = client.post(
        "/accounts/two-factor/setup/", {"code": totp(key_from_base32(secret), T0)}
    )
    assert done.status_code == 200 and "no-store" in done["Cache-Control"]
    shown = re.findall(r"<li><code>([a-z2-7]+)</code></li>", done.content.decode())
    assert len(shown) == 10 == len(set(shown))
    assert sorted(shown) == sorted(
        StaticToken.objects.filter(device__user=alice).values_list("token", flat=True)
    )
    assert twofactor.has_two_factor(alice)
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    # The QR code is gone once the device is confirmed, and the page says "on".
    assert client.get("/accounts/two-factor/qr.svg").status_code == 404
    assert b"10 recovery codes left" in client.get("/accounts/profile/").content
    trail = audit_text()
    assert "account.2fa_enabled" in trail and "account.2fa_setup_failed" in trail
    assert secret not in trail and device.key not in trail
    assert not any(code in trail for code in shown)


def test_enabling_revokes_refresh_tokens_issued_on_the_password_alone(
    api: APIClient, alice: Any, tokens: dict[str, str], clock: Clock
) -> None:
    enable(alice, clock)
    refresh = api.post(
        "/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refresh.status_code == 401


def test_a_second_start_replaces_the_unconfirmed_device(
    client: Client, alice: Any
) -> None:
    client.force_login(alice)
    client.post("/accounts/two-factor/start/")
    first = TOTPDevice.objects.get(user=alice).key
    client.post("/accounts/two-factor/start/")
    assert list(
        TOTPDevice.objects.filter(user=alice).values_list("key", flat=True)
    ) != [first]
    assert TOTPDevice.objects.filter(user=alice).count() == 1


# --- the code step after the password ------------------------------------------------


def test_password_alone_signs_nobody_in(
    client: Client, alice: Any, password: str, clock: Clock
) -> None:
    enable(alice, clock)
    response = password_step(client, alice, password)
    assert response.status_code == 302 and response.url == "/accounts/login/code/"
    assert "_auth_user_id" not in client.session
    for path in ["/", "/accounts/profile/", "/bots/", "/admin/"]:
        assert client.get(path).status_code == 302, path
    assert client.get("/api/me/").status_code in {401, 403}
    page = client.get("/accounts/login/code/")
    assert page.status_code == 200 and b"Two-factor code" in page.content


def test_password_and_current_code_sign_in(
    client: Client, alice: Any, password: str, clock: Clock
) -> None:
    key, _ = enable(alice, clock)
    client.post(
        "/accounts/login/?next=/bots/",
        {"username": alice.email, "password": password, "next": "/bots/"},
    )
    done = client.post("/accounts/login/code/", {"code": totp(key, clock.now)})
    assert done.status_code == 302 and done.url == "/bots/"
    assert client.session["_auth_user_id"] == str(alice.pk)
    assert client.session[DEVICE_ID_SESSION_KEY].startswith("otp_totp.")
    assert client.get("/accounts/profile/").status_code == 200
    assert "auth.2fa_passed" in audit_text()


def test_without_a_password_step_the_code_page_sends_to_login(
    client: Client, alice: Any, clock: Clock
) -> None:
    key, _ = enable(alice, clock)
    response = client.post("/accounts/login/code/", {"code": totp(key, clock.now)})
    assert response.status_code == 302 and response.url == "/accounts/login/"
    assert "_auth_user_id" not in client.session


def test_the_password_step_expires(
    client: Client, alice: Any, password: str, clock: Clock
) -> None:
    key, _ = enable(alice, clock)
    password_step(client, alice, password)
    session = client.session
    session["twofa_pending"]["at"] -= 301
    session.save()
    response = client.post("/accounts/login/code/", {"code": totp(key, clock.now)})
    assert response.url == "/accounts/login/" and "_auth_user_id" not in client.session


def test_a_password_change_meanwhile_voids_the_password_step(
    client: Client, alice: Any, password: str, clock: Clock
) -> None:
    key, _ = enable(alice, clock)
    password_step(client, alice, password)
    alice.set_password("a-brand-new-password-1")
    alice.save()
    response = client.post("/accounts/login/code/", {"code": totp(key, clock.now)})
    assert response.url == "/accounts/login/" and "_auth_user_id" not in client.session


def test_a_totp_code_is_refused_the_second_time_in_its_step(
    client: Client, alice: Any, password: str, clock: Clock
) -> None:
    key, _ = enable(alice, clock)
    code = totp(key, clock.now)
    password_step(client, alice, password)
    assert client.post("/accounts/login/code/", {"code": code}).status_code == 302
    client.post("/accounts/logout/")
    password_step(client, alice, password)
    again = client.post("/accounts/login/code/", {"code": code})
    assert again.status_code == 200 and "already used" in again.content.decode()
    assert "_auth_user_id" not in client.session
    TOTPDevice.objects.get(user=alice).throttle_reset()
    clock.now += 30
    fresh = client.post("/accounts/login/code/", {"code": totp(key, clock.now)})
    assert fresh.status_code == 302


def test_a_recovery_code_works_once(
    client: Client, alice: Any, password: str, clock: Clock
) -> None:
    _, codes = enable(alice, clock)
    password_step(client, alice, password)
    # Typed with a dash and in capitals: still the same code.
    typed = codes[0][:4].upper() + "-" + codes[0][4:].upper()
    assert client.post("/accounts/login/code/", {"code": typed}).status_code == 302
    assert twofactor.recovery_codes_left(alice) == 9
    client.post("/accounts/logout/")
    password_step(client, alice, password)
    again = client.post("/accounts/login/code/", {"code": codes[0]})
    assert again.status_code == 200 and "_auth_user_id" not in client.session
    assert "auth.2fa_passed" in audit_text() and codes[0] not in audit_text()


def test_a_wrong_code_then_the_device_throttle_is_reported(
    client: Client, alice: Any, password: str, clock: Clock
) -> None:
    key, _ = enable(alice, clock)
    password_step(client, alice, password)
    wrong = client.post("/accounts/login/code/", {"code": "123456"})
    assert wrong.status_code == 200 and "not correct" in wrong.content.decode()
    # django-otp doubles a delay after each failure: the right code right away waits.
    throttled = client.post("/accounts/login/code/", {"code": totp(key, clock.now)})
    assert "Too many wrong codes" in throttled.content.decode()
    assert "_auth_user_id" not in client.session


@override_settings(OTP_TOTP_THROTTLE_FACTOR=0, OTP_STATIC_THROTTLE_FACTOR=0)
def test_wrong_codes_lock_the_account_out_with_429(
    client: Client, alice: Any, password: str, clock: Clock
) -> None:
    key, _ = enable(alice, clock)
    password_step(client, alice, password)
    for _ in range(5):
        assert (
            client.post("/accounts/login/code/", {"code": "999999"}).status_code == 200
        )
    locked = client.post("/accounts/login/code/", {"code": totp(key, clock.now)})
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session
    # Another browser, another address: the account stays locked for codes.
    other = Client(REMOTE_ADDR="10.9.9.9")
    password_step(other, alice, password)
    again = other.post("/accounts/login/code/", {"code": totp(key, clock.now)})
    assert again.status_code == 429
    assert audit_text().count("auth.2fa_failed") == 5


def test_sessions_open_before_enabling_are_signed_out(
    client: Client, alice: Any, clock: Clock
) -> None:
    client.force_login(alice)  # an older session, no second factor
    assert client.get("/accounts/profile/").status_code == 200
    enable(alice, clock)
    assert client.get("/accounts/profile/").status_code == 302
    assert "_auth_user_id" not in client.session


# --- managing: recovery codes, turning off, isolation, viewer --------------------------


def signed_in_with_two_factor(client: Client, user: Any, clock: Clock) -> Any:
    key, codes = enable(user, clock)
    user.otp_device = TOTPDevice.objects.get(user=user)
    client.force_login(user)
    return key, codes


def test_regenerating_recovery_codes_needs_the_password_and_replaces_them(
    client: Client, alice: Any, password: str, clock: Clock
) -> None:
    _, old = signed_in_with_two_factor(client, alice, clock)
    refused = client.post(
        "/accounts/two-factor/", {"action": "regenerate", "password": "wrong"}
    )
    assert refused.status_code == 400 and "not correct" in refused.content.decode()
    assert twofactor.recovery_codes_left(alice) == 10
    done = client.post(
        "/accounts/two-factor/", {"action": "regenerate", "password": password}
    )
    new = re.findall(r"<li><code>([a-z2-7]+)</code></li>", done.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    current = set(
        StaticToken.objects.filter(device__user=alice).values_list("token", flat=True)
    )
    assert current == set(new)
    assert "account.2fa_recovery_regenerated" in audit_text()
    assert not any(code in audit_text() for code in new + old)


def test_turning_off_needs_a_current_code_or_the_password(
    client: Client, alice: Any, clock: Clock
) -> None:
    key, _ = signed_in_with_two_factor(client, alice, clock)
    empty = client.post("/accounts/two-factor/", {"action": "disable"})
    assert empty.status_code == 400 and "password or a current code" in (
        empty.content.decode()
    )
    assert twofactor.has_two_factor(alice)
    done = client.post(
        "/accounts/two-factor/", {"action": "disable", "code": totp(key, clock.now)}
    )
    assert done.status_code == 302 and not twofactor.has_two_factor(alice)
    assert not StaticToken.objects.filter(device__user=alice).exists()
    assert "account.2fa_disabled" in audit_text()
    assert b"Turn on two-factor sign-in" in client.get("/accounts/profile/").content


def test_a_user_reaches_only_their_own_devices(
    client: Client, alice: Any, bob: Any, password: str, clock: Clock
) -> None:
    alice_key, _ = enable(alice, clock)
    client.force_login(bob)
    # Bob has nothing to manage or disable; alice's devices are not his to see.
    assert client.get("/accounts/two-factor/").status_code == 302
    assert client.get("/accounts/two-factor/qr.svg").status_code == 404
    client.post("/accounts/two-factor/", {"action": "disable", "password": password})
    assert twofactor.has_two_factor(alice)
    client.post("/accounts/two-factor/start/")
    page = client.get("/accounts/two-factor/setup/").content.decode()
    bob_secret = re.search(r'two-factor-secret">([A-Z2-7]+)<', page).group(1)
    assert key_from_base32(bob_secret) == TOTPDevice.objects.get(user=bob).bin_key
    assert key_from_base32(bob_secret) != alice_key
    # Alice's code does not confirm bob's device.
    wrong = client.post("/accounts/two-factor/setup/", {"code": totp(alice_key, T0)})
    assert wrong.status_code == 400 and not twofactor.has_two_factor(bob)
    assert TOTPDevice.objects.get(user=alice).confirmed


def test_a_viewer_manages_their_own_two_factor(
    client: Client, vera: Any, password: str, clock: Clock
) -> None:
    client.force_login(vera)
    client.post("/accounts/two-factor/start/")
    key = TOTPDevice.objects.get(user=vera).bin_key
    done = client.post("/accounts/two-factor/setup/", {"code": totp(key, clock.now)})
    assert done.status_code == 200 and twofactor.has_two_factor(vera)
    off = client.post(
        "/accounts/two-factor/", {"action": "disable", "password": password}
    )
    assert off.status_code == 302 and not twofactor.has_two_factor(vera)


# --- Django admin ---------------------------------------------------------------------


def test_admin_needs_a_verified_second_factor(
    client: Client, admin: Any, password: str, clock: Clock
) -> None:
    client.force_login(admin)  # the fixture's session passed a second factor
    assert client.get("/admin/").status_code == 200


def test_staff_without_a_device_are_sent_to_set_one_up(client: Client, db: Any) -> None:
    from tests.factories import UserFactory

    staff = UserFactory(email="root@example.com", role="admin", is_superuser=True)
    client.force_login(staff)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/profile/"
    assert "Administration needs two-factor sign-in" in response.content.decode()
    assert b"Turn on two-factor sign-in" in response.content


def test_staff_sign_in_with_code_reaches_admin(
    client: Client, db: Any, password: str, clock: Clock
) -> None:
    from tests.factories import UserFactory

    staff = UserFactory(email="root@example.com", role="admin", is_superuser=True)
    key, _ = enable(staff, clock)
    anonymous = client.get("/admin/", follow=True)
    assert anonymous.redirect_chain[-1][0].startswith("/accounts/login/")
    client.post(
        "/accounts/login/",
        {"username": staff.email, "password": password, "next": "/admin/"},
    )
    assert client.get("/admin/").status_code == 302  # password step only
    done = client.post("/accounts/login/code/", {"code": totp(key, clock.now)})
    assert done.url == "/admin/" and client.get("/admin/").status_code == 200


def test_non_staff_with_two_factor_still_cannot_reach_admin(
    client: Client, alice: Any, clock: Clock
) -> None:
    signed_in_with_two_factor(client, alice, clock)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert "no access to administration" in response.content.decode()


# --- the JWT API ----------------------------------------------------------------------


def obtain(api: APIClient, user: Any, password: str, **extra: str) -> Any:
    return api.post(
        "/api/auth/token/",
        {"email": user.email, "password": password, **extra},
        format="json",
    )


def test_token_endpoint_needs_the_second_factor(
    api: APIClient, alice: Any, password: str, clock: Clock
) -> None:
    key, _ = enable(alice, clock)
    missing = obtain(api, alice, password)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "otp_required"
    assert "otp" in missing.json()["error"]["message"]
    wrong = obtain(api, alice, password, otp="000000")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "otp_invalid"
    TOTPDevice.objects.get(user=alice).throttle_reset()
    good = obtain(api, alice, password, otp=totp(key, clock.now))
    assert good.status_code == 200
    tokens = good.json()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api.get("/api/me/").json()["email"] == alice.email
    api.credentials()
    refreshed = api.post(
        "/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200 and "access" in refreshed.json()
    # The same code again in its step: refused.
    reused = obtain(api, alice, password, otp=totp(key, clock.now))
    assert reused.status_code == 401
    # A wrong password with a right code is still the password's error.
    assert obtain(api, alice, "nope", otp="123456").json()["error"]["code"] == (
        "no_active_account"
    )
    assert "auth.token_2fa_failed" in audit_text()


def test_token_endpoint_takes_a_recovery_code_once(
    api: APIClient, alice: Any, password: str, clock: Clock
) -> None:
    _, codes = enable(alice, clock)
    assert obtain(api, alice, password, otp=codes[3]).status_code == 200
    assert obtain(api, alice, password, otp=codes[3]).status_code == 401


def test_users_without_two_factor_need_no_otp(
    api: APIClient, bob: Any, password: str
) -> None:
    assert obtain(api, bob, password).status_code == 200


@override_settings(OTP_TOTP_THROTTLE_FACTOR=0)
def test_token_endpoint_locks_out_after_wrong_codes(
    api: APIClient, alice: Any, password: str, clock: Clock
) -> None:
    key, _ = enable(alice, clock)
    for _ in range(5):
        assert obtain(api, alice, password, otp="111111").status_code == 401
    locked = obtain(api, alice, password, otp=totp(key, clock.now))
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "throttled"


def test_openapi_documents_the_otp_field(api: APIClient) -> None:
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    props = schema["components"]["schemas"]["TokenObtain"]["properties"]
    assert "otp" in props and "two-factor" in props["otp"]["description"]
    responses = schema["paths"]["/api/auth/token/"]["post"]["responses"]
    assert "otp_required" in str(responses["401"])


def test_admin_lists_devices_without_secrets_and_resets_a_lost_one(
    client: Client, admin: Any, alice: Any, clock: Clock
) -> None:
    _, codes = enable(alice, clock)
    device = TOTPDevice.objects.get(user=alice)
    client.force_login(admin)
    listing = client.get("/admin/otp_totp/totpdevice/")
    assert listing.status_code == 200 and alice.email in listing.content.decode()
    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert page.status_code == 200 and device.key not in page.content.decode()
    assert client.get("/admin/otp_static/staticdevice/").status_code == 404
    assert client.get("/admin/otp_totp/totpdevice/add/").status_code == 403
    done = client.post(
        f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"}
    )
    assert done.status_code == 302 and not twofactor.has_two_factor(alice)
    assert not StaticToken.objects.filter(device__user=alice).exists()
    reset = AuditLog.objects.get(action="account.2fa_disabled")
    assert reset.actor_email == admin.email and reset.details["email"] == alice.email
    assert not any(code in audit_text() for code in codes)


def test_under_asgi_too_sessions_open_before_enabling_are_signed_out(
    client: Client, alice: Any, bob: Any, clock: Clock
) -> None:
    """The middleware's async path (daphne runs it) behaves like the sync one."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    client.force_login(alice)
    cookie = client.cookies["sessionid"].value
    asgi = AsyncClient()
    asgi.cookies["sessionid"] = cookie
    assert async_to_sync(asgi.get)("/accounts/profile/").status_code == 200
    enable(alice, clock)
    assert async_to_sync(asgi.get)("/accounts/profile/").status_code == 302
    # A user without two factors keeps their session.
    other = Client()
    other.force_login(bob)
    bob_asgi = AsyncClient()
    bob_asgi.cookies["sessionid"] = other.cookies["sessionid"].value
    assert async_to_sync(bob_asgi.get)("/accounts/profile/").status_code == 200
