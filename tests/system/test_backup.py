"""Online SQLite backups: consistent under concurrent writes, integrity-checked,
pruned by policy, restorable."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from apps.system.backup import (
    BackupError,
    Retention,
    backup_sqlite,
    backup_time,
    integrity,
    prune,
    restore_sqlite,
    select_kept,
)

ROOT = Path(__file__).resolve().parents[2]


def make_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, writer INT, payload TEXT)")
    conn.commit()
    conn.close()


def test_backup_under_concurrent_writes_holds_every_committed_row(
    tmp_path: Path,
) -> None:
    db = tmp_path / "live.sqlite3"
    make_db(db)
    committed: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        conn = sqlite3.connect(db, timeout=30)
        while not stop.is_set():
            cur = conn.execute(
                "INSERT INTO t (writer, payload) VALUES (?, ?)", (n, "x" * 200)
            )
            conn.commit()
            with lock:
                committed.append(int(cur.lastrowid))
        conn.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    with lock:
        before = set(committed)
    backup = backup_sqlite(db, tmp_path / "backups")
    time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    assert integrity(backup) == "ok"
    restored = tmp_path / "restored.sqlite3"
    restore_sqlite(backup, restored)
    rows = {r[0] for r in sqlite3.connect(restored).execute("SELECT id FROM t")}
    assert before and before <= rows
    assert rows <= set(committed)  # nothing that was not committed
    assert backup.with_suffix(".sqlite3.sha256").exists()


def test_retention_keeps_newest_daily_and_weekly() -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)  # a Wednesday
    times = [now - timedelta(hours=6 * k) for k in range(4 * 60)]  # 60 days, 4 a day
    kept = select_kept(times, Retention(daily=7, weekly=4), now)
    days = {t.date() for t in kept if t >= now - timedelta(days=6, hours=12)}
    assert len(days) == 7
    # One per day, and it is the newest of that day.
    for day in days:
        newest = max(t for t in times if t.date() == day)
        assert newest in kept
    assert min(kept) >= now - timedelta(weeks=4)
    assert len(kept) <= 7 + 4


def test_prune_deletes_what_the_policy_drops(tmp_path: Path) -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    for k in range(20):
        stamp = (now - timedelta(days=k)).strftime("%Y%m%dT%H%M%SZ")
        (tmp_path / f"aaiti-{stamp}.sqlite3").write_text("x")
    (tmp_path / "notes.txt").write_text("keep me")
    removed = prune(tmp_path, Retention(daily=3, weekly=2), now=now)
    left = sorted(p.name for p in tmp_path.glob("aaiti-*.sqlite3"))
    assert len(left) + len(removed) == 20
    assert {backup_time(tmp_path / n).date() for n in left} >= {
        (now - timedelta(days=k)).date() for k in range(3)
    }
    assert (tmp_path / "notes.txt").exists()


def test_a_corrupt_backup_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "aaiti-20260101T000000Z.sqlite3"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100 + b"garbage" * 100)
    with pytest.raises(BackupError):
        restore_sqlite(bad, tmp_path / "target.sqlite3")


def test_backup_and_restore_commands_end_to_end(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        AAITI_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'app.sqlite3'}",
        DEMO_USER_EMAIL="",
        CACHE_KEY_PREFIX="backup-test",
    )

    def manage(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=check,
        )

    manage("migrate", "-v0")
    out = manage("backup_db").stdout
    assert "backup written" in out
    backup = next((tmp_path / "var" / "backups").glob("aaiti-*.sqlite3"))
    # A later change, then the restore brings the earlier state back.
    conn = sqlite3.connect(tmp_path / "app.sqlite3")
    conn.execute(
        "UPDATE system_setting SET value = '99' WHERE key = 'max_bots_per_user'"
    )
    conn.commit()
    conn.close()
    refused = manage("restore_db", str(backup), check=False)
    assert refused.returncode != 0 and "restore cancelled" in refused.stderr
    assert "Traceback" not in refused.stderr
    done = manage("restore_db", str(backup), "--yes")
    assert "restored" in done.stdout
    value = (
        sqlite3.connect(tmp_path / "app.sqlite3")
        .execute("SELECT value FROM system_setting WHERE key = 'max_bots_per_user'")
        .fetchone()[0]
    )
    assert value == "10"
    assert any((tmp_path / "var" / "backups" / "pre-restore").glob("aaiti-*.sqlite3"))
    missing = manage("restore_db", str(tmp_path / "nope.sqlite3"), "--yes", check=False)
    assert missing.returncode != 0 and "no such file" in missing.stderr
