"""The database's upkeep, run by beat (``apps.system.tasks.optimize_database``).

SQLite: a new database file is created with ``page_size=4096`` and
``auto_vacuum=INCREMENTAL`` (settings.SQLITE_PRAGMAS, applied to every connection
before WAL; they only take effect before the file's first table). Incremental
auto-vacuum keeps a free-page list instead of shrinking the file at every delete;
``PRAGMA incremental_vacuum`` returns those pages to the file system, without the
exclusive lock and the full copy that a ``VACUUM`` takes. ``PRAGMA optimize`` lets
SQLite refresh the planner statistics (ANALYZE) of the tables whose indexes it
found wanting, which keeps the hot reads (candles by range, bots by owner and
status, orders by bot, jobs by owner and status) on their indexes as tables grow.

A file created before this setting (``auto_vacuum`` 0, NONE) keeps its mode until a
one-off ``VACUUM`` rewrites it; ``optimize_database`` still runs ``optimize`` on it
and reports the mode, so the operator sees it in the log.

PostgreSQL has its own autovacuum daemon and statistics; nothing is done there.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connection as default_connection

logger = logging.getLogger(__name__)

AUTO_VACUUM_MODES = {0: "none", 1: "full", 2: "incremental"}


def _pragma(cursor: Any, name: str) -> int:
    cursor.execute(f"PRAGMA {name}")
    return int(cursor.fetchone()[0])


# Pages freed per write transaction: about 0.4 s of the write lock each on this
# machine, well inside the 20 s that other writers wait for it.
VACUUM_BATCH_PAGES = 10_000


def _incremental_vacuum(connection: Any, free: int) -> None:
    """Free every page on the free list, in write transactions of at most
    VACUUM_BATCH_PAGES pages, so writers wait for the lock only briefly.

    Each step of the statement frees one page, and Python's sqlite3 steps a
    statement that returns no rows only once, so one ``execute`` frees one page
    (``executescript`` would step it to the end but commits whatever transaction
    is open first). Inside a caller's transaction everything runs in that one."""
    if not connection.get_autocommit():
        with connection.cursor() as cursor:
            for _ in range(free):
                cursor.execute("PRAGMA incremental_vacuum(1)")
        return
    while free > 0:
        batch = min(free, VACUUM_BATCH_PAGES)
        connection.set_autocommit(False)
        try:
            with connection.cursor() as cursor:
                for _ in range(batch):
                    cursor.execute("PRAGMA incremental_vacuum(1)")
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.set_autocommit(True)
        free -= batch


def optimize_database(connection: Any = None) -> dict[str, Any]:
    """Return free pages to the file system and refresh planner statistics.

    Returns what it did: the auto-vacuum mode, the page size, free pages before and
    after, and the file's pages before and after (empty for PostgreSQL).
    ``connection``: a Django connection (the default database's when None)."""
    connection = connection or default_connection
    if connection.vendor != "sqlite":
        return {}
    with connection.cursor() as cursor:
        before = {
            "pages": _pragma(cursor, "page_count"),
            "free": _pragma(cursor, "freelist_count"),
        }
        mode = AUTO_VACUUM_MODES.get(_pragma(cursor, "auto_vacuum"), "unknown")
        if mode == "incremental" and before["free"]:
            _incremental_vacuum(connection, before["free"])
        cursor.execute("PRAGMA optimize")
        cursor.fetchall()
        report = {
            "auto_vacuum": mode,
            "page_size": _pragma(cursor, "page_size"),
            "pages_before": before["pages"],
            "free_pages_before": before["free"],
            "pages_after": _pragma(cursor, "page_count"),
            "free_pages_after": _pragma(cursor, "freelist_count"),
        }
    logger.info("database optimized", extra=report)
    return report
