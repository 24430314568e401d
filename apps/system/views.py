from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.audit.models import AuditLog

from .dashboard import dashboard_sections, live_context
from .health import run_checks


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    recent = AuditLog.objects.for_user(request.user)[:8]
    return render(
        request,
        "system/dashboard.html",
        {
            "sections": dashboard_sections(request.user),
            "recent_events": recent,
            **live_context(request.user.pk),
        },
    )


@require_GET
@never_cache
def health(request: HttpRequest) -> JsonResponse:
    healthy, checks = run_checks()
    feed = checks.get("feed", {}).get("status")
    overall = "error" if not healthy else ("ok" if feed == "ok" else "degraded")
    body = {
        "status": overall,
        "time": timezone.now().isoformat(),
        "checks": checks,
    }
    return JsonResponse(body, status=200 if healthy else 503)


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(
            {"error": {"code": "not_found", "message": "Not found.", "fields": {}}},
            status=404,
        )
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(
            {
                "error": {
                    "code": "server_error",
                    "message": "Server error.",
                    "fields": {},
                }
            },
            status=500,
        )
    return render(request, "500.html", status=500)
