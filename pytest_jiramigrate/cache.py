"""Where a backup's facts live between runs: a cache keyed by the backup's fingerprint.

A scan of a multi-GB backup takes minutes; changing a threshold in the YAML
must not repeat it.  The finished facts store is kept under pytest's cache
directory, named by a key derived from the backup's identity on disk (path,
size, modification and change times, inode) and the scanner and schema
versions, so a changed, replaced or touched backup is always re-scanned and a
store from another scanner version is never used.  A store is written under a
temporary name and renamed when complete; one that does not open or is not
marked complete is ignored and rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path

from pytest_jiramigrate import facts
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.core.space import NoSpaceError, out_of_space
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.scan.backup import (
    BACKUP_SOURCES,
    SCANNER_VERSION,
    ProgressFactory,
    scan_backup,
)
from pytest_jiramigrate.scan.media import scan_media

#: A facts store takes about a fifth of the XML it was scanned from.
STORE_SHARE_OF_XML = 0.2

#: Where a facts store can go instead, said when the cache's disk is full.
ELSEWHERE = "point pytest's cache at a disk with room (-o cache_dir=PATH)"


def fingerprint(path: Path, limits: ArchiveLimits) -> str:
    """A key that changes whenever the backup or the way it is scanned changes."""
    try:
        stat = path.stat()
        identity = [
            str(path.resolve()),
            stat.st_size,
            stat.st_mtime_ns,
            stat.st_ctime_ns,
            stat.st_ino,
        ]
    except OSError as error:
        identity = [str(path.absolute()), type(error).__name__]
    identity += [facts.SCHEMA_VERSION, SCANNER_VERSION, limits.max_ratio, limits.max_uncompressed]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:32]


def open_cached(store: Path) -> Facts | None:
    """The finished store at ``store``, or None when it is absent, corrupt or foreign."""
    if not store.is_file():
        return None
    try:
        cached = Facts.open(store)
        meta = cached.meta
    except sqlite3.DatabaseError:
        return None
    if meta.get("complete") != "1" or meta.get("schema_version") != str(facts.SCHEMA_VERSION):
        cached.db.close()
        return None
    return cached


def remove_stale_partials(cache_dir: Path) -> None:
    """Remove what killed runs left half-written: stores of processes no longer alive."""
    for partial in cache_dir.glob("*.partial"):
        pid = partial.suffixes[-2].lstrip(".") if len(partial.suffixes) >= 2 else ""
        if pid.isdigit() and not process_alive(int(pid)):
            partial.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def backup_store(
    path: Path,
    cache_dir: Path,
    limits: ArchiveLimits,
    rescan: bool,
    progress: ProgressFactory | None = None,
    *,
    scanned_since: float | None = None,
    workers: int | None = None,
) -> Path:
    """The finished facts store of the backup at ``path``: cached, or from a new scan.

    With ``scanned_since`` (a ``time.time()``), only a store written since then is
    used: a ``--jira-rescan`` run's processes (pytest-xdist workers and their
    controller) share the one store the first of them scanned. ``workers`` (parse
    processes) changes how fast a scan runs, never its facts, so it is no part of the key.
    """
    store = cache_dir / f"backup-{fingerprint(path, limits)}.sqlite"
    if not rescan and _usable(store, scanned_since):
        return store
    with _scan_lock(store):
        if not rescan and _usable(store, scanned_since):  # scanned by another process
            return store
        remove_stale_partials(cache_dir)
        partial = store.with_name(f"{store.name}.{os.getpid()}.partial")
        partial.unlink(missing_ok=True)
        try:
            scan_backup(path, partial, limits, progress, workers)
            os.replace(partial, store)
        except (OSError, sqlite3.Error) as error:
            if out_of_space(error):
                raise NoSpaceError(partial, store_size_estimate(path), ELSEWHERE) from error
            raise
        finally:
            partial.unlink(missing_ok=True)
    return store


def store_size_estimate(backup: Path) -> int | None:
    """About how large the facts store of ``backup`` grows (None when the zip cannot say)."""
    try:
        with zipfile.ZipFile(backup) as archive:
            xml = sum(i.file_size for i in archive.infolist() if i.filename.endswith(".xml"))
    except (OSError, zipfile.BadZipFile):
        return None
    return int(xml * STORE_SHARE_OF_XML)


def _usable(store: Path, scanned_since: float | None = None) -> bool:
    if scanned_since is not None and not (
        store.is_file() and store.stat().st_mtime >= scanned_since
    ):
        return False
    cached = open_cached(store)
    if cached is None:
        return False
    cached.db.close()
    return True


@contextlib.contextmanager
def _scan_lock(store: Path) -> Iterator[None]:
    """One scan of a backup at a time: another process (a pytest-xdist worker, a second
    run) waits for it, then uses the finished store instead of scanning again."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; at worst a backup is scanned twice
        yield
        return
    with store.with_name(f"{store.name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


#: why the backup's rules are not checked in a run of media only: the user's choice, which
#: does not fail the run (see :meth:`JiraSession.unchecked`)
NO_BACKUP = "no --jira-backup was given"


def media_store(
    backup: Path | None, media: list[tuple[Path, str]], work: Path, limits: ArchiveLimits
) -> Facts:
    """A store for a run with media: the backup's facts (if any) plus each target's inventory.

    Media are inventoried on every run (a directory walk reads no contents);
    the backup's cached store is copied, never written to.
    """
    try:
        return Facts(_media_db(backup, media, work, limits))
    except (OSError, sqlite3.Error) as error:
        if out_of_space(error):
            raise NoSpaceError(work, None, "point TMPDIR at a disk with room") from error
        raise


def _media_db(
    backup: Path | None, media: list[tuple[Path, str]], work: Path, limits: ArchiveLimits
) -> sqlite3.Connection:
    if backup is not None:
        shutil.copyfile(backup, work)
        db = sqlite3.connect(work, isolation_level=None, check_same_thread=False)
    else:
        db = facts.create(work)
        db.executemany(
            "INSERT INTO source VALUES (?, ?)",
            [(name, NO_BACKUP) for name in BACKUP_SOURCES],
        )
    for path, name in media:
        scan_media(path, db, name, limits)
    return db
