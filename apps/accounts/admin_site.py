"""Django admin behind a second factor.

Staff reach /admin/ only from a session that passed a second factor (the same rule
as django-otp's OTPAdminSite). Admin has no login page of its own: whoever is not
let in is sent to the site's sign-in, or, for staff without an authenticator, to
set one up.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse


class TwoFactorAdminSite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        # Imported here: this module is loaded while the app registry fills.
        from . import twofactor

        return super().has_permission(request) and twofactor.is_verified(request)

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        from django.contrib.auth.views import redirect_to_login

        user = request.user
        next_url = request.GET.get("next") or reverse("admin:index")
        if not user.is_authenticated:
            return redirect_to_login(next_url, reverse("accounts:login"))
        if self.has_permission(request):
            return redirect(next_url)
        if not (user.is_active and user.is_staff):
            messages.error(request, "Your account has no access to administration.")
            return redirect("dashboard")
        messages.warning(
            request,
            "Administration needs two-factor sign-in. Turn it on below, then open "
            "admin again.",
        )
        return redirect("accounts:profile")


class TwoFactorAdminConfig(AdminConfig):
    default_site = "apps.accounts.admin_site.TwoFactorAdminSite"
