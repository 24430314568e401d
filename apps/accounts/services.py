"""Every account change that matters: sign-up, password, role, active flag, tokens."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import update_session_auth_hash
from django.db import transaction
from django.http import HttpRequest
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken,
    OutstandingToken,
)

from apps.audit.services import record_event

from .models import User, normalize_email


class AccountError(ValueError):
    """A change that cannot be made, with a message for the user."""


def sign_up(
    *,
    email: str,
    password: str,
    display_name: str = "",
    request: HttpRequest | None = None,
) -> User:
    """Create a trader account. Nobody picks a role here: admins promote later."""
    email = normalize_email(email)
    with transaction.atomic():
        if User.objects.filter(email__iexact=email).exists():
            raise AccountError("An account with this email already exists.")
        user = User.objects.create_user(
            email=email,
            password=password,
            display_name=display_name.strip(),
            role=User.Role.TRADER,
        )
        record_event(
            action="account.signup",
            user=user,
            request=request,
            resource=user,
            details={"email": email},
        )
    return user


def revoke_tokens(*, user: User) -> int:
    """Blacklist every outstanding refresh token of ``user``; return how many."""
    pending = OutstandingToken.objects.filter(user=user).exclude(
        id__in=BlacklistedToken.objects.values("token_id")
    )
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=t) for t in pending], ignore_conflicts=True
    )
    return len(created)


def change_password(
    *, user: User, new_password: str, request: HttpRequest | None = None
) -> None:
    """Set the password, revoke every token, keep this browser session signed in.

    Access tokens carry a digest of the password hash (SIMPLE_JWT CHECK_REVOKE_TOKEN),
    so they stop working at once; refresh tokens are blacklisted here.
    """
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        revoked = revoke_tokens(user=user)
        record_event(
            action="account.password_changed",
            user=user,
            request=request,
            resource=user,
            details={"tokens_revoked": revoked},
        )
    if request is not None and hasattr(request, "session"):
        update_session_auth_hash(request, user)


def update_profile(
    *, user: User, display_name: str, request: HttpRequest | None = None
) -> User:
    display_name = display_name.strip()
    if len(display_name) > 80:
        raise AccountError("Display name must be at most 80 characters.")
    if display_name != user.display_name:
        with transaction.atomic():
            old = user.display_name
            user.display_name = display_name
            user.save(update_fields=["display_name"])
            record_event(
                action="account.profile_changed",
                user=user,
                request=request,
                resource=user,
                details={"display_name": [old, display_name]},
            )
    return user


def set_role_and_active(
    *,
    user: User,
    role: str,
    is_active: bool,
    actor: Any,
    request: HttpRequest | None = None,
) -> User:
    """The admin's change of a user's role or active flag, audited; deactivation
    revokes the user's tokens."""
    if role not in User.Role.values:
        raise AccountError(f"Unknown role {role!r}.")
    with transaction.atomic():
        current = User.objects.select_for_update().get(pk=user.pk)
        changes: dict[str, list[Any]] = {}
        if current.role != role:
            changes["role"] = [current.role, role]
        if current.is_active != is_active:
            changes["is_active"] = [current.is_active, is_active]
        user.role = role
        user.is_active = is_active
        user.save()
        if "role" in changes:
            record_event(
                action="account.role_changed",
                user=actor,
                request=request,
                resource=user,
                details={"email": user.email, "role": changes["role"]},
            )
        if "is_active" in changes:
            revoked = revoke_tokens(user=user) if not is_active else 0
            record_event(
                action="account.active_changed",
                user=actor,
                request=request,
                resource=user,
                details={
                    "email": user.email,
                    "is_active": changes["is_active"],
                    "tokens_revoked": revoked,
                },
            )
    return user
