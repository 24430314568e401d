from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from . import services
from .forms import LoginForm, ProfileForm, SignUpForm
from .ratelimit import (
    Limited,
    check_login_allowed,
    check_signup_allowed,
    record_login_failure,
)
from .twofactor import has_two_factor
from .views_twofactor import begin_second_step


def _throttled(
    request: HttpRequest, template: str, form: object, limited: Limited
) -> HttpResponse:
    response = render(
        request,
        template,
        {"form": form, "throttled": True, "retry_after": limited.retry_after},
        status=429,
    )
    response["Retry-After"] = str(limited.retry_after)
    return response


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "dashboard"


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = LoginForm(request, data=request.POST or None)
    if request.method == "POST":
        email = request.POST.get("username", "")
        limited = check_login_allowed(request, email)
        if limited:
            return _throttled(request, "accounts/login.html", form, limited)
        if form.is_valid():
            user = form.get_user()
            if has_two_factor(user):
                # The password alone signs nobody in: a code comes next.
                return begin_second_step(request, user, _next_url(request))
            login(request, user)
            return redirect(_next_url(request))
        record_login_failure(request, email)
    return render(
        request,
        "accounts/login.html",
        {"form": form, "next": request.GET.get("next", "")},
    )


@require_http_methods(["GET", "POST"])
def signup_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignUpForm(request.POST or None)
    if request.method == "POST":
        limited = check_signup_allowed(request)
        if limited:
            return _throttled(request, "accounts/signup.html", form, limited)
        if form.is_valid():
            try:
                user = services.sign_up(
                    email=form.cleaned_data["email"],
                    password=form.cleaned_data["password1"],
                    display_name=form.cleaned_data["display_name"],
                    request=request,
                )
            except services.AccountError as exc:
                form.add_error("email", str(exc))
            else:
                login(
                    request, user, backend="django.contrib.auth.backends.ModelBackend"
                )
                messages.success(
                    request, "Welcome to AAITI. Your trader account is ready."
                )
                return redirect("dashboard")
    return render(request, "accounts/signup.html", {"form": form})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("accounts:login")


@login_required
@require_http_methods(["GET", "POST"])
def password_change_view(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.change_password(
            user=request.user,
            new_password=form.cleaned_data["new_password1"],
            request=request,
        )
        messages.success(request, "Password changed. Your API tokens were revoked.")
        return redirect("accounts:profile")
    return render(request, "accounts/password_change.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def profile_view(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(
        request.POST or None, initial={"display_name": request.user.display_name}
    )
    if request.method == "POST" and form.is_valid():
        services.update_profile(
            user=request.user,
            display_name=form.cleaned_data["display_name"],
            request=request,
        )
        messages.success(request, "Profile saved.")
        return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form})
