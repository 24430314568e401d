from __future__ import annotations

from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from apps.system import views as system_views
from apps.system.metrics import metrics_view

admin.site.site_header = "AAITI administration"
admin.site.site_title = "AAITI admin"

DOCS_CSP = {
    "style-src": ["'unsafe-inline'"],
    "worker-src": ["blob:"],
    "img-src": ["data:", "blob:"],
}

urlpatterns = [
    path("", system_views.dashboard, name="dashboard"),
    path("accounts/", include("apps.accounts.urls")),
    path("admin/", admin.site.urls),
    path("markets/", include("apps.market.urls")),
    path("models/", include("apps.mlmodels.urls")),
    path("backtests/", include("apps.backtests.urls")),
    path("bots/", include("apps.bots.urls")),
    path("accounts/webhooks/", include("apps.webhooks.urls")),
    path("api/health", system_views.health, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("api/", include("apps.accounts.api_urls")),
    path("api/", include("apps.audit.api_urls")),
    path("api/", include("apps.market.api_urls")),
    path("api/", include("apps.backtests.api_urls")),
    path("api/", include("apps.mlmodels.api_urls")),
    path("api/", include("apps.bots.api_urls")),
    path("api/", include("apps.webhooks.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # ReDoc runs a blob: worker; no inline script is allowed even here: Swagger UI's
    # initialiser is served as a file.
    path(
        "api/docs/",
        csp_update(DOCS_CSP)(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
    path(
        "api/redoc/",
        csp_update(DOCS_CSP)(SpectacularRedocView.as_view(url_name="api-schema")),
        name="api-redoc",
    ),
]

handler404 = "apps.system.views.not_found"
handler500 = "apps.system.views.server_error"
