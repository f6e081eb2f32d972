"""Scan a site backup zip into a facts store: the archive, then each XML file once.

Every fault becomes a fact (an archive or XML problem, or a source that could
not be read and why); nothing here raises for bad input, so the rules can say
exactly what is wrong and the other rules still run where they can.
"""

from __future__ import annotations

import functools
import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

from pytest_jiramigrate import facts
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.core.terminal import name_text
from pytest_jiramigrate.scan.activeobjects import scan_activeobjects
from pytest_jiramigrate.scan.archive import (
    ArchiveReadError,
    Inspection,
    inspect_zip,
    locate_backup_files,
    open_member,
)
from pytest_jiramigrate.scan.pieces import scan_entities

#: Part of the cache key: bump when the scan would produce different facts.
SCANNER_VERSION = "1"


def sha256_of(path: Path) -> str | None:
    """The backup's checksum, recorded in the reports for the auditor."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            while block := stream.read(1 << 20):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


class Progress(Protocol):
    def update(self, done_bytes: int) -> None: ...
    def finish(self) -> None: ...


#: makes the progress display of one member: (label, total bytes) -> display
ProgressFactory = Callable[[str, int], Progress]
#: scans one XML member: (stream, store, declared size, progress) -> why it stopped early
Scanner = Callable[[BinaryIO, sqlite3.Connection, int, Callable[[int], None] | None], str | None]


def scan_backup(
    path: Path,
    store: Path,
    limits: ArchiveLimits,
    progress: ProgressFactory | None = None,
    workers: int | None = None,
) -> None:
    """Write the facts of the backup at ``path`` into a new store at ``store``.

    ``workers``: processes that parse entities.xml (default: one per available core).
    """
    db = facts.create(store)
    try:
        db.execute("BEGIN")  # one transaction: SQLite commits per statement otherwise
        before = _identity(path)
        _scan_into(db, path, limits, progress, workers)
        if _identity(path) != before:
            _changed_while_read(db)
        facts.summarize(db)
        db.execute("COMMIT")
        db.executescript(facts.INDEXES)
        db.execute("INSERT OR REPLACE INTO meta VALUES ('complete', '1')")
    finally:
        db.close()


def _identity(path: Path) -> tuple[int, ...] | None:
    """What changes when the file is written to or replaced: size, mtime, inode, device."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev)


#: why nothing read from a backup that changed during its scan can be trusted
CHANGED_WHILE_READ = (
    "the file changed while it was read (its size, modification time or inode differ "
    "after the scan), so its hash and facts may mix two versions; wait until the backup "
    "is written completely, and check it again"
)


def _changed_while_read(db: sqlite3.Connection) -> None:
    """Fail ``backup-archive`` and leave every other backup rule not checked."""
    _problems(db, [("changed-while-read", None, CHANGED_WHILE_READ)])
    reason = "the backup changed while it was read (see backup-archive)"
    _sources(db, **dict.fromkeys(BACKUP_SOURCES, reason))


def _scan_into(
    db: sqlite3.Connection,
    path: Path,
    limits: ArchiveLimits,
    progress: ProgressFactory | None,
    workers: int | None,
) -> None:
    meta = {"backup_path": name_text(path), "backup_name": name_text(path.name)}
    checksum = sha256_of(path) if path.is_file() else None
    if checksum:
        meta["sha256"] = checksum
        meta["backup_bytes"] = str(path.stat().st_size)
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", sorted(meta.items()))

    inspection = inspect_zip(path, limits)
    _record_archive(db, inspection)
    if not inspection.readable:
        reason = "the backup archive is unreadable (see backup-archive)"
        _sources(db, **dict.fromkeys(BACKUP_SOURCES, reason))
        return
    layout = locate_backup_files(inspection)
    _problems(db, [(p.kind, p.member, p.detail) for p in layout.problems])
    entities = layout.readable_member("entities")
    activeobjects = layout.readable_member("activeobjects")
    if entities:
        db.execute("INSERT OR REPLACE INTO meta VALUES ('entities_member', ?)", (entities,))
    _sources(db, archive=None)
    entities_scan = functools.partial(scan_entities, workers=workers)
    _read(db, path, inspection, entities, limits, entities_scan, "entities", progress)
    _read(db, path, inspection, activeobjects, limits, scan_activeobjects, "activeobjects")


def _read(
    db: sqlite3.Connection,
    path: Path,
    inspection: Inspection,
    member: str | None,
    limits: ArchiveLimits,
    scan: Scanner,
    source: str,
    progress: ProgressFactory | None = None,
) -> None:
    """Stream one member through its scanner, and record what could be read.

    ``<source>.xml`` is available when the bytes were streamed to the end;
    ``<source>`` when the XML was also read to the end.
    """
    file = f"{source}.xml"
    if member is None:
        missing = f"the backup holds no {file} (see {source}-xml-at-root)"
        _sources(db, **{file: missing, source: missing})
        return
    if any(p.kind == "duplicate-name" and p.member == member for p in inspection.problems):
        twice = f"{member} appears more than once in the zip (see backup-archive)"
        _sources(db, **{file: twice, source: twice})
        return
    try:
        declared = inspection.member(member)
        size = declared.size if declared else 0
        display = progress(file, size) if progress else None
        try:
            with open_member(path, member, limits) as stream:
                unparsed = scan(stream, db, size, display.update if display else None)
        finally:
            if display is not None:
                display.finish()
    except ArchiveReadError as error:
        known = db.execute(
            "SELECT 1 FROM archive_problem WHERE kind = ? AND member = ?",
            (error.kind, error.member),
        ).fetchone()
        if known is None:  # inspect_zip may have seen it already: list it once
            _problems(db, [(error.kind, error.member, error.detail)])
        unreadable = f"{file} could not be read: {error.detail} (see backup-archive)"
        _sources(db, **{file: unreadable, source: unreadable})
        return
    _sources(db, **{file: None, source: unparsed})


def _record_archive(db: sqlite3.Connection, inspection: Inspection) -> None:
    db.executemany(
        "INSERT INTO member VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (m.name, m.compressed, m.size, m.method, m.encrypted, m.is_dir, m.is_symlink)
            for m in inspection.members
        ],
    )
    _problems(db, [(p.kind, p.member, p.detail) for p in inspection.problems])


def _problems(db: sqlite3.Connection, rows: list[tuple[str, str | None, str]]) -> None:
    db.executemany("INSERT INTO archive_problem VALUES (?, ?, ?)", rows)


BACKUP_SOURCES = ("archive", "entities.xml", "entities", "activeobjects.xml", "activeobjects")


def _sources(db: sqlite3.Connection, **reasons: str | None) -> None:
    db.executemany("INSERT OR REPLACE INTO source VALUES (?, ?)", sorted(reasons.items()))
