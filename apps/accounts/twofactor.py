"""Two-factor sign-in: a TOTP authenticator (RFC 6238) plus one-time recovery codes.

Built on django-otp: a user's authenticator is a ``TOTPDevice``, their recovery codes
the tokens of one ``StaticDevice``. Two factors are "on" for a user once they have a
confirmed TOTP device; a device is created unconfirmed and only confirmed by a code
the authenticator app produced from it, so a mistyped QR scan never locks anyone out.

django-otp gives each device its own throttle (doubling delays after each wrong
code) and the TOTP device its ``last_t``: a code is accepted once per time step,
never again. Recovery codes are deleted as they are used. Audit records name what
happened, never a secret or a code.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import segno
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.audit.services import record_event

from .models import User

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
_TOTP_RE = re.compile(r"^\d{6}$")


class TwoFactorError(ValueError):
    """A two-factor change that cannot be made, with a message for the user."""


@dataclass(frozen=True)
class Verification:
    device: Device | None
    # Seconds the user must wait because django-otp throttled the device; 0 if not.
    locked_for: int = 0
    used_recovery_code: bool = False


def has_two_factor(user: Any) -> bool:
    """True once the user has a confirmed authenticator."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def is_verified(request: HttpRequest) -> bool:
    """True when this session passed a second factor (TwoFactorMiddleware)."""
    check = getattr(request.user, "is_verified", None)
    return bool(check and check())


def pending_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).first()


def secret_base32(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it when typed in by hand."""
    import base64

    return base64.b32encode(device.bin_key).decode("ascii").rstrip("=")


def qr_svg(device: TOTPDevice) -> bytes:
    """The otpauth:// URL as a QR code in SVG, rendered here: no script, no CDN."""
    out = io.BytesIO()
    segno.make(device.config_url, error="m").save(
        out,
        kind="svg",
        scale=5,
        border=4,
        dark="#000",
        # A white quiet zone: phone cameras cannot read dark-on-dark-theme codes.
        light="#fff",
        xmldecl=False,
        title="Two-factor QR code",
    )
    return out.getvalue()


def normalize_code(code: str) -> str:
    """Digits for TOTP codes; recovery codes lower-case without spaces or dashes."""
    return re.sub(r"[\s-]", "", str(code or "")).lower()[:32]


def start_setup(*, user: User, request: HttpRequest | None = None) -> TOTPDevice:
    """Create a fresh unconfirmed authenticator (dropping an older unconfirmed one)."""
    if has_two_factor(user):
        raise TwoFactorError("Two-factor sign-in is already on.")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(
            user=user, name=TOTP_DEVICE_NAME, confirmed=False
        )
        record_event(
            action="account.2fa_setup_started",
            user=user,
            request=request,
            resource=user,
        )
    return device


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(
        user=user, name=RECOVERY_DEVICE_NAME, confirmed=True
    )
    codes: set[str] = set()
    while len(codes) < RECOVERY_CODE_COUNT:
        codes.add(StaticToken.random_token())
    StaticToken.objects.bulk_create(
        [StaticToken(device=static, token=c) for c in sorted(codes)]
    )
    return sorted(codes)


def confirm_setup(
    *, user: User, code: str, request: HttpRequest | None = None
) -> list[str]:
    """Activate the pending authenticator if ``code`` is current; return the
    recovery codes, which are shown once and never again.

    Every refresh token issued before (on the password alone) is revoked, and the
    session that confirmed is marked as verified.
    """
    from .services import revoke_tokens

    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .first()
        )
        if device is None:
            raise TwoFactorError("Start the set-up first.")
        code = normalize_code(code)
        ok = bool(_TOTP_RE.match(code)) and device.verify_token(code)
        if not ok:
            # Committed, not rolled back: the failure and the device's throttle stay.
            record_event(
                action="account.2fa_setup_failed",
                user=user,
                request=request,
                resource=user,
            )
        else:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            codes = _new_recovery_codes(user)
            revoked = revoke_tokens(user=user)
            record_event(
                action="account.2fa_enabled",
                user=user,
                request=request,
                resource=user,
                details={
                    "recovery_codes": len(codes),
                    "api_sessions_revoked": revoked,
                },
            )
    if not ok:
        raise TwoFactorError(
            "That code is not correct. Check your device's clock and try the "
            "current code."
        )
    if request is not None and hasattr(request, "session"):
        request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    return codes


def verify_second_factor(*, user: User, code: str) -> Verification:
    """Check a TOTP code or a recovery code against the user's confirmed devices.

    Six digits go to the authenticator, anything else to the recovery codes, so a
    recovery code never counts as a wrong TOTP code in the device's throttle.
    """
    code = normalize_code(code)
    model: type[Device] = TOTPDevice if _TOTP_RE.match(code) else StaticDevice
    if not code:
        return Verification(device=None)
    with transaction.atomic():
        for device in (
            model.objects.select_for_update().filter(user=user, confirmed=True)  # type: ignore[attr-defined]
        ):
            allowed, info = device.verify_is_allowed()
            if not allowed:
                until = (info or {}).get("locked_until")
                wait = int((until - timezone.now()).total_seconds()) + 1 if until else 1
                return Verification(device=None, locked_for=max(1, wait))
            if device.verify_token(code):
                return Verification(
                    device=device, used_recovery_code=model is StaticDevice
                )
    return Verification(device=None)


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def check_password_or_code(*, user: User, password: str, code: str) -> bool:
    """Re-authentication for changes: the account password or a current code."""
    if password and user.check_password(password):
        return True
    return bool(code) and verify_second_factor(user=user, code=code).device is not None


def regenerate_recovery_codes(
    *, user: User, request: HttpRequest | None = None
) -> list[str]:
    if not has_two_factor(user):
        raise TwoFactorError("Two-factor sign-in is off.")
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        record_event(
            action="account.2fa_recovery_regenerated",
            user=user,
            request=request,
            resource=user,
            details={"recovery_codes": len(codes)},
        )
    return codes


def disable(
    *, user: User, actor: Any = None, request: HttpRequest | None = None
) -> None:
    """Remove the authenticator and every recovery code of ``user``; ``actor`` is
    an admin resetting a user who lost their device (default: the user)."""
    actor = actor or user
    with transaction.atomic():
        removed = TOTPDevice.objects.filter(user=user).delete()[0]
        StaticDevice.objects.filter(user=user).delete()
        if removed:
            record_event(
                action="account.2fa_disabled",
                user=actor,
                request=request,
                resource=user,
                details={"email": user.email},
            )
    if actor == user and request is not None and hasattr(request, "session"):
        request.session.pop(DEVICE_ID_SESSION_KEY, None)
