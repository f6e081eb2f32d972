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

import hashlib
import json
import os
import sqlite3
from pathlib import Path

from pytest_jiramigrate import facts
from pytest_jiramigrate.config import ArchiveLimits
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.scan.backup import SCANNER_VERSION, scan_backup


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


def backup_facts(path: Path, cache_dir: Path, limits: ArchiveLimits, rescan: bool) -> Facts:
    """The facts of the backup at ``path``: from the cache, or from a new scan."""
    store = cache_dir / f"backup-{fingerprint(path, limits)}.sqlite"
    if not rescan:
        cached = open_cached(store)
        if cached is not None:
            return cached
    partial = store.with_name(f"{store.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    try:
        scan_backup(path, partial, limits)
        os.replace(partial, store)
    finally:
        partial.unlink(missing_ok=True)
    return Facts.open(store)
