"""Regression tests for what the fuzzer found in the schema (tests/security/
test_fuzz_api.py): hand-paginated lists documented as bare arrays, the gap report
documented as an array, and error responses (page past the end, 409 conflicts, the
error shape on an import's 400) that no operation documented."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

ERROR = {"$ref": "#/components/schemas/Error"}


def json_schema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as JSON Schema's null type."""
    if isinstance(node, list):
        return [json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") and "type" in node:
        out["type"] = [node["type"], "null"]
    elif node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.fixture
def schema(client: Client) -> dict[str, Any]:
    response = client.get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert response.status_code == 200
    return response.json()


def ok_schema(schema: dict[str, Any], path: str, method: str = "get") -> dict[str, Any]:
    body = schema["paths"][path][method]["responses"]["200"]["content"]
    ref = body["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    return schema["components"]["schemas"][ref]


@pytest.mark.parametrize(
    "path",
    [
        "/api/backtests/{id}/trades/",
        "/api/bots/",
        "/api/bots/{id}/orders/",
        "/api/bots/{id}/fills/",
        "/api/bots/{id}/journal/",
        "/api/webhooks/",
        "/api/webhooks/{id}/deliveries/",
    ],
)
def test_hand_paginated_lists_are_documented_as_pages(
    schema: dict[str, Any], path: str
) -> None:
    page = ok_schema(schema, path)
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    assert page["properties"]["results"]["type"] == "array"


def test_the_gap_report_is_documented_as_the_object_it_is(
    schema: dict[str, Any],
) -> None:
    report = ok_schema(schema, "/api/market/assets/{symbol}/gaps/")
    assert set(report["properties"]) == {"symbol", "timeframe", "missing", "gaps"}


def test_every_operation_documents_its_error_responses(schema: dict[str, Any]) -> None:
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    for path, item in schema["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            for status in ("401", "404", "503"):
                body = responses[status]["content"]["application/json"]["schema"]
                assert body == ERROR or ERROR in body.get("anyOf", []), (path, status)
            if method in ("post", "put", "patch"):
                assert "400" in responses, (path, method)
            if method != "get" and "{" in path:
                assert "409" in responses, (path, method)
    for op in ("/api/models/{id}/train/", "/api/models/{id}/cancel/"):
        assert "409" in schema["paths"][op]["post"]["responses"]
    assert "404" in schema["paths"]["/api/audit/"]["get"]["responses"]  # ?page=999
    assert "429" in schema["paths"]["/api/auth/token/"]["post"]["responses"]


def test_an_imports_400_may_be_its_report_or_the_error_shape(
    schema: dict[str, Any],
) -> None:
    body = schema["paths"]["/api/market/imports/"]["post"]["responses"]["400"]
    one_of = body["content"]["application/json"]["schema"]["anyOf"]
    assert ERROR in one_of and len(one_of) == 2


def test_the_documented_error_shape_is_what_the_api_answers(
    client: Client, alice: Any
) -> None:
    import jsonschema

    client.force_login(alice)
    schema = client.get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    ).json()
    page_past_end = client.get("/api/audit/?page=999")
    assert page_past_end.status_code == 404
    jsonschema.validate(page_past_end.json(), schema["components"]["schemas"]["Error"])


def test_an_untrained_models_trained_run_is_documented_nullable(
    schema: dict[str, Any], client: Client, alice: Any
) -> None:
    """Found by the fuzzer: PATCHing a trained model's parameters untrains it, and
    the answer's ``trained_run: null`` broke the documented integer."""
    import jsonschema

    field = schema["components"]["schemas"]["Model"]["properties"]["trained_run"]
    assert field.get("nullable") is True
    from tests.security.world import build_world

    model_id = build_world(alice)["mlmodels.MLModel"]
    client.force_login(alice)
    response = client.patch(
        f"/api/models/{model_id}/",
        {"max_train_bars": 150},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["trained_run"] is None  # changed, so untrained
    schemas = {"components": schema["components"], "$ref": "#/components/schemas/Model"}
    jsonschema.validate(body, json_schema(schemas))
