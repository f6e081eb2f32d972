"""Where a backup's facts live between runs: a cache keyed by the backup's fingerprint.

A scan of a multi-GB backup takes minutes; changing a threshold in the YAML
must not repeat it.  The finished facts store is kept under pytest's cache
directory, named by a key derived from the backup's identity on disk (path,
size, modification and change times, inode) and the scanner and schema
versions, so a changed, replaced or touched backup is always re-scanned and a
store from another scanner version is never used.  A store is written under a
temporary name and renamed when complete; one that does not open or is not
marked complete is ignored and rebuilt.

The key trusts the file system's word that the bytes are the same; a reused
store is also checked against the sha256 of the backup's bytes, recorded at
scan time, and rescanned when they differ.  Every new copy of a backup (and
every touch) makes a new key, so :func:`evict` removes the stores of backups
that no longer exist, stores not used for ``jira_cache_days``, and then the
least recently used ones while the cache is over ``jira_cache_max_mb``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from pytest_jiramigrate import facts
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.core.space import NoSpaceError, out_of_space
from pytest_jiramigrate.core.terminal import name_text
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.scan.backup import (
    BACKUP_SOURCES,
    SCANNER_VERSION,
    ProgressFactory,
    scan_backup,
    sha256_of,
)
from pytest_jiramigrate.scan.media import scan_media

#: A facts store takes about a fifth of the XML it was scanned from.
STORE_SHARE_OF_XML = 0.2

#: Stores not used for this many days are evicted (ini key ``jira_cache_days``).
DEFAULT_CACHE_DAYS = 30.0
#: The cache's stores are kept under this many MB (ini key ``jira_cache_max_mb``).
DEFAULT_CACHE_MAX_MB = 20_000.0
#: A store used this recently may be about to be opened by another run: the size
#: bound does not take it from under that run (the age limit never reaches it).
IN_USE_GRACE = 60.0
#: The store's meta key with the backup's resolved path (JSON, so that a path that is
#: not UTF-8 keeps its bytes): a store whose backup is gone can never be used again.
BACKUP_FILE_KEY = "cache_backup_file"

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
    say: Callable[[str], None] | None = None,
) -> Path:
    """The finished facts store of the backup at ``path``: cached, or from a new scan.

    With ``scanned_since`` (a ``time.time()``), only a store written since then is
    used: a ``--jira-rescan`` run's processes (pytest-xdist workers and their
    controller) share the one store the first of them scanned. ``workers`` (parse
    processes) changes how fast a scan runs, never its facts, so it is no part of the key.

    A store from an earlier run is used only when the sha256 of the backup's bytes
    is the one recorded in it: the key is made from what the file system says
    (size, times, inode), which a restored modification time or a reused inode can
    fool.  On a mismatch the backup is scanned again, and ``say`` tells the user why.
    """
    store = cache_dir / f"backup-{fingerprint(path, limits)}.sqlite"
    checksum: str | None = None  # the backup's sha256, once it was computed
    stale = False  # the store records another sha256 than the backup's
    if not rescan and _usable(store, scanned_since):
        if scanned_since is not None:  # this run's own scan: hashed as it was scanned
            return store
        # marked before the hash: an eviction that starts meanwhile leaves it, and
        # one already under way has removed it by the time its sha256 is read
        _mark_used(store)
        checksum = _backup_sha256(path)
        if checksum == _recorded_sha256(store):
            return store
        stale = True
        if say is not None and store.is_file():
            say(
                f"jiramigrate: the sha256 of {name_text(path)} differs from the one its "
                "cached facts were scanned from; scanning it again"
            )
    with _scan_lock(store):
        if (
            not rescan
            and _usable(store, scanned_since)
            and (not stale or _recorded_sha256(store) == checksum)
        ):  # scanned by another process
            return store
        remove_stale_partials(cache_dir)
        partial = store.with_name(f"{store.name}.{os.getpid()}.partial")
        partial.unlink(missing_ok=True)
        try:
            scan_backup(path, partial, limits, progress, workers)
            _record_backup_file(partial, path)
            os.replace(partial, store)
        except (OSError, sqlite3.Error) as error:
            if out_of_space(error):
                raise NoSpaceError(partial, store_size_estimate(path), ELSEWHERE) from error
            raise
        finally:
            partial.unlink(missing_ok=True)
    return store


def _backup_sha256(path: Path) -> str | None:
    """What the scan records as the backup's sha256 (None for a file it cannot read)."""
    return sha256_of(path) if path.is_file() else None


def _recorded_sha256(store: Path) -> str | None:
    """The sha256 of the bytes the store was scanned from (None: none was recorded)."""
    return _meta(store).get("sha256")


