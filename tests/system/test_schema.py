from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_openapi_schema_is_public_and_lists_the_api(client: Client) -> None:
    response = client.get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in [
        "/api/auth/token/",
        "/api/auth/token/refresh/",
        "/api/me/",
        "/api/audit/",
        "/api/market/assets/{symbol}/candles/",
        "/api/market/imports/",
    ]:
        assert path in schema["paths"], path
    assert "jwtAuth" in schema["components"]["securitySchemes"]


def test_docs_pages_load_their_assets_locally(client: Client) -> None:
    for path in ["/api/docs/", "/api/redoc/"]:
        html = client.get(path).content.decode()
        assert "cdn" not in html.lower() and "googleapis" not in html, path
