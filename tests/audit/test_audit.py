from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from apps.audit.models import AppendOnlyError, AuditLog, compute_hash
from apps.audit.services import record_event, verify_chain

pytestmark = pytest.mark.django_db


def make_chain(n: int, user: Any = None) -> list[AuditLog]:
    return [
        record_event(action=f"test.event{i}", user=user, details={"i": i})
        for i in range(n)
    ]


def test_each_row_chains_to_the_previous_rows_hash(alice: Any) -> None:
    rows = make_chain(3, alice)
    assert rows[0].prev_hash == "0" * 64
    assert rows[1].prev_hash == rows[0].hash
    assert rows[2].prev_hash == rows[1].hash
    # Recomputed independently from the stored fields.
    fresh = AuditLog.objects.get(pk=rows[2].pk)
    assert fresh.hash == compute_hash(fresh.canonical_fields(), rows[1].hash)
    assert [r.seq for r in rows] == [1, 2, 3]


def test_orm_refuses_update_and_delete(alice: Any) -> None:
    row = make_chain(1, alice)[0]
    row.action = "changed"
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()
    with pytest.raises(AppendOnlyError):
        AuditLog.objects.filter(pk=row.pk).update(action="changed")
    with pytest.raises(AppendOnlyError):
        AuditLog.objects.all().delete()


def test_database_trigger_refuses_raw_update_and_delete() -> None:
    make_chain(1)
    for sql in ["UPDATE audit_auditlog SET action = 'x'", "DELETE FROM audit_auditlog"]:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(sql)
    assert AuditLog.objects.count() == 1


def _without_triggers(sql: str, params: list[Any] | None = None) -> None:
    """Tamper as an attacker with raw database access would: drop the guard first.
    The test's transaction rolls the whole thing back."""
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("DROP TRIGGER audit_auditlog_no_update")
            cur.execute("DROP TRIGGER audit_auditlog_no_delete")
        else:
            cur.execute(
                "ALTER TABLE audit_auditlog DISABLE TRIGGER audit_auditlog_no_change"
            )
        cur.execute(sql, params or [])


def verify_output() -> tuple[bool, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=err)
    except CommandError as exc:
        return False, str(exc)
    return True, out.getvalue()


def test_verify_audit_passes_on_an_intact_chain() -> None:
    make_chain(5)
    ok, text = verify_output()
    assert ok and "5 rows" in text


def test_verify_audit_names_an_altered_row() -> None:
    rows = make_chain(5)
    _without_triggers(
        "UPDATE audit_auditlog SET details = %s WHERE seq = 3", ['{"i": 99}']
    )
    ok, text = verify_output()
    assert not ok
    assert "seq=3" in text and "altered" in text
    assert rows[2].pk


def test_verify_audit_names_the_row_after_a_removed_one() -> None:
    make_chain(5)
    _without_triggers("DELETE FROM audit_auditlog WHERE seq = 2")
    ok, text = verify_output()
    assert not ok
    assert "seq=3" in text


def test_verify_audit_detects_reordering() -> None:
    make_chain(4)
    # Swap the sequence numbers of rows 2 and 3 (via a free slot).
    _without_triggers("UPDATE audit_auditlog SET seq = 1000 WHERE seq = 2")
    with connection.cursor() as cur:
        cur.execute("UPDATE audit_auditlog SET seq = 2 WHERE seq = 3")
        cur.execute("UPDATE audit_auditlog SET seq = 3 WHERE seq = 1000")
    checked, problem = verify_chain()
    assert checked == 1
    assert problem is not None and "seq=2" in problem


def test_secrets_never_enter_a_record() -> None:
    row = record_event(
        action="test.secrets",
        details={
            "password": "hunter2",
            "nested": {"api_key": "k-123", "refresh_token": "t"},
            "list": [{"Authorization": "Bearer abc"}],
            "symbol": "BTC-USD",
        },
    )
    text = str(AuditLog.objects.get(pk=row.pk).details)
    for secret in ["hunter2", "k-123", "'t'", "Bearer abc"]:
        assert secret not in text
    assert row.details["symbol"] == "BTC-USD"


def test_audit_admin_is_read_only(client: Any, admin: Any, password: str) -> None:
    row = make_chain(1, admin)[0]
    client.force_login(admin)
    listing = client.get("/admin/audit/auditlog/?action=test.event0")
    assert listing.status_code == 200
    assert b"test.event0" in listing.content
    assert client.get("/admin/audit/auditlog/add/").status_code == 403
    change = client.post(f"/admin/audit/auditlog/{row.pk}/change/", {"action": "x"})
    assert change.status_code in (200, 403)
    assert (
        client.post(
            f"/admin/audit/auditlog/{row.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert AuditLog.objects.get(pk=row.pk).action == "test.event0"


def test_audit_api_shows_only_the_callers_events(
    api: Any, alice: Any, bob: Any
) -> None:
    record_event(action="test.alice", user=alice)
    record_event(action="test.bob", user=bob)
    api.force_authenticate(alice)
    actions = [e["action"] for e in api.get("/api/audit/").json()["results"]]
    assert "test.alice" in actions and "test.bob" not in actions