def _meta(store: Path) -> dict[str, str]:
    """The store's meta table (:attr:`Facts.meta`); empty when the store cannot be read."""
    try:
        cached = Facts.open(store)
        try:
            return cached.meta
        finally:
            cached.db.close()
    except sqlite3.Error:
        return {}


def _record_backup_file(store: Path, backup: Path) -> None:
    """Write where the backup is into its new store, for :func:`evict`.

    Where its path cannot be resolved (a symbolic link loop), nothing is written and
    the store is judged by age only: no reason to fail a scan.
    """
    try:
        resolved = backup.resolve()
    except (OSError, RuntimeError):
        return
    db = sqlite3.connect(store, isolation_level=None)
    try:
        db.execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            (BACKUP_FILE_KEY, json.dumps(str(resolved))),
        )
    finally:
        db.close()


def _lock_path(store: Path) -> Path:
    return store.with_name(f"{store.name}.lock")


def _mark_used(store: Path) -> None:
    """Record that a run used ``store``, by the modification time of its lock file.

    The store's own modification time must stay its scan time: ``--jira-rescan``
    tells this run's scan from an older one by it.
    """
    with contextlib.suppress(OSError):
        _lock_path(store).touch()


def last_used(store: Path) -> float:
    """When ``store`` was last scanned or used (raises OSError when it is gone)."""
    used = store.stat().st_mtime
    with contextlib.suppress(OSError):
        used = max(used, _lock_path(store).stat().st_mtime)
    return used


def evict(
    cache_dir: Path,
    keep: Path | None,
    max_days: float = DEFAULT_CACHE_DAYS,
    max_mb: float = DEFAULT_CACHE_MAX_MB,
    now: float | None = None,
) -> list[Path]:
    """Remove the stores no run will use again, then the least recently used ones
    while the cache is over ``max_mb``; return the stores removed.

    Every copy of a backup has a key of its own, so without this the cache grows by
    a store (about a fifth of its entities.xml) and a lock file per copy, forever.
    Removed: a store whose backup no longer exists (stores written before its path
    was recorded are judged by age only), a store not used for more than
    ``max_days`` days, then, oldest use first, stores while the total is over
    ``max_mb``.  ``keep`` (this run's store) is never removed, nor a store whose
    scan lock another process holds; a store used in the last minute may be about
    to be opened by another run and is not removed for size.  0 turns a limit off.
    Nothing here fails a run: a file that cannot be removed stays.
    """
    now = time.time() if now is None else now
    removed: list[Path] = []
    found: list[tuple[float, int, Path]] = []
    total = 0
    for store in cache_dir.glob("backup-*.sqlite"):
        try:
            used, size = last_used(store), store.stat().st_size
        except OSError:
            continue
        total += size
        if keep is not None and store == keep:
            continue
        if _backup_gone(store) or (max_days > 0 and now - used > max_days * 86_400):
            if _remove(store, used):
                removed.append(store)
                total -= size
            continue
        found.append((used, size, store))
    for used, size, store in sorted(found):
        if max_mb <= 0 or total <= max_mb * 1_000_000:
            break
        if now - used >= IN_USE_GRACE and _remove(store, used):
            removed.append(store)
            total -= size
    _remove_orphan_locks(cache_dir, now, max_days)
    return removed


def _backup_gone(store: Path) -> bool:
    recorded = _meta(store).get(BACKUP_FILE_KEY)
    if recorded is None:
        return False
    try:
        return not os.path.exists(json.loads(recorded))
    except (ValueError, TypeError):
        return False


def _remove(store: Path, used: float) -> bool:
    """Remove ``store`` and its lock file, unless a process holds or has just taken
    the lock (scanning it), or a run used it since ``used``; whether it was removed."""
    lock = _lock_path(store)
    had_lock = lock.exists()  # opening it below makes one, which is no use
    try:
        import fcntl
    except ImportError:  # Windows: a store another process has open cannot be removed
        return _unlink(store) and _unlink(lock)
    try:
        handle = lock.open("a")  # "a": neither truncates nor touches the lock file
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: a scan is running
            return False
        try:
            since = last_used(store) if had_lock else store.stat().st_mtime
        except OSError:
            since = used
        if since > used:  # used or scanned again by a run since it was judged
            return False
        gone = _unlink(store)
        if gone:
            _unlink(lock)
        return gone


def _remove_orphan_locks(cache_dir: Path, now: float, max_days: float) -> None:
    """Lock files left by scans that never finished (no space left, a crash)."""
    if max_days <= 0:
        return
    for lock in cache_dir.glob("backup-*.sqlite.lock"):
        try:
            stale = now - lock.stat().st_mtime > max_days * 86_400
        except OSError:
            continue
        if stale and not lock.with_suffix("").exists():
            _unlink(lock)


def _unlink(path: Path) -> bool:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        return False
    return True


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
    with _lock_path(store).open("w") as handle:
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
