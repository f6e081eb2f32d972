"""The media zip inventory streams the central directory (scan/centraldir.py).

Each zip here is inventoried twice: by ``scan_media`` (streaming) and by the
reference below, which is the inspect_zip-based inventory the streaming one
replaced.  Both must leave the same rows, so the memory fix changes nothing an
administrator sees, apart from where a duplicate name is listed among the
problems (after the per-entry ones; rows are compared as sorted lists).
"""

from __future__ import annotations

import gzip
import io
import sqlite3
import stat
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_jiramigrate import facts as facts_store
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.core.terminal import name_text
from pytest_jiramigrate.scan import media
from pytest_jiramigrate.scan.archive import inspect_zip
from pytest_jiramigrate.scan.centraldir import central_directory

LIMITS = ArchiveLimits()
TARGET = "media.zip"


def reference_scan(path: Path, db: sqlite3.Connection, limits: ArchiveLimits) -> None:
    """scan_media as it was before streaming: inspect_zip's list of members."""
    db.executescript(facts_store.MEDIA_SCHEMA)
    writer = media._Writer(db, TARGET)
    inspection = inspect_zip(path, limits)
    zip_bytes = path.stat().st_size if path.is_file() else None
    reason = None
    for problem in inspection.problems:
        writer.problem(problem.kind, problem.member or "", problem.detail)
    if not inspection.readable:
        reason = "; ".join(p.detail for p in inspection.problems)
    else:
        for member in inspection.members:
            if not member.is_dir and not member.is_symlink:
                writer.file(member.name, member.size)
    writer.flush()
    db.execute(
        "INSERT INTO media_target VALUES (?, ?, ?, ?, ?, ?)",
        (TARGET, name_text(path), "zip", writer.total_bytes, writer.file_count, zip_bytes),
    )
    db.execute("INSERT OR REPLACE INTO source VALUES (?, ?)", (f"media:{TARGET}", reason))


