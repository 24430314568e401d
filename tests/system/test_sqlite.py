"""SQLite runs with the seed's pragmas on every connection, and concurrent writers
wait for the lock instead of failing with "database is locked"."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db.backends.sqlite3.base import DatabaseWrapper


@pytest.fixture(autouse=True)
def _unblocked(django_db_blocker: Any) -> Any:
    # These tests open their own connections to their own files, not the test DB.
    with django_db_blocker.unblock():
        yield


def fresh_connection(path: Path) -> DatabaseWrapper:
    """A new connection configured exactly as settings configure SQLite (also when
    this run's own database is PostgreSQL)."""
    from aaiti.settings import sqlite_options

    config = dict(
        settings.DATABASES["default"],
        NAME=str(path),
        ENGINE="django.db.backends.sqlite3",
        OPTIONS=sqlite_options(),
        HOST="",
        PORT="",
        USER="",
        PASSWORD="",
    )
    return DatabaseWrapper(config, alias=f"probe-{path.name}-{threading.get_ident()}")


def test_every_new_connection_has_the_seeds_pragmas(tmp_path: Path) -> None:
    conn = fresh_connection(tmp_path / "probe.sqlite3")
    try:
        with conn.cursor() as cur:
            read = {}
            for name in [
                "journal_mode",
                "synchronous",
                "cache_size",
                "temp_store",
                "mmap_size",
                "foreign_keys",
                "busy_timeout",
            ]:
                cur.execute(f"PRAGMA {name}")
                read[name] = cur.fetchone()[0]
    finally:
        conn.close()
    assert read == {
        "journal_mode": "wal",
        "synchronous": 1,  # NORMAL
        "cache_size": -64000,
        "temp_store": 2,  # MEMORY
        "mmap_size": 268435456,
        "foreign_keys": 1,
        "busy_timeout": 20000,
    }


def test_transactions_begin_immediate() -> None:
    from aaiti.settings import sqlite_options

    options = sqlite_options()
    assert options["transaction_mode"] == "IMMEDIATE"
    assert options["timeout"] >= 20


def test_concurrent_writers_wait_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "writers.sqlite3"
    setup = fresh_connection(path)
    with setup.cursor() as cur:
        cur.execute("CREATE TABLE t (writer INTEGER, n INTEGER)")
    setup.close()

    writers, rows_each = 8, 40
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(writer: int) -> None:
        conn = fresh_connection(path)
        try:
            start.wait()
            for n in range(rows_each):
                # A read then a write in one transaction: the pattern that fails with
                # "database is locked" under DEFERRED transactions.
                with conn.cursor() as cur:
                    conn.set_autocommit(False)
                    cur.execute("SELECT COUNT(*) FROM t")
                    cur.fetchone()
                    cur.execute("INSERT INTO t VALUES (%s, %s)", [writer, n])
                    conn.commit()
                    conn.set_autocommit(True)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            conn.close()

    threads: list[Any] = [
        threading.Thread(target=write, args=(w,)) for w in range(writers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    check = fresh_connection(path)
    with check.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM t")
        assert cur.fetchone()[0] == writers * rows_each
    check.close()
