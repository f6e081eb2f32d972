"""Media inventory: every file of a media directory or media zip, by stat or central directory.

Media trees hold millions of attachments, so the scan never reads a file's
contents, never decompresses a zip member, never follows a symlink, and keeps
nothing proportional to the file count in Python: rows go to SQLite in
batches, and the directory walk holds only the directories still to visit.

Each file is classified once here (``attachment``, ``thumbnail``,
``legacy-attachment``, ``legacy-thumbnail``, ``misplaced``, ``avatar``,
``logo``, ``stray``) and the parts of its path the rules join on (project
folder, bucket, issue folder, attachment id) are stored beside it, so the
media rules are short queries.
"""

from __future__ import annotations

import errno
import os
import re
import sqlite3
import stat
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pytest_jiramigrate import facts
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.core.terminal import name_text
from pytest_jiramigrate.scan import archive
from pytest_jiramigrate.scan.centraldir import (
    CentralDirectoryError,
    UnsupportedZipError,
    central_directory,
)

#: rows per executemany: large enough to amortise the call, small enough to stay flat
BATCH_ROWS = 5000

ISSUE_KEY = re.compile(r"(?P<project>.+)-(?P<number>[0-9]+)")
NUMERIC = re.compile(r"[0-9]+")
BUCKETED_THUMB = re.compile(r"_thumb_(?P<id>[0-9]+)\.png")
LEGACY_FILE = re.compile(r"(?P<id>[0-9]+)(?P<thumb>_thumb)?(?:_.*)?", re.DOTALL)


@dataclass(frozen=True)
class Classified:
    """What a media path is, and the parts of it the rules join on."""

    kind: str
    project: str | None = None
    bucket: str | None = None
    issue_key: str | None = None
    attachment_id: str | None = None


