"""The Webhooks section of the settings page (/accounts/profile/): add an
endpoint (its secret shown once), delete it, send a test event, and the delivery
log with redelivery. Every action answers htmx with the section fragment and a
plain form post with a redirect (or, on creation, a page showing the secret)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from . import services
from .forms import EndpointForm
from .models import WebhookDelivery, WebhookEndpoint

LOG_SIZE = 20


def section_context(user: Any, **extra: Any) -> dict[str, Any]:
    endpoints = list(WebhookEndpoint.objects.owned_by(user))
    return {
        "webhook_endpoints": endpoints,
        "webhook_form": extra.pop("form", None) or EndpointForm(),
        "webhook_limit": settings.WEBHOOK_MAX_ENDPOINTS_PER_USER,
        **log_context(user),
        **extra,
    }


def log_context(user: Any) -> dict[str, Any]:
    deliveries = WebhookDelivery.objects.owned_by(user).select_related("endpoint")
    latest = list(deliveries[:LOG_SIZE])
    # The log polls itself only while something in it is still being attempted.
    pending = any(d.status == WebhookDelivery.Status.PENDING for d in latest)
    return {"webhook_deliveries": latest, "webhook_pending": pending}


def _writer(request: HttpRequest) -> None:
    if not request.user.can_write:
        raise PermissionDenied("Viewers cannot change webhooks.")


def _back() -> str:
    return reverse("accounts:profile") + "#webhooks"


def _section(request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    context = section_context(request.user, **extra)
    return render(request, "webhooks/_section.html", context, status=status)


@login_required
@require_GET
def section(request: HttpRequest) -> HttpResponse:
    if not request.htmx:
        return redirect(_back())
    return _section(request)


@login_required
@require_GET
def delivery_log(request: HttpRequest) -> HttpResponse:
    if not request.htmx:
        return redirect(_back())
    return render(request, "webhooks/_log.html", log_context(request.user))


@login_required
@require_POST
def create(request: HttpRequest) -> HttpResponse:
    _writer(request)
    form = EndpointForm(request.POST)
    endpoint = None
    if form.is_valid():
        d = form.cleaned_data
        try:
            endpoint = services.create_endpoint(
                owner=request.user,
                url=d["url"],
                events=d["events"],
                secret=d["secret"] or None,
                request=request,
            )
        except services.WebhookError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    if endpoint is None:
        if request.htmx:
            return _section(request, status=400, form=form)
        return render(
            request, "webhooks/created.html", {"webhook_form": form}, status=400
        )
    # The secret leaves the server in this one response and never again.
    extra = {"new_endpoint": endpoint, "new_secret": endpoint.secret}
    if request.htmx:
        return _section(request, **extra)
    return render(request, "webhooks/created.html", extra)


def _endpoint(request: HttpRequest, pk: int) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint.objects.owned_by(request.user), pk=pk)


def _done(request: HttpRequest, message: str, error: str = "") -> HttpResponse:
    if request.htmx:
        return _section(request, notice=message, error=error)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, message)
    return redirect(_back())


@login_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    _writer(request)
    endpoint = _endpoint(request, pk)
    services.delete_endpoint(endpoint=endpoint, actor=request.user, request=request)
    return _done(request, "Webhook deleted.")


@login_required
@require_POST
def test(request: HttpRequest, pk: int) -> HttpResponse:
    _writer(request)
    endpoint = _endpoint(request, pk)
    services.send_test(endpoint=endpoint, actor=request.user, request=request)
    return _done(request, "Test event queued; see the delivery log.")


@login_required
@require_POST
def redeliver(request: HttpRequest, pk: int) -> HttpResponse:
    _writer(request)
    delivery = get_object_or_404(
        WebhookDelivery.objects.owned_by(request.user).select_related("endpoint"),
        pk=pk,
    )
    try:
        services.redeliver(delivery=delivery, actor=request.user, request=request)
    except services.WebhookError as exc:
        return _done(request, "", error=exc.message)
    return _done(request, "Delivery queued again.")
