"""Fuzzing the API against its own OpenAPI schema (schemathesis).

Every operation of /api/schema/ runs with generated inputs, authenticated as a trader
who owns real things to act on (an asset with candles, a trained model with a
forecast job, a finished backtest, a sweep, a bot, an import), so operations on ids
reach real objects half of the time instead of only 404s. Every response must be no
5xx, carry a status code the schema documents and a body matching the documented
schema. A second test calls every operation that requires auth without credentials
and expects 401. Bounded: a fixed number of examples per operation, derandomized.

Marked ``fuzz``: skip it locally with ``-m "not fuzz"``.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from tests.security.world import build_world

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz, pytest.mark.slow]

EXAMPLES = 100  # per operation; ~60 operations, about 1.5 minutes on 2 cores
NEGATIVE_EXAMPLES = 40  # invalid inputs per operation, about 45 s
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Operations that end the caller's session or destroy the objects the others act
# on run last, so the rest of the run still reaches real objects.
LAST = ("DELETE", "/api/auth/logout/", "/api/auth/password/")


def load_schema() -> Any:
    from django.core.wsgi import get_wsgi_application

    return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


def operations(schema: Any) -> list[Any]:
    ops = [result.ok() for result in schema.get_all_operations()]

    def late(op: Any) -> int:
        return int(op.method.upper() in LAST or op.path in LAST)

    return sorted(ops, key=lambda op: (late(op), op.path, op.method))


def real_parameters(path: str, world: dict[str, Any]) -> dict[str, Any]:
    """The path parameters that name ``world``'s objects for one operation."""
    out: dict[str, Any] = {}
    for name in ("symbol", "run_id", "job_id"):
        if "{" + name + "}" in path:
            out[name] = world[name]
    if "{pk}" in path or "{id}" in path:
        prefix = path.split("{", 1)[0]
        key = "pk" if "{pk}" in path else "id"
        if prefix in world:
            out[key] = world[prefix]
    return out


# The WSGI transport hands schemathesis the body as sent; ask for it uncompressed
# (GZipMiddleware would compress it for a client that accepts gzip; that is tested
# in tests/system).
PLAIN = {"Accept-Encoding": "identity"}


def bearer(api: Any, user: Any, password: str) -> dict[str, str]:
    response = api.post(
        "/api/auth/token/", {"email": user.email, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return {"Authorization": f"Bearer {response.json()['access']}"}


def fuzz_operation(
    op: Any,
    headers: dict[str, str],
    world: dict[str, Any],
    mode: GenerationMode = GenerationMode.POSITIVE,
    examples: int = EXAMPLES,
) -> None:
    real = real_parameters(op.path, world)

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(mode), use_real=st.booleans())
    def run(case: Any, use_real: bool) -> None:
        if use_real and real:
            case.path_parameters = {**(case.path_parameters or {}), **real}
        case.call_and_validate(headers={**headers, **PLAIN}, checks=CHECKS)

    run()


@pytest.mark.parametrize(
    ("mode", "examples"),
    [
        (GenerationMode.POSITIVE, EXAMPLES),
        # Inputs that break the schema (wrong types, bodies that are not objects,
        # broken encodings): each must be a documented 4xx, never a 5xx.
        (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
    ],
    ids=["valid", "invalid"],
)
def test_every_operation_survives_generated_input_as_a_trader(
    api: Any, alice: Any, password: str, mode: GenerationMode, examples: int
) -> None:
    world = build_world(alice)
    schema = load_schema()
    ops = operations(schema)
    assert len(ops) >= 40, [op.label for op in ops]
    failures: list[str] = []
    for op in ops:
        headers = bearer(api, alice, password) if op.path in LAST else HEADERS[0]
        try:
            fuzz_operation(op, headers, world, mode, examples)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - all reported
            failures.append(f"{op.label}: {type(exc).__name__}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)


HEADERS: list[dict[str, str]] = [{}]


@pytest.fixture(autouse=True)
def _keep_the_test_connection(monkeypatch: Any) -> None:
    """Django closes "old" connections when a request starts and finishes. Its test
    client suspends that around each of its requests; the plain WSGI app that
    schemathesis calls does not, and on PostgreSQL it would close the connection
    that holds the test's transaction."""
    from django.db import connections

    for conn in connections.all():
        monkeypatch.setattr(conn, "close_if_unusable_or_obsolete", lambda: None)


@pytest.fixture(autouse=True)
def _token(api: Any, alice: Any, password: str, settings: Any, tmp_path: Any) -> None:
    settings.VAR_DIR = tmp_path  # model artefacts
    HEADERS[0] = bearer(api, alice, password)


def requires_auth(op: Any, schema: Any) -> bool:
    security = op.definition.raw.get("security", schema.raw_schema.get("security", []))
    return bool(security) and {} not in security


PUBLIC = {
    "POST /api/auth/token/",
    "POST /api/auth/token/refresh/",
    "POST /api/auth/token/verify/",
}


def test_every_operation_that_needs_auth_refuses_an_anonymous_call(alice: Any) -> None:
    world = build_world(alice)
    schema = load_schema()
    public = set()
    for op in operations(schema):
        if not requires_auth(op, schema):
            public.add(op.label)
            continue
        for params in ({}, real_parameters(op.path, world)):
            case = op.Case(
                path_parameters={name: params.get(name, 1) for name in _names(op.path)}
            )
            response = case.call(headers=PLAIN)
            assert response.status_code == 401, (op.label, params, response.text)
            assert response.json()["error"]["code"], op.label
    assert public == PUBLIC


def _names(path: str) -> list[str]:
    import re

    return re.findall(r"{(\w+)}", path)
