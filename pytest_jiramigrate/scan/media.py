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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pytest_jiramigrate import facts
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.core.terminal import name_text
from pytest_jiramigrate.scan.archive import inspect_zip

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

    def file(self, path: str, size: int) -> None:
        c = classify(path)
        row = (self.target, path, size, c.kind, c.project, c.bucket, c.issue_key, c.attachment_id)
        self.files.append(row)
        self.total_bytes += size
        self.file_count += 1
        if len(self.files) >= BATCH_ROWS:
            self.flush()

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
    inspection = inspect_zip(path, limits)
    zip_bytes = path.stat().st_size if path.is_file() else None
    for problem in inspection.problems:
        writer.problem(problem.kind, problem.member or "", problem.detail)
    if not inspection.readable:
        return "zip", zip_bytes, "; ".join(p.detail for p in inspection.problems)
    for member in inspection.members:
        if not member.is_dir and not member.is_symlink:
            writer.file(member.name, member.size)
    return "zip", zip_bytes, None


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
