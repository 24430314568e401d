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
