from __future__ import annotations

from django.urls import path

from . import views, views_twofactor

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("signup/", views.signup_view, name="signup"),
    path("logout/", views.logout_view, name="logout"),
    path("password/", views.password_change_view, name="password_change"),
    path("profile/", views.profile_view, name="profile"),
    path("login/code/", views_twofactor.login_verify_view, name="login_verify"),
    path("two-factor/", views_twofactor.manage_view, name="two_factor"),
    path(
        "two-factor/start/", views_twofactor.setup_start_view, name="two_factor_start"
    ),
    path("two-factor/setup/", views_twofactor.setup_view, name="two_factor_setup"),
    path("two-factor/qr.svg", views_twofactor.qr_view, name="two_factor_qr"),
]
