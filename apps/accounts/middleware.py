"""django-otp's OTPMiddleware (``request.user.is_verified()``), plus one rule: a
session of a user with two factors on that never passed the second factor is
signed out.

Sign-in itself never creates such a session (the password step only remembers
who is half-way, see views_twofactor.py); this catches sessions that were open
on another browser when the user turned two factors on.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import logout
from django.http import HttpRequest
from django_otp.middleware import OTPMiddleware

from .twofactor import has_two_factor


class TwoFactorMiddleware(OTPMiddleware):
    def __call__(self, request: HttpRequest) -> Any:
        if self._is_async:
            return self.__acall__(request)
        self._install_lazy_accessors(request)
        self._enforce(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> Any:
        self._install_lazy_accessors(request)
        user = await request.auser()  # type: ignore[attr-defined]
        if user.is_authenticated and not user.is_verified():
            await sync_to_async(self._enforce)(request)
        return await self.get_response(request)

    def _enforce(self, request: HttpRequest) -> None:
        user = request.user
        if (
            user.is_authenticated
            and not user.is_verified()  # type: ignore[union-attr]
            and has_two_factor(user)
        ):
            logout(request)
            self._init_user_fields(request.user)
            # request.auser() caches the user it loaded; make it agree.
            request._acached_user = request.user  # type: ignore[attr-defined]


class TwoFactorWebSocketMiddleware:
    """The same rule for WebSockets (inside Channels' AuthMiddlewareStack): a
    session of a user with two factors on that never passed one is anonymous."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        from channels.db import database_sync_to_async
        from django.contrib.auth.models import AnonymousUser
        from django_otp import DEVICE_ID_SESSION_KEY

        user = scope.get("user")
        session = scope.get("session") or {}
        if (
            user is not None
            and user.is_authenticated
            and not session.get(DEVICE_ID_SESSION_KEY)
            and await database_sync_to_async(has_two_factor)(user)
        ):
            scope = {**scope, "user": AnonymousUser()}
        return await self.inner(scope, receive, send)
