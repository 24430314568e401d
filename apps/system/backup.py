"""Online SQLite backups with an integrity check and a retention policy.

``sqlite3``'s backup API copies the database page by page under a read transaction,
so it is safe while the app writes: the copy is the database as of one moment, with
every transaction committed before that moment. PostgreSQL deployments back up with
PostgreSQL's own tools (see the README).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

PREFIX = "aaiti-"
SUFFIX = ".sqlite3"
STAMP = "%Y%m%dT%H%M%SZ"


class BackupError(Exception):
    """A backup or restore that cannot be done, with a message for the operator."""


def integrity(path: Path) -> str:
    """``ok`` or SQLite's first complaint about the file."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        conn.close()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup_sqlite(source: Path, dest_dir: Path, *, now: datetime | None = None) -> Path:
    """Copy ``source`` into ``dest_dir`` as ``aaiti-<UTC stamp>.sqlite3``, checked.

    Written to a temporary name and renamed only once its integrity check passes, so a
    half-written or corrupt backup never sits among the good ones.
    """
    if not source.exists():
        raise BackupError(f"no database at {source}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime(STAMP)
    final = dest_dir / f"{PREFIX}{stamp}{SUFFIX}"
    partial = dest_dir / f".{final.name}.partial"
    src = sqlite3.connect(str(source), timeout=30)
    dst = sqlite3.connect(str(partial))
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        dst.close()
        src.close()
    verdict = integrity(partial)
    if verdict != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup failed its integrity check: {verdict}")
    os.replace(partial, final)
    final.with_suffix(final.suffix + ".sha256").write_text(sha256_of(final) + "\n")
    return final


def backup_time(path: Path) -> datetime | None:
    name = path.name
    if not (name.startswith(PREFIX) and name.endswith(SUFFIX)):
        return None
    try:
        return datetime.strptime(name[len(PREFIX) : -len(SUFFIX)], STAMP).replace(
            tzinfo=UTC
        )
    except ValueError:
        return None


@dataclass(frozen=True)
class Retention:
    daily: int = 7
    weekly: int = 4


def select_kept(
    times: list[datetime], policy: Retention, now: datetime
) -> set[datetime]:
    """The newest backup of each of the last ``daily`` days and of each of the last
    ``weekly`` ISO weeks (counting back from ``now``)."""
    kept: set[datetime] = set()
    newest_first = sorted(times, reverse=True)
    day_floor = (now - timedelta(days=policy.daily - 1)).date()
    seen_days: set[object] = set()
    for moment in newest_first:
        day = moment.date()
        if day >= day_floor and day not in seen_days:
            seen_days.add(day)
            kept.add(moment)
    this_week = now.date() - timedelta(days=now.weekday())
    week_floor = this_week - timedelta(weeks=policy.weekly - 1)
    seen_weeks: set[object] = set()
    for moment in newest_first:
        week = moment.date() - timedelta(days=moment.weekday())
        if week >= week_floor and week not in seen_weeks:
            seen_weeks.add(week)
            kept.add(moment)
    return kept


def prune(
    dest_dir: Path, policy: Retention, *, now: datetime | None = None
) -> list[Path]:
    """Delete backups the policy does not keep; return what was deleted."""
    now = now or datetime.now(UTC)
    found = {t: p for p in dest_dir.glob(f"{PREFIX}*{SUFFIX}") if (t := backup_time(p))}
    kept = select_kept(list(found), policy, now)
    removed = []
    for moment, path in found.items():
        if moment not in kept:
            path.unlink()
            path.with_suffix(path.suffix + ".sha256").unlink(missing_ok=True)
            removed.append(path)
    return sorted(removed)


def restore_sqlite(backup: Path, target: Path) -> None:
    """Copy ``backup`` over ``target`` through the backup API (WAL-safe), after checking
    the backup's integrity and, if present, its checksum sidecar."""
    verdict = integrity(backup)
    if verdict != "ok":
        raise BackupError(f"{backup} failed its integrity check: {verdict}")
    sidecar = backup.with_suffix(backup.suffix + ".sha256")
    if sidecar.exists() and sidecar.read_text().strip() != sha256_of(backup):
        raise BackupError(f"{backup} does not match its checksum {sidecar.name}")
    src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    dst = sqlite3.connect(str(target), timeout=30)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    if integrity(target) != "ok":
        raise BackupError(f"restored database at {target} failed its integrity check")
