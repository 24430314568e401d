"""Pages of two-factor sign-in: the code step after the password, set-up with a QR
code, recovery codes, turning it off. Everything acts on the signed-in user's own
devices; no URL names a device, so nobody can reach another user's."""

from __future__ import annotations

import time
from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.audit.services import record_event

from . import twofactor
from .forms import OTPCodeForm, ReauthForm
from .models import User
from .ratelimit import Limited, check_otp_allowed, record_otp_failure

PENDING_KEY = "twofa_pending"
# How long the password step stays good for while the user fetches their phone.
PENDING_SECONDS = 300


def begin_second_step(request: HttpRequest, user: Any, next_url: str) -> HttpResponse:
    """Remember who passed the password step, without signing them in."""
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "backend": getattr(user, "backend", ""),
        "at": int(time.time()),
        "next": next_url,
        # A password change (or reset) meanwhile voids the half-way sign-in.
        "hash": user.get_session_auth_hash(),
    }
    return redirect("accounts:login_verify")


def _pending_user(request: HttpRequest) -> tuple[User, dict[str, Any]] | None:
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    user = User.objects.filter(pk=pending.get("user"), is_active=True).first()
    if user is None or not constant_time_compare(
        str(pending.get("hash", "")), user.get_session_auth_hash()
    ):
        request.session.pop(PENDING_KEY, None)
        return None
    return user, pending


def _too_many(
    request: HttpRequest, template: str, context: dict[str, Any], limited: Limited
) -> HttpResponse:
    context = {**context, "throttled": True, "retry_after": limited.retry_after}
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(limited.retry_after)
    return response


def _wrong_code_message(result: twofactor.Verification) -> str:
    if result.locked_for:
        return (
            f"Too many wrong codes. Wait {result.locked_for} seconds, then enter "
            "the current code."
        )
    return "That code is not correct, or was already used."


@never_cache
@require_http_methods(["GET", "POST"])
def login_verify_view(request: HttpRequest) -> HttpResponse:
    found = _pending_user(request)
    if found is None or request.user.is_authenticated:
        messages.info(request, "Sign in with your email and password first.")
        return redirect("accounts:login")
    user, pending = found
    form = OTPCodeForm(request.POST or None)
    template = "accounts/login_verify.html"
    if request.method == "POST":
        limited = check_otp_allowed(request, user.pk)
        if limited:
            return _too_many(request, template, {"form": form}, limited)
        if form.is_valid():
            result = twofactor.verify_second_factor(
                user=user, code=form.cleaned_data["code"]
            )
            if result.device is not None:
                request.session.pop(PENDING_KEY, None)
                user.otp_device = result.device  # type: ignore[attr-defined]
                login(request, user, backend=pending.get("backend") or None)
                method = "recovery_code" if result.used_recovery_code else "totp"
                record_event(
                    action="auth.2fa_passed",
                    user=user,
                    request=request,
                    resource=user,
                    details={"method": method},
                )
                if result.used_recovery_code:
                    left = twofactor.recovery_codes_left(user)
                    messages.warning(
                        request,
                        f"You signed in with a recovery code; {left} left. "
                        "Make new ones on your profile if you are running low.",
                    )
                return redirect(pending.get("next") or "dashboard")
            record_otp_failure(request, user.pk)
            record_event(
                action="auth.2fa_failed", user=user, request=request, resource=user
            )
            form.add_error("code", _wrong_code_message(result))
    return render(request, template, {"form": form})


@login_required
@require_POST
def setup_start_view(request: HttpRequest) -> HttpResponse:
    try:
        twofactor.start_setup(user=request.user, request=request)
    except twofactor.TwoFactorError as exc:
        messages.info(request, str(exc))
        return redirect("accounts:profile")
    return redirect("accounts:two_factor_setup")


def _codes_page(request: HttpRequest, codes: list[str], title: str) -> HttpResponse:
    response = render(
        request, "accounts/two_factor_codes.html", {"codes": codes, "title": title}
    )
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def setup_view(request: HttpRequest) -> HttpResponse:
    device = twofactor.pending_device(request.user)
    if device is None:
        if twofactor.has_two_factor(request.user):
            return redirect("accounts:two_factor")
        messages.info(request, "Start the two-factor set-up from your profile.")
        return redirect("accounts:profile")
    form = OTPCodeForm(request.POST or None)
    form.fields["code"].help_text = "The 6-digit code your authenticator app shows now."
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            codes = twofactor.confirm_setup(
                user=request.user, code=form.cleaned_data["code"], request=request
            )
        except twofactor.TwoFactorError as exc:
            form.add_error("code", str(exc))
            status = 400
        else:
            messages.success(request, "Two-factor sign-in is on.")
            return _codes_page(request, codes, "Your recovery codes")
    return render(
        request,
        "accounts/two_factor_setup.html",
        {"form": form, "secret": twofactor.secret_base32(device)},
        status=status,
    )


@never_cache
@login_required
@require_GET
def qr_view(request: HttpRequest) -> HttpResponse:
    """The pending authenticator's QR code as an image (the CSP allows 'self')."""
    device = twofactor.pending_device(request.user)
    if device is None:
        raise Http404("No two-factor set-up in progress.")
    response = HttpResponse(twofactor.qr_svg(device), content_type="image/svg+xml")
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def manage_view(request: HttpRequest) -> HttpResponse:
    """Make new recovery codes or turn two factors off, after re-authentication."""
    user = request.user
    if not twofactor.has_two_factor(user):
        return redirect("accounts:profile")
    action = request.POST.get("action", "")
    form = ReauthForm(request.POST or None)
    template = "accounts/two_factor_manage.html"
    context: dict[str, Any] = {
        "form": form,
        "codes_left": twofactor.recovery_codes_left(user),
    }
    if request.method != "POST":
        return render(request, template, context)
    if action not in {"regenerate", "disable"}:
        form.add_error(None, "Choose what to do.")
        return render(request, template, context, status=400)
    limited = check_otp_allowed(request, user.pk)
    if limited:
        return _too_many(request, template, context, limited)
    if not form.is_valid():
        return render(request, template, context, status=400)
    if not twofactor.check_password_or_code(
        user=user,
        password=form.cleaned_data["password"],
        code=form.cleaned_data["code"],
    ):
        record_otp_failure(request, user.pk)
        record_event(
            action="account.2fa_reauth_failed",
            user=user,
            request=request,
            resource=user,
            details={"action": action},
        )
        form.add_error(None, "The password or code is not correct.")
        return render(request, template, context, status=400)
    if action == "regenerate":
        codes = twofactor.regenerate_recovery_codes(user=user, request=request)
        return _codes_page(request, codes, "Your new recovery codes")
    twofactor.disable(user=user, request=request)
    messages.success(request, "Two-factor sign-in is off.")
    return redirect("accounts:profile")
