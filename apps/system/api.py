"""One JSON error shape for the whole API:
``{"error": {"code": ..., "message": ..., "fields": {...}}}``."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _flatten(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(k): [str(x) for x in (v if isinstance(v, list) else [v])]
            for k, v in detail.items()
        }
    return {}


def _dependency_down(exc: Exception) -> bool:
    """Redis (cache, broker, channel layer) unreachable: a 503, never a 500."""
    import redis
    from kombu.exceptions import OperationalError

    return isinstance(
        exc,
        redis.exceptions.ConnectionError
        | redis.exceptions.TimeoutError
        | OperationalError,
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if _dependency_down(exc):
        response = Response(
            {
                "error": {
                    "code": "service_unavailable",
                    "message": "A backing service (Redis) is unavailable; try again "
                    "shortly.",
                    "fields": {},
                }
            },
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = "30"
        return response
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = "error"
    message = "Request failed."
    fields: dict[str, list[str]] = {}
    if isinstance(exc, exceptions.ValidationError):
        code = "invalid"
        fields = _flatten(exc.detail)
        non_field = fields.pop("non_field_errors", None) or fields.pop("detail", None)
        message = non_field[0] if non_field else "Some fields are invalid."
        if isinstance(exc.detail, list) and exc.detail:
            message = str(exc.detail[0])
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        codes = exc.get_codes()
        if isinstance(detail, dict):
            message = str(detail.get("detail", message))
            code = str(
                codes.get("detail", exc.default_code)
                if isinstance(codes, dict)
                else codes
            )
        else:
            message = str(detail)
            code = str(codes) if isinstance(codes, str) else exc.default_code
    elif response.status_code == status.HTTP_404_NOT_FOUND:
        code, message = "not_found", "Not found."
    response.data = {"error": {"code": code, "message": message, "fields": fields}}
    return response
