"""OpenAPI: our JWT authentication is simplejwt's bearer scheme."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class DenylistJWTScheme(SimpleJWTScheme):
    target_class = "apps.accounts.authentication.DenylistJWTAuthentication"
    name = "jwtAuth"
