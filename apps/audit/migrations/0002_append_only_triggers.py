"""Database triggers that refuse UPDATE and DELETE on the audit trail.

The ORM already refuses; these hold against raw SQL and other clients too.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

SQLITE_UP = [
    """CREATE TRIGGER IF NOT EXISTS audit_auditlog_no_update BEFORE UPDATE ON audit_auditlog
    BEGIN SELECT RAISE(ABORT, 'audit_auditlog is append-only'); END;""",
    """CREATE TRIGGER IF NOT EXISTS audit_auditlog_no_delete BEFORE DELETE ON audit_auditlog
    BEGIN SELECT RAISE(ABORT, 'audit_auditlog is append-only'); END;""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS audit_auditlog_no_update;",
    "DROP TRIGGER IF EXISTS audit_auditlog_no_delete;",
]
PG_UP = [
    """CREATE OR REPLACE FUNCTION audit_auditlog_append_only() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION 'audit_auditlog is append-only'; END; $$ LANGUAGE plpgsql;""",
    """CREATE TRIGGER audit_auditlog_no_change BEFORE UPDATE OR DELETE ON audit_auditlog
    FOR EACH ROW EXECUTE FUNCTION audit_auditlog_append_only();""",
]
PG_DOWN = [
    "DROP TRIGGER IF EXISTS audit_auditlog_no_change ON audit_auditlog;",
    "DROP FUNCTION IF EXISTS audit_auditlog_append_only();",
]


def _run(statements_by_vendor: dict[str, list[str]]) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": PG_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": PG_DOWN}),
        ),
    ]
