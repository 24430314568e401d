"""Audit Django's own login, failed-login and logout events."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import (
    user_logged_in,
    user_logged_out,
    user_login_failed,
)
from django.dispatch import receiver

from apps.audit.services import record_event


@receiver(user_logged_in)
def audit_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record_event(
        action="auth.login",
        user=user,
        request=request,
        resource=user,
        details={"via": "session"},
    )


@receiver(user_login_failed)
def audit_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    # Only the email: the password never enters the trail.
    email = str(credentials.get("email") or credentials.get("username") or "")[:254]
    record_event(
        action="auth.login_failed", request=request, details={"email": email.lower()}
    )


@receiver(user_logged_out)
def audit_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record_event(
            action="auth.logout",
            user=user,
            request=request,
            resource=user,
            details={"via": "session"},
        )


@receiver(user_logged_in)
def remember_second_factor(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Mark the new session as verified when the sign-in passed a second factor
    (the view sets ``user.otp_device``). django-otp's own receiver needs
    ``request.user``, which a test client's force_login does not set."""
    from django_otp import DEVICE_ID_SESSION_KEY

    device = getattr(user, "otp_device", None)
    if device is not None and device.user_id == user.pk and request is not None:
        request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id
