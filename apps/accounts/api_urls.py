from __future__ import annotations

from django.urls import path

from . import api

urlpatterns = [
    path("auth/token/", api.TokenObtainView.as_view(), name="token-obtain"),
    path(
        "auth/token/refresh/",
        api.PublicTokenRefreshView.as_view(),
        name="token-refresh",
    ),
    path(
        "auth/token/verify/", api.PublicTokenVerifyView.as_view(), name="token-verify"
    ),
    path("auth/logout/", api.LogoutView.as_view(), name="token-logout"),
    path(
        "auth/password/", api.PasswordChangeView.as_view(), name="api-password-change"
    ),
    path("me/", api.MeView.as_view(), name="api-me"),
]