def rows(db: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    return {
        "files": sorted(db.execute("SELECT * FROM media_file").fetchall()),
        "problems": sorted(db.execute("SELECT * FROM media_problem").fetchall()),
        "target": db.execute("SELECT * FROM media_target").fetchall(),
        "source": db.execute("SELECT * FROM source WHERE name LIKE 'media:%'").fetchall(),
    }


def both(tmp_path: Path, path: Path, limits: ArchiveLimits = LIMITS) -> tuple[dict, dict]:
    old = facts_store.create(tmp_path / "old.sqlite")
    reference_scan(path, old, limits)
    new = facts_store.create(tmp_path / "new.sqlite")
    media.scan_media(path, new, TARGET, limits)
    return rows(old), rows(new)


# --------------------------------------------------------------------------- zips


def write_mixed(path: Path) -> None:
    """Stored and deflated files, folders, a symlink, an unsafe name, duplicates, a
    non-UTF-8 name and an encrypted flag, most of what a media zip can hold."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data/", b"")
        archive.writestr("data/attachments/", b"")
        archive.writestr("data/attachments/ABC/10000/ABC-1/10100", b"hello" * 100)
        archive.writestr(
            "data/attachments/ABC/10000/ABC-1/10101", b"stored", compress_type=zipfile.ZIP_STORED
        )
        archive.writestr("data/attachments/ABC/10000/ABC-1/thumbs/_thumb_10100.png", b"png")
        archive.writestr("../x", b"evil")
        archive.writestr("data/avatars/caf#.png", b"cp437")
        archive.writestr("data/attachments/ABC/10000/ABC-2/secret", b"locked")
        archive.writestr("logos/naïve.png", b"utf8 flagged")
        link = zipfile.ZipInfo("data/avatars/link.png")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, b"/etc/passwd")
        with pytest.warns(UserWarning, match="Duplicate"):
            archive.writestr("data/attachments/ABC/10000/ABC-1/10100", b"again")
            archive.writestr("data/attachments/ABC/10000/ABC-1/10100", b"and again")
            archive.writestr("data/", b"")
            archive.writestr(link, b"/etc/shadow")
    data = bytearray(path.read_bytes())
    # cp437: b"\x82" is "é" and the UTF-8 flag stays unset
    data = data.replace(b"caf#.png", b"caf\x82.png")
    for signature, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        start = data.find(signature)
        while start != -1:
            if data[start + name_at :].startswith(b"data/attachments/ABC/10000/ABC-2/secret"):
                data[start + flag_at] |= 0x1
            start = data.find(signature, start + 4)
    path.write_bytes(bytes(data))


def write_zip64(path: Path) -> None:
    """Zip64 extras on every member and a zip64 end record (file count limit lowered)."""
    limit = zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP_FILECOUNT_LIMIT = 2  # type: ignore[misc]
    try:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for n in range(5):
                name = f"data/attachments/ABC/10000/ABC-{n}/1010{n}"
                with archive.open(name, "w", force_zip64=True) as member:
                    member.write(b"z" * (n * 50))
            archive.writestr("logos/plain.png", b"p")
    finally:
        zipfile.ZIP_FILECOUNT_LIMIT = limit  # type: ignore[misc]
    with zipfile.ZipFile(path) as check:
        assert len(check.infolist()) == 6
    assert b"PK\x06\x06" in path.read_bytes()


def write_prefixed_with_comment(path: Path) -> None:
    """Bytes before the zip (a self-extractor) and an archive comment after it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data/attachments/ABC/10000/ABC-1/10100", b"hello")
        archive.writestr("logos/a.png", b"a")
        archive.comment = b"made by a tool"
    path.write_bytes(b"#!/bin/sh\nexit 0\n" * 10 + buffer.getvalue())


def good_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(20):
            archive.writestr(f"data/attachments/ABC/10000/ABC-{n}/{10100 + n}", b"x" * (n + 1))
    return buffer.getvalue()


def _patch_eocd(data: bytes, at: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, data.rfind(b"PK\x05\x06") + at, value)
    return bytes(out)


def _patch_first_central(data: bytes, at: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, data.find(b"PK\x01\x02") + at, value)
    return bytes(out)


def _bad_utf8_central_name(data: bytes) -> bytes:
    """The first central name flagged UTF-8 but holding bytes that are not UTF-8."""
    out = bytearray(_patch_first_central(data, 8, "<H", 0x800))
    name_at = data.find(b"PK\x01\x02") + 46
    out[name_at : name_at + 2] = b"\xff\xfe"
    return bytes(out)


BAD: dict[str, Callable[[bytes], bytes]] = {
    "truncated-half": lambda d: d[: len(d) // 2],
    "truncated-tail": lambda d: d[:-5],
    "directory-past-the-end": lambda d: _patch_eocd(d, 16, "<I", len(d) * 2),
    "directory-size-past-the-end": lambda d: _patch_eocd(d, 12, "<I", len(d) * 2),
    "directory-offset-negative": lambda d: _patch_eocd(d, 12, "<I", len(d) + 10),
    "garbage-directory": lambda d: d.replace(b"PK\x01\x02", b"XXXX", 1),
    # entries were already stored when the directory breaks: all must go, as with zipfile
    "garbage-late-in-directory": lambda d: (
        d[: d.rfind(b"PK\x01\x02")] + b"XXXX" + d[d.rfind(b"PK\x01\x02") + 4 :]
    ),
    "garbage-everywhere": lambda d: bytes(b ^ 0x5A for b in d),
    "not-a-zip": lambda d: b"hello, this is plain text",
    "tar.gz": lambda d: gzip.compress(d),
    "empty-file": lambda d: b"",
    "local-header-past-the-end": lambda d: _patch_first_central(d, 42, "<I", len(d) * 3),
    "local-header-size-lie": lambda d: _patch_first_central(d, 20, "<I", 10**6),
    "bad-utf8-name": lambda d: _bad_utf8_central_name(d),
    "corrupt-extra": lambda d: _patch_first_central(d, 30, "<H", 9),
    "future-version": lambda d: _patch_first_central(d, 6, "<H", 99),
}


@pytest.mark.parametrize(
    "write", [write_mixed, write_zip64, write_prefixed_with_comment], ids=lambda w: w.__name__
)
def test_streaming_inventory_matches_inspect_zip(tmp_path: Path, write: Callable) -> None:
    path = tmp_path / TARGET
    write(path)
    old, new = both(tmp_path, path)
    assert new == old
    assert new["files"]


def test_mixed_zip_rows_are_the_expected_ones(tmp_path: Path) -> None:
    """The equivalence above is not vacuous: the mixed zip has every problem kind."""
    path = tmp_path / TARGET
    write_mixed(path)
    _, new = both(tmp_path, path)
    kinds = sorted(kind for _, kind, _, _ in new["problems"])
    assert kinds == [
        "duplicate-name", "duplicate-name", "duplicate-name", "duplicate-name",
        "encrypted", "symlink", "symlink", "unsafe-name",
    ]  # fmt: skip
    paths = {row[1] for row in new["files"]}
    assert "data/avatars/café.png" in paths
    assert "logos/naïve.png" in paths
    assert len(new["files"]) == 9


@pytest.mark.parametrize("damage", list(BAD), ids=list(BAD))
def test_bad_zips_give_the_same_problems(tmp_path: Path, damage: str) -> None:
    path = tmp_path / TARGET
    path.write_bytes(BAD[damage](good_bytes()))
    old, new = both(tmp_path, path)
    assert new == old
    assert new["problems"], damage


def test_empty_zip_and_too_large_total(tmp_path: Path) -> None:
    path = tmp_path / TARGET
    with zipfile.ZipFile(path, "w"):
        pass
    old, new = both(tmp_path, path)
    assert new == old
    assert [row[1] for row in new["problems"]] == ["empty"]
    write_mixed(path)
    old, new = both(tmp_path / "..", path, ArchiveLimits(max_uncompressed=100))
    assert new == old
    assert "too-large" in {row[1] for row in new["problems"]}


def test_directory_streams_entry_by_entry(tmp_path: Path) -> None:
    path = tmp_path / TARGET
    write_zip64(path)
    with path.open("rb") as fp, zipfile.ZipFile(path) as archive:
        streamed = [(i.filename, i.file_size, i.compress_size, i.header_offset) for i in
                    central_directory(fp)]  # fmt: skip
        expected = [
            (i.filename, i.file_size, i.compress_size, i.header_offset) for i in archive.infolist()
        ]
    assert streamed == expected


# --------------------------------------------------------------------------- memory

#: members of the memory test's zip: enough that a per-member cost dwarfs the fixed ones
MANY = 100_000

_MEASURE = """
import sys, tracemalloc
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from pytest_jiramigrate import facts
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.scan import media
import test_media_stream as here
db = facts.create(Path(sys.argv[4]))
scan = media.scan_media if sys.argv[2] == "new" else (
    lambda path, db, target, limits: here.reference_scan(path, db, limits)
)
tracemalloc.start()
scan(Path(sys.argv[1]), db, "media.zip", ArchiveLimits())
print(tracemalloc.get_traced_memory()[1])
assert db.execute("SELECT count(*) FROM media_file").fetchone()[0] == here.MANY
"""


@pytest.fixture(scope="session")
def many_members(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A media zip of MANY one-byte stored members (a zip64 end record: over 65,535)."""
    path = tmp_path_factory.mktemp("many") / "media.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for n in range(MANY):
            bucket = (n // 10000 + 1) * 10000
            archive.writestr(f"data/attachments/ABC/{bucket}/ABC-{n}/{10000 + n}", b"x")
    return path


def peak_traced(path: Path, which: str, store: Path) -> int:
    """Peak Python allocation of one inventory, in a fresh interpreter so nothing else counts."""
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), which, str(Path(__file__).parent), str(store)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[0])


@pytest.mark.slow
def test_inventory_memory_is_flat_in_the_member_count(many_members: Path, tmp_path: Path) -> None:
    """Measured at 100,000 members: streaming peaks near 3 MB, the inspect_zip path near
    80 MB (its ZipInfo list and Member list grow with every member)."""
    new = peak_traced(many_members, "new", tmp_path / "new.sqlite")
    old = peak_traced(many_members, "old", tmp_path / "old.sqlite")
    assert new < 20_000_000, f"streaming inventory peaked at {new:,} bytes"
    print(f"peak traced memory: streaming {new:,} bytes, inspect_zip path {old:,} bytes")
    assert old > 60_000_000, f"the reference no longer shows the growth ({old:,} bytes)"
