"""The OpenAPI schema documents the error responses the API really gives.

Every API error has one shape (``apps.system.api.exception_handler``); this
post-processing hook adds it as the ``Error`` component and lists, on each
operation, the error statuses that operation can answer: 400 for bad input, 401
without valid credentials, 403 for a role that may not (a viewer's write), 404 for
an id you do not own or a page past the end, 429 where rate-limited, and 503 when a
backing service (Redis) is down. Statuses an operation documents itself are kept.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "array",
                        "items": {"type": "string"},
                    },
                },
            },
        }
    },
}
DESCRIPTIONS = {
    "400": "Invalid input; `fields` names each bad field.",
    "401": "Missing, invalid or revoked credentials.",
    "403": "Your role may not do this (viewers change nothing).",
    "404": "Not found (or not yours), or a page past the end.",
    "409": "Conflicts with the object's current state.",
    "415": "The body's content type is not JSON (or a form), or it does not parse.",
    "429": "Rate-limited; see Retry-After.",
    "503": "A backing service is unavailable; see Retry-After.",
}
RATE_LIMITED = ("/api/auth/",)
WRITES = {"post", "put", "patch", "delete"}


def error_statuses(
    path: str, method: str, operation: dict[str, Any], public: bool
) -> list[str]:
    statuses = ["401", "404", "503"]
    if not public:
        statuses.append("403")
    if method in WRITES or operation.get("parameters") or "{" in path:
        statuses.append("400")
    if method in WRITES and "{" in path:
        statuses.append("409")
    if operation.get("requestBody"):
        statuses.append("415")
    if path.startswith(RATE_LIMITED):
        statuses.append("429")
    return statuses


def document_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = (
        ERROR_SCHEMA
    )
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            security = operation.get("security", result.get("security", []))
            public = not security or {} in security
            responses = operation["responses"]
            for status in error_statuses(path, method, operation, public):
                documented = responses.get(status)
                if documented is None:
                    responses[status] = {
                        "description": DESCRIPTIONS[status],
                        "content": ref,
                    }
                    continue
                # The operation documents its own body for this status (an
                # import's report on 400): the error shape can answer it too (anyOf: the
                # two may overlap, as the token endpoint's own error shape does).
                for media in documented.get("content", {}).values():
                    own = media.get("schema")
                    if own is not None and own != ref["application/json"]["schema"]:
                        media["schema"] = {
                            "anyOf": [own, ref["application/json"]["schema"]]
                        }
    return result


def paginated(serializer: type[Any]) -> Any:
    """The documented body of a page of ``serializer`` rows, for APIViews that
    paginate by hand (drf-spectacular wraps only generic list views)."""
    from drf_spectacular.utils import inline_serializer
    from rest_framework import serializers

    name = serializer.__name__.removesuffix("Serializer")
    return inline_serializer(
        name=f"{name}Page",
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer(many=True),
        },
    )
