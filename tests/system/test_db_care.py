"""The seed's database care: new SQLite files get incremental auto-vacuum and 4 KiB
pages, and beat returns free pages and refreshes the planner's statistics."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from apps.system.maintenance import optimize_database
from tests.system.test_sqlite import fresh_connection


@pytest.fixture(autouse=True)
def _unblocked(django_db_blocker: Any) -> Any:
    # These tests open their own connections to their own files, not the test DB.
    with django_db_blocker.unblock():
        yield


def test_a_new_database_file_gets_incremental_auto_vacuum_and_4k_pages(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fresh.sqlite3"
    conn = fresh_connection(path)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE t (x INTEGER)")
    finally:
        conn.close()
    # Read back by a plain sqlite3 connection, which sets nothing itself: the modes
    # are in the file's header, not only in Django's connection.
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # INCREMENTAL
        assert raw.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with path.open("rb") as fh:
        header = fh.read(100)
    assert int.from_bytes(header[16:18], "big") == 4096  # the page size field
    # Header offset 52: the largest root page, non-zero only with auto-vacuum;
    # offset 64: the incremental-vacuum flag.
    assert int.from_bytes(header[52:56], "big") > 0
    assert int.from_bytes(header[64:68], "big") == 1


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA page_size=8192")
        raw.execute("CREATE TABLE t (x INTEGER)")
    conn = fresh_connection(path)
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO t VALUES (1)")
    finally:
        conn.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
        assert raw.execute("PRAGMA page_size").fetchone()[0] == 8192
    report = optimize_database(fresh_connection(path))
    assert report["auto_vacuum"] == "none"  # reported, so the operator can VACUUM


def test_optimize_returns_the_free_pages_to_the_file_system(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from apps.system import maintenance

    monkeypatch.setattr(maintenance, "VACUUM_BATCH_PAGES", 150)  # three transactions
    path = tmp_path / "shrink.sqlite3"
    conn = fresh_connection(path)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE keep (x INTEGER)")
        cur.execute("CREATE TABLE junk (payload BLOB)")
        cur.execute("INSERT INTO keep VALUES (1)")
        for _ in range(400):
            cur.execute("INSERT INTO junk VALUES (zeroblob(3000))")
        cur.execute("DELETE FROM junk")
    try:
        report = optimize_database(conn)
    finally:
        conn.close()
    # Each 3000-byte row fills most of a 4 KiB page: about 400 pages were freed.
    assert report["free_pages_before"] >= 350
    assert report["free_pages_after"] == 0
    assert report["pages_after"] == report["pages_before"] - report["free_pages_before"]
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = raw.execute("PRAGMA page_count").fetchone()[0]
        assert raw.execute("SELECT x FROM keep").fetchall() == [(1,)]
    assert pages == report["pages_after"]
    assert path.stat().st_size == pages * 4096


def test_beat_runs_the_maintenance_task() -> None:
    from aaiti.celery import app

    app.loader.import_default_modules()  # the apps' tasks modules, as a worker does
    entry = settings.CELERY_BEAT_SCHEDULE["optimize-database"]
    assert entry["task"] in app.tasks
    # Every six hours, at minute 41 (after the 03:17 backup).
    assert entry["schedule"].hour == {0, 6, 12, 18}
    assert entry["schedule"].minute == {41}


@pytest.mark.django_db
def test_the_task_optimizes_the_apps_own_database() -> None:
    from django.db import connection

    from apps.system.tasks import optimize_database as task

    report = task()
    if connection.vendor == "sqlite":
        assert report["free_pages_after"] == 0 and report["page_size"] == 4096
    else:
        assert report == {}  # PostgreSQL: its own autovacuum