def bucket_of(issue_number: int) -> int:
    """Jira 7+ groups issue folders 10,000 at a time: issues 1-10000 live in ``10000``."""
    return max(1, -(-issue_number // 10000)) * 10000


def attachment_path(project_key: str, issue_number: int, issue_key: str, attachment_id: str) -> str:
    """Where Jira 7+ keeps an attachment below the media root (the bucketed layout)."""
    bucket = bucket_of(issue_number)
    return f"data/attachments/{project_key}/{bucket}/{issue_key}/{attachment_id}"


def classify(path: str) -> Classified:
    """Classify one file path (POSIX, relative to the media root) by the Jira layout it follows."""
    parts = path.split("/")
    if parts[0] == "logos" and len(parts) > 1:
        return Classified("logo")
    if parts[:2] == ["data", "avatars"] and len(parts) > 2:
        return Classified("avatar")
    if parts[:2] != ["data", "attachments"]:
        return Classified("stray")
    return _classify_attachment(parts[2:])


def _classify_attachment(parts: list[str]) -> Classified:
    """Below ``data/attachments``: the bucketed 7+ layout, the legacy pre-7 one, or neither."""
    if len(parts) in (4, 5) and NUMERIC.fullmatch(parts[1]) and ISSUE_KEY.fullmatch(parts[2]):
        project, bucket, issue = parts[:3]
        if len(parts) == 4 and NUMERIC.fullmatch(parts[3]):
            return Classified("attachment", project, bucket, issue, parts[3])
        thumb = BUCKETED_THUMB.fullmatch(parts[-1])
        if len(parts) == 5 and parts[3] == "thumbs" and thumb:
            return Classified("thumbnail", project, bucket, issue, thumb["id"])
    if len(parts) in (3, 4) and ISSUE_KEY.fullmatch(parts[1]):
        legacy_project, issue = parts[:2]
        legacy_thumb = BUCKETED_THUMB.fullmatch(parts[-1])
        if len(parts) == 4 and parts[2] == "thumbs" and legacy_thumb:
            return Classified("legacy-thumbnail", legacy_project, None, issue, legacy_thumb["id"])
        legacy = LEGACY_FILE.fullmatch(parts[-1])
        if len(parts) == 3 and legacy:
            kind = "legacy-thumbnail" if legacy["thumb"] else "legacy-attachment"
            return Classified(kind, legacy_project, None, issue, legacy["id"])
    return Classified("misplaced", parts[0] if len(parts) > 1 else None)


class _Writer:
    """Buffers rows and writes them with executemany, so memory stays flat."""

    def __init__(self, db: sqlite3.Connection, target: str) -> None:
        self.db = db
        self.target = target
        self.files: list[tuple[object, ...]] = []
        self.total_bytes = 0
        self.file_count = 0
        #: uncompressed bytes the zip declares, summed as its directory is streamed
        self.declared = 0

    def file(self, path: str, size: int) -> None:
        c = classify(path)
        row = (self.target, path, size, c.kind, c.project, c.bucket, c.issue_key, c.attachment_id)
        self.files.append(row)
        self.total_bytes += size
        self.file_count += 1
        if len(self.files) >= BATCH_ROWS:
            self.flush()

    def forget(self) -> None:
        """Drop what was written for this target: a zip whose directory breaks part-way
        through is unreadable as a whole, as it is to zipfile."""
        self.files.clear()
        self.total_bytes = self.file_count = 0
        self.db.execute("DELETE FROM media_file WHERE target = ?", (self.target,))
        self.db.execute("DELETE FROM media_problem WHERE target = ?", (self.target,))

    def problem(self, kind: str, path: str, detail: str) -> None:
        self.db.execute(
            "INSERT INTO media_problem VALUES (?, ?, ?, ?)", (self.target, kind, path, detail)
        )

    def flush(self) -> None:
        self.db.executemany("INSERT INTO media_file VALUES (?, ?, ?, ?, ?, ?, ?, ?)", self.files)
        self.files.clear()


def scan_media(path: Path, db: sqlite3.Connection, target_name: str, limits: ArchiveLimits) -> None:
    """Inventory the media directory or zip at ``path`` into ``db`` as target ``target_name``.

    Re-scanning a target replaces its rows.  The source ``media:<target_name>``
    records whether the media could be read at all.
    """
    db.executescript(facts.MEDIA_SCHEMA)
    own_transaction = not db.in_transaction
    if own_transaction:
        db.execute("BEGIN")
    try:
        for table in ("media_target", "media_file", "media_problem"):
            column = "name" if table == "media_target" else "target"
            db.execute(f"DELETE FROM {table} WHERE {column} = ?", (target_name,))
        writer = _Writer(db, target_name)
        kind, zip_bytes, reason = _inventory(path, writer, limits)
        writer.flush()
        db.execute(
            "INSERT INTO media_target VALUES (?, ?, ?, ?, ?, ?)",
            (target_name, name_text(path), kind, writer.total_bytes, writer.file_count, zip_bytes),
        )
        db.execute("INSERT OR REPLACE INTO source VALUES (?, ?)", (f"media:{target_name}", reason))
    except BaseException:
        if own_transaction:
            db.execute("ROLLBACK")
        raise
    if own_transaction:
        db.execute("COMMIT")


def _inventory(
    path: Path, writer: _Writer, limits: ArchiveLimits
) -> tuple[str, int | None, str | None]:
    """Fill the writer from ``path``; return (kind, zip size or None, why unreadable or None)."""
    if path.is_dir():
        _walk_directory(path, writer)
        return "dir", None, None
    zip_bytes = path.stat().st_size if path.is_file() else None
    reason = _inventory_zip(path, writer, limits)
    return "zip", zip_bytes, reason


def _inventory_zip(path: Path, writer: _Writer, limits: ArchiveLimits) -> str | None:
    """Stream the zip's central directory into the writer; return why it is unreadable, or None.

    Finds the same problems as :func:`archive.inspect_zip` but holds one entry at
    a time instead of every ``ZipInfo``: the first pass stores files and the
    per-entry problems and sums the declared size, duplicate names are then
    found by SQLite among the stored rows, and a second pass over the directory
    compares each local header.  Problems come out in that order, so a
    duplicate is listed after the per-entry problems rather than beside them.
    """
    problem = archive._path_problem(path)
    if problem is not None:
        return _unreadable(writer, problem)
    try:
        with path.open("rb", buffering=READ_BUFFER) as fp:
            other = _first_pass(path, fp, writer, limits)
            if other is not None:
                return _unreadable(writer, other)
            if (
                writer.file_count == 0
                and not writer.db.execute("SELECT 1 FROM temp.media_zip_other LIMIT 1").fetchone()
            ):
                # no entry at all, so no problem was written before this one
                empty = archive._empty(path)
                writer.problem(empty.kind, "", empty.detail)
            _duplicate_problems(writer)
            _declared_problem(writer, limits)
            with path.open("rb") as headers:
                other = _local_header_pass(path, fp, headers, writer)
            if other is not None:
                return _unreadable(writer, other)
    except PermissionError:
        return _unreadable(writer, archive._unreadable(path))
    except OSError as error:
        return _unreadable(
            writer,
            archive.Problem(
                "unreadable", None, f"Cannot read {path}: {error}; copy the file again."
            ),
        )
    finally:
        writer.db.execute("DROP TABLE IF EXISTS temp.media_zip_other")
    return None


#: file buffer for the sequential read of the central directory
READ_BUFFER = 1024 * 1024


def _unreadable(writer: _Writer, problem: archive.Problem) -> str:
    writer.forget()
    writer.problem(problem.kind, problem.member or "", problem.detail)
    return problem.detail


def _zip_entries(path: Path, fp: BinaryIO) -> Iterator[zipfile.ZipInfo | archive.Problem]:
    """The central directory's entries; a fault ends them with the Problem inspect_zip gives."""
    try:
        yield from central_directory(fp)
    except (CentralDirectoryError, UnicodeDecodeError, struct.error, ValueError) as error:
        fp.seek(0)
        head = fp.read(512)
        if head.startswith(b"PK"):
            yield archive.Problem(
                "truncated",
                None,
                f"{path} is a damaged or truncated zip ({error}); copy it again or take a new "
                "backup.",
            )
        else:
            yield archive.Problem(
                "not-a-zip", None, f"{path} is not a zip: {archive._describe_non_zip(head)}."
            )
    except UnsupportedZipError as error:
        yield archive.Problem(
            "not-a-zip",
            None,
            f"{path} uses a zip feature that cannot be read ({error}); re-zip it with a "
            "standard zip tool.",
        )


def _first_pass(
    path: Path, fp: BinaryIO, writer: _Writer, limits: ArchiveLimits
) -> archive.Problem | None:
    """Store every file and each entry's own problems; names that are not stored as files
    (folders, symlinks) go to a temporary table so duplicates among them are found too."""
    db = writer.db
    db.execute("DROP TABLE IF EXISTS temp.media_zip_other")
    db.execute("CREATE TEMP TABLE media_zip_other (path TEXT)")
    writer.declared = 0
    others: list[tuple[str]] = []
    for entry in _zip_entries(path, fp):
        if isinstance(entry, archive.Problem):
            return entry
        writer.declared += entry.file_size
        for problem in archive._entry_problems(entry, limits):
            writer.problem(problem.kind, problem.member or "", problem.detail)
        if entry.is_dir() or stat.S_ISLNK(entry.external_attr >> 16):
            # `zip -r` stores a folder entry per issue folder: batched like the files
            others.append((entry.filename,))
            if len(others) >= BATCH_ROWS:
                db.executemany("INSERT INTO temp.media_zip_other VALUES (?)", others)
                others.clear()
        else:
            writer.file(entry.filename, entry.file_size)
    db.executemany("INSERT INTO temp.media_zip_other VALUES (?)", others)
    writer.flush()
    return None


def _duplicate_problems(writer: _Writer) -> None:
    """One problem per repeat of a name (as inspect_zip gives), found by SQLite, not a set."""
    rows = writer.db.execute(
        "SELECT path, count(*) FROM (SELECT path FROM media_file WHERE target = ? "
        "UNION ALL SELECT path FROM temp.media_zip_other) GROUP BY path HAVING count(*) > 1 "
        "ORDER BY path",
        (writer.target,),
    )
    for name, count in rows.fetchall():
        for _ in range(count - 1):
            writer.problem(
                "duplicate-name",
                name,
                f"'{name}' appears more than once in the zip; re-zip so each file is stored once.",
            )


def _declared_problem(writer: _Writer, limits: ArchiveLimits) -> None:
    declared = writer.declared
    if declared > limits.max_uncompressed:
        writer.problem(
            "too-large",
            "",
            f"the zip declares {declared:,} bytes uncompressed, over the limit of "
            f"{limits.max_uncompressed:,}; raise archive.max_uncompressed if the backup "
            "really is that large.",
        )


def _local_header_pass(
    path: Path, fp: BinaryIO, headers: BinaryIO, writer: _Writer
) -> archive.Problem | None:
    """Read the directory again and check each entry's local header through ``headers``,
    so the directory itself is still read sequentially."""
    file_size = headers.seek(0, 2)
    for entry in _zip_entries(path, fp):
        if isinstance(entry, archive.Problem):
            return entry
        try:
            archive._data_offset(headers, entry, file_size)
        except archive.ArchiveReadError as error:
            writer.problem(error.kind, error.member, error.detail)
    return None


def _walk_directory(root: Path, writer: _Writer) -> None:
    """Walk ``root`` depth-first with os.scandir, recording files by lstat only.

    Only directories still to visit are held, so a wide tree costs its fan-out,
    not its file count.  Symlinks are never followed: those leading out of the
    tree, into a loop, or nowhere are recorded as problems.
    """
    real_root = os.path.realpath(root)
    pending: list[tuple[str, str]] = [(str(root), "")]
    while pending:
        directory, relative = pending.pop()
        for entry, name in _entries(directory, relative, writer):
            child = f"{relative}{name}"
            if entry.is_symlink():
                _check_symlink(entry.path, child, real_root, writer)
            elif entry.is_dir(follow_symlinks=False):
                pending.append((entry.path, f"{child}/"))
            else:
                _record_file(entry, child, writer)


def _entries(
    directory: str, relative: str, writer: _Writer
) -> Iterator[tuple[os.DirEntry[str], str]]:
    """The entries of one directory, each with its name as text (bytes that are not UTF-8
    escaped); an unreadable directory becomes a problem, not an error."""
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                yield entry, name_text(entry.name)
    except OSError as error:
        shown = relative.rstrip("/") or "."
        writer.problem("unreadable-dir", shown, f"cannot list {shown}: {error.strerror or error}")


def _record_file(entry: os.DirEntry[str], relative: str, writer: _Writer) -> None:
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError as error:
        writer.problem("unreadable-file", relative, f"cannot stat: {error.strerror or error}")
        return
    if not stat.S_ISREG(info.st_mode):
        writer.problem("special-file", relative, "not a regular file (device, socket or pipe)")
        return
    if info.st_mode & 0o444 != 0o444 and not os.access(entry.path, os.R_OK):
        writer.problem("unreadable-file", relative, "no read permission: zip cannot include it")
    writer.file(relative, info.st_size)


def _check_symlink(link: str, relative: str, real_root: str, writer: _Writer) -> None:
    """Record a symlink that a zip tool would follow out of the tree, round a loop, or nowhere."""
    target = os.readlink(link)
    try:
        os.stat(link)
    except OSError as error:
        if error.errno == errno.ELOOP:
            writer.problem("symlink-loop", relative, f"symlink loop via {target!r}")
        else:
            writer.problem("symlink-dangling", relative, f"symlink to missing {target!r}")
        return
    resolved = os.path.realpath(link)
    if os.path.commonpath([real_root, resolved]) != real_root:
        writer.problem("symlink-outside", relative, f"symlink points outside the media: {target!r}")
