"""Safe inspection and streaming of customer zips (the site backup and media zips).

Backups arrive from customers and may be corrupt, truncated, encrypted, hostile
or simply huge, so nothing here trusts the zip: :func:`inspect_zip` reads only
the central directory plus each member's 30-byte local header and turns every
fault into a :class:`Problem` an administrator can act on, and
:func:`open_member` streams one member's decompressed bytes without extracting
anything to disk, stopping with :class:`ArchiveReadError` as soon as the data
disagrees with what the central directory promised (a lying directory must not
let a zip bomb through).  Only *stored* and *deflate* are accepted because they
are what Jira writes and what Cloud's import reads.
"""

from __future__ import annotations

import io
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pytest_jiramigrate.core.limits import ArchiveLimits

#: Members smaller than this never count as zip bombs: tiny files compress absurdly well.
BOMB_RATIO_MIN_SIZE = 1024 * 1024
#: While streaming, the ratio guard waits for this much output so a highly
#: compressible XML header does not trip it before the ratio has settled.
STREAM_RATIO_GRACE = 4 * 1024 * 1024
#: Compressed bytes read per step are a quarter of the output asked for (XML
#: deflates 5-20x, so one step usually covers a read), at least this much.
#: Larger steps would make zlib's ``unconsumed_tail`` copies dominate small reads.
MIN_COMPRESSED_STEP = 16 * 1024
#: Output produced per step by ``read(-1)``.
OUTPUT_CHUNK = 1024 * 1024
#: How much of a candidate XML file is read to recognise what it holds.
SNIFF_BYTES = 64 * 1024

STORED, DEFLATED, DEFLATE64, BZIP2, LZMA = 0, 8, 9, 12, 14
SUPPORTED_METHODS = frozenset({STORED, DEFLATED})
FLAG_ENCRYPTED = 0x1
FLAG_DATA_DESCRIPTOR = 0x8
FLAG_UTF8_NAME = 0x800

LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
LOCAL_HEADER_SIGNATURE = b"PK\x03\x04"
ZIP64_EXTRA_ID = 0x0001
ZIP64_MARKER = 0xFFFFFFFF

_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")

#: Magic numbers of files people upload instead of a zip, and what to tell them.
_NOT_A_ZIP_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x1f\x8b", "this is a tar.gz; Jira's backup is a .zip"),
    (0, b"\xfd7zXZ\x00", "this is an xz file; Jira's backup is a .zip"),
    (0, b"7z\xbc\xaf\x27\x1c", "this is a 7z archive; Jira's backup is a .zip"),
    (0, b"Rar!\x1a\x07", "this is a RAR archive; Jira's backup is a .zip"),
    (0, b"BZh", "this is a bzip2 file; Jira's backup is a .zip"),
    (257, b"ustar", "this is a tar archive; Jira's backup is a .zip"),
)
_BARE_XML_PREFIXES = (b"<?xml", b"\xef\xbb\xbf<?xml", b"<\x00?\x00x\x00", b"\xff\xfe<\x00?\x00")
_BARE_XML_ADVICE = "this is a bare XML file; zip entities.xml and activeobjects.xml at the root"

_METHOD_ADVICE: dict[int, str] = {
    DEFLATE64: (
        "uses Deflate64 compression, which Jira Cloud cannot read: re-zip with standard deflate "
        "(Windows Explorer writes Deflate64 for zips over 2 GB)"
    ),
    BZIP2: "uses bzip2 compression, which Jira Cloud cannot read: re-zip with standard deflate",
    LZMA: "uses LZMA compression, which Jira Cloud cannot read: re-zip with standard deflate",
}


@dataclass(frozen=True)
class Member:
    """One zip entry, as the central directory describes it."""

    name: str
    compressed: int
    size: int
    method: int
    encrypted: bool
    is_dir: bool
    is_symlink: bool


@dataclass(frozen=True)
class Problem:
    """One fault of the archive; ``detail`` says what is wrong and what to do."""

    kind: str
    member: str | None
    detail: str


@dataclass
class Inspection:
    """What the central directory of one zip says, and everything wrong with it."""

    path: Path
    members: list[Member]
    problems: list[Problem]
    #: False when the central directory itself could not be read
    readable: bool
    _by_name: dict[str, Member] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Later duplicates win, as in zipfile (and so in open_member).
        self._by_name = {member.name: member for member in self.members}

    def member(self, name: str) -> Member | None:
        """The member called ``name`` (the last one when names are duplicated)."""
        return self._by_name.get(name)


class ArchiveReadError(Exception):
    """A member could not be read safely; ``kind`` uses the :class:`Problem` keys."""

    def __init__(self, kind: str, member: str, detail: str) -> None:
        super().__init__(f"{member}: {detail}")
        self.kind = kind
        self.member = member
        self.detail = detail


@dataclass
class BackupLayout:
    """Where a site backup's two XML files are, and what is wrong with their placement."""

    entities: str | None
    activeobjects: str | None
    problems: list[Problem]

    def readable_member(self, what: str) -> str | None:
        """The member to read as ``<what>.xml``: the one at the root, else a nested or
        misnamed one, so that the backup can still be checked (or cleaned) when the
        only fault is where the file sits."""
        at_root: str | None = getattr(self, what)
        if at_root is not None:
            return at_root
        for problem in self.problems:
            if problem.kind in (f"{what}-nested", f"{what}-missing") and problem.member:
                return problem.member
        return None


# --------------------------------------------------------------------------- inspection


def inspect_zip(path: Path, limits: ArchiveLimits) -> Inspection:
    """Read a zip's central directory and local headers; never raises for bad input."""
    try:
        path_problem = _path_problem(path)
        if path_problem is not None:
            return Inspection(path, [], [path_problem], readable=False)
        with path.open("rb") as fp:
            opened = _open_zip(path, fp)
            if isinstance(opened, Problem):
                return Inspection(path, [], [opened], readable=False)
            with opened:
                infos = opened.infolist()
                members = [_member_of(info) for info in infos]
                problems = _member_problems(infos, limits)
                problems += _local_header_problems(fp, infos)
    except PermissionError:
        return Inspection(path, [], [_unreadable(path)], readable=False)
    except OSError as error:
        problem = Problem("unreadable", None, f"Cannot read {path}: {error}; copy the file again.")
        return Inspection(path, [], [problem], readable=False)
    if not members:
        problems.insert(0, _empty(path))
    return Inspection(path, members, problems, readable=True)


def _path_problem(path: Path) -> Problem | None:
    """The fault of the path itself, before any byte is read."""
    if path.is_dir():
        return Problem(
            "is-directory",
            None,
            f"{path} is a directory, not a zip; zip its contents and point at the .zip file.",
        )
    if not path.exists():
        return Problem("not-found", None, f"{path} does not exist; check the path and try again.")
    if path.stat().st_size == 0:
        return _empty(path)
    return None


def _empty(path: Path) -> Problem:
    return Problem(
        "empty",
        None,
        f"{path} holds no files; the backup was cut short, take or copy it again.",
    )


def _unreadable(path: Path) -> Problem:
    return Problem(
        "unreadable",
        None,
        f"{path} cannot be read (permission denied); make it readable by the user running "
        "the check.",
    )


def _open_zip(path: Path, fp: BinaryIO) -> zipfile.ZipFile | Problem:
    """Open the central directory, or say what the file is instead."""
    try:
        return zipfile.ZipFile(fp)
    except (zipfile.BadZipFile, EOFError, ValueError, struct.error, UnicodeDecodeError) as error:
        fp.seek(0)
        head = fp.read(512)
        if head.startswith(b"PK"):
            return Problem(
                "truncated",
                None,
                f"{path} is a damaged or truncated zip ({error}); copy it again or take a new "
                "backup.",
            )
        return Problem("not-a-zip", None, f"{path} is not a zip: {_describe_non_zip(head)}.")
    except NotImplementedError as error:
        return Problem(
            "not-a-zip",
            None,
            f"{path} uses a zip feature that cannot be read ({error}); re-zip it with a "
            "standard zip tool.",
        )


def _describe_non_zip(head: bytes) -> str:
    """Recognise the formats people upload by mistake."""
    for offset, magic, description in _NOT_A_ZIP_SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return description
    if head.lstrip(b" \t\r\n").startswith(_BARE_XML_PREFIXES):
        return _BARE_XML_ADVICE
    return "the file is not a zip archive; Jira's backup is a .zip"


def _member_of(info: zipfile.ZipInfo) -> Member:
    mode = info.external_attr >> 16
    return Member(
        name=info.filename,
        compressed=info.compress_size,
        size=info.file_size,
        method=info.compress_type,
        encrypted=bool(info.flag_bits & FLAG_ENCRYPTED),
        is_dir=info.is_dir(),
        is_symlink=stat.S_ISLNK(mode),
    )


def _member_problems(infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> list[Problem]:
    """Every fault visible in the central directory alone."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if name in seen:
            problems.append(
                Problem(
                    "duplicate-name",
                    name,
                    f"'{name}' appears more than once in the zip; re-zip so each file is "
                    "stored once.",
                )
            )
        seen.add(name)
        problems += _entry_problems(info, limits)
    declared = sum(info.file_size for info in infos)
    if declared > limits.max_uncompressed:
        problems.append(
            Problem(
                "too-large",
                None,
                f"the zip declares {declared:,} bytes uncompressed, over the limit of "
                f"{limits.max_uncompressed:,}; raise archive.max_uncompressed if the backup "
                "really is that large.",
            )
        )
    return problems


def _entry_problems(info: zipfile.ZipInfo, limits: ArchiveLimits) -> Iterator[Problem]:
    name = info.filename
    if _is_unsafe_name(name):
        yield Problem(
            "unsafe-name",
            name,
            f"'{name}' would be written outside the import folder; re-zip with plain relative "
            "paths.",
        )
    if stat.S_ISLNK(info.external_attr >> 16):
        yield Problem(
            "symlink",
            name,
            f"'{name}' is a symbolic link; re-zip with the real file instead of the link.",
        )
    if info.flag_bits & FLAG_ENCRYPTED:
        yield Problem(
            "encrypted",
            name,
            f"'{name}' is password-protected, which Jira Cloud cannot read; re-zip without a "
            "password.",
        )
    if info.compress_type not in SUPPORTED_METHODS:
        yield Problem("unsupported-compression", name, f"'{name}' {_method_advice(info)}.")
    if _exceeds_ratio(info.file_size, info.compress_size, limits.max_ratio):
        yield Problem(
            "zip-bomb-ratio",
            name,
            f"'{name}' expands {info.file_size:,} bytes from {info.compress_size:,} compressed, "
            f"over the ratio limit of {limits.max_ratio}; check where the zip came from, or "
            "raise archive.max_ratio if the file is genuine.",
        )


def _is_unsafe_name(name: str) -> bool:
    """A name that escapes the extraction root: ``..``, absolute, drive letter or UNC."""
    if name.startswith(("/", "\\")) or _DRIVE_LETTER.match(name):
        return True
    return ".." in re.split(r"[/\\]", name)


def _method_advice(info: zipfile.ZipInfo) -> str:
    return _METHOD_ADVICE.get(
        info.compress_type,
        f"uses compression method {info.compress_type}, which Jira Cloud cannot read: re-zip "
        "with standard deflate",
    )


def _exceeds_ratio(size: int, compressed: int, max_ratio: int) -> bool:
    return size > BOMB_RATIO_MIN_SIZE and size > max_ratio * max(compressed, 1)


def _local_header_problems(fp: BinaryIO, infos: list[zipfile.ZipInfo]) -> list[Problem]:
    """Compare each local header with its central directory entry, without decompressing."""
    file_size = fp.seek(0, io.SEEK_END)
    problems: list[Problem] = []
    for info in infos:
        try:
            _data_offset(fp, info, file_size)
        except ArchiveReadError as error:
            problems.append(Problem(error.kind, error.member, error.detail))
    return problems


def _data_offset(fp: BinaryIO, info: zipfile.ZipInfo, file_size: int) -> int:
    """Where the member's compressed bytes start, after checking its local header."""
    name = info.filename
    fp.seek(info.header_offset)
    header = fp.read(LOCAL_HEADER.size)
    if len(header) < LOCAL_HEADER.size:
        raise ArchiveReadError(
            "truncated",
            name,
            f"'{name}' starts past the end of the file; the zip is truncated, copy it again.",
        )
    signature, _, flags, _, _, _, _, compressed, size, name_length, extra_length = (
        LOCAL_HEADER.unpack(header)
    )
    local_name = fp.read(name_length)
    extra = fp.read(extra_length)
    if signature != LOCAL_HEADER_SIGNATURE or local_name != _raw_name(info):
        raise _mismatch(name, "its local header does not match the central directory")
    if not flags & FLAG_DATA_DESCRIPTOR:
        local_compressed, local_size = _local_sizes(compressed, size, extra)
        if (local_compressed, local_size) != (info.compress_size, info.file_size):
            raise _mismatch(
                name,
                f"the central directory says {info.compress_size:,} compressed/"
                f"{info.file_size:,} bytes but the local header says {local_compressed:,}/"
                f"{local_size:,}",
            )
    data_offset = info.header_offset + LOCAL_HEADER.size + name_length + extra_length
    if data_offset + info.compress_size > file_size:
        raise ArchiveReadError(
            "truncated",
            name,
            f"'{name}' runs past the end of the file; the zip is truncated, copy it again.",
        )
    return data_offset


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    encoding = "utf-8" if info.flag_bits & FLAG_UTF8_NAME else "cp437"
    return info.orig_filename.encode(encoding)


def _local_sizes(compressed: int, size: int, extra: bytes) -> tuple[int, int]:
    """The local header's sizes, taken from its Zip64 extra field when they overflow."""
    if ZIP64_MARKER not in (compressed, size):
        return compressed, size
    values = iter(_zip64_values(extra))
    if size == ZIP64_MARKER:
        size = next(values, size)
    if compressed == ZIP64_MARKER:
        compressed = next(values, compressed)
    return compressed, size


def _zip64_values(extra: bytes) -> list[int]:
    offset = 0
    while offset + 4 <= len(extra):
        field_id, length = struct.unpack_from("<HH", extra, offset)
        body = extra[offset + 4 : offset + 4 + length]
        if field_id == ZIP64_EXTRA_ID:
            return [value for (value,) in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
        offset += 4 + length
    return []


def _mismatch(name: str, what: str) -> ArchiveReadError:
    return ArchiveReadError(
        "size-mismatch",
        name,
        f"'{name}': {what}; the zip is damaged, re-zip it or take a new backup.",
    )


# --------------------------------------------------------------------------- streaming


def open_member(
    path: Path, name: str, limits: ArchiveLimits, *, verify_crc: bool = True
) -> MemberStream:
    """Stream one member's decompressed bytes, guarded against lies and bombs.

    Raises :class:`ArchiveReadError` instead of zipfile/zlib exceptions, both
    here and from ``read()``.  ``verify_crc=False`` spares the crc32 over every
    byte on a pass whose results are used only with another pass over the same
    member that checks it (``fix`` reads entities.xml first to take stock, then
    copies it with the check); every other guard stays.
    """
    try:
        path_problem = _path_problem(path)
        if path_problem is not None:
            raise ArchiveReadError(path_problem.kind, name, path_problem.detail)
        fp = path.open("rb")
    except PermissionError as error:
        raise ArchiveReadError("unreadable", name, _unreadable(path).detail) from error
    except OSError as error:
        raise ArchiveReadError("unreadable", name, f"{path} cannot be opened: {error}.") from error
    try:
        info = _checked_info(path, fp, name, limits)
        data_offset = _data_offset(fp, info, fp.seek(0, io.SEEK_END))
        fp.seek(data_offset)
    except BaseException:
        fp.close()
        raise
    return MemberStream(fp, info, limits, verify_crc=verify_crc)


def _checked_info(path: Path, fp: BinaryIO, name: str, limits: ArchiveLimits) -> zipfile.ZipInfo:
    """The member's central directory entry, refused when it is unsafe to read."""
    opened = _open_zip(path, fp)
    if isinstance(opened, Problem):
        raise ArchiveReadError(opened.kind, name, opened.detail)
    with opened:
        try:
            info = opened.getinfo(name)
        except KeyError:
            raise ArchiveReadError(
                "not-found", name, f"'{name}' is not in {path}; check the zip's contents."
            ) from None
    refusal = next(
        (
            problem
            for problem in _entry_problems(info, limits)
            if problem.kind in {"encrypted", "unsupported-compression", "zip-bomb-ratio"}
        ),
        None,
    )
    if refusal is not None:
        raise ArchiveReadError(refusal.kind, name, refusal.detail)
    if info.file_size > limits.max_uncompressed:
        raise _too_large(name, info.file_size, limits.max_uncompressed, "archive.max_uncompressed")
    return info


def _too_large(name: str, size: int, limit: int, setting: str) -> ArchiveReadError:
    return ArchiveReadError(
        "too-large",
        name,
        f"'{name}' expands to more than {limit:,} bytes (at least {size:,}); {setting} stops it "
        "from filling the disk or memory, check the zip's origin.",
    )


class MemberStream(io.BufferedIOBase, BinaryIO):
    """The decompressed bytes of one member, checked on every ``read()`` call.

    Reading is done directly from the file at the member's data offset with
    zlib, rather than through ``zipfile.ZipExtFile``, because ZipExtFile
    silently stops at the declared size: a central directory that understates
    a member would hide the rest of the data instead of being reported.  The
    per-call cost is a few integer comparisons and one C-level crc32.  It is
    also typed as a ``BinaryIO`` (as typeshed does for ``io.BufferedReader``)
    so that it can be handed to parsers and ``io.TextIOWrapper`` unchanged.
    """

    def __init__(
        self,
        fp: BinaryIO,
        info: zipfile.ZipInfo,
        limits: ArchiveLimits,
        *,
        verify_crc: bool = True,
    ) -> None:
        super().__init__()
        self._fp = fp
        self._name = info.filename
        self._declared = info.file_size
        #: None: the CRC is not computed (see :func:`open_member`)
        self._expected_crc: int | None = info.CRC if verify_crc else None
        self._max_ratio = limits.max_ratio
        self._max_output = min(info.file_size, limits.max_uncompressed)
        self._max_uncompressed = limits.max_uncompressed
        self._compressed_left = info.compress_size
        self._compressed_read = 0
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS) if info.compress_type else None
        self._pending = b""
        self._produced = 0
        self._crc = 0
        self._finished = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(OUTPUT_CHUNK), b""))
        parts: list[bytes] = []
        wanted = size
        while wanted > 0:
            part = self._next(wanted)
            if not part:
                break
            parts.append(part)
            wanted -= len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read1(self, size: int = -1) -> bytes:
        return self._next(OUTPUT_CHUNK if size < 0 else size) if size else b""

    def close(self) -> None:
        self._fp.close()
        super().close()

    def _next(self, wanted: int) -> bytes:
        """Up to ``wanted`` decompressed bytes, or b"" once the member ended cleanly."""
        try:
            while not self._finished:
                if self._needs_input(wanted):
                    self._pending += self._read_compressed(wanted)
                output = self._produce(wanted)
                if output:
                    self._account(output)
                    return output
                if not self._pending and not self._compressed_left:
                    self._finish()
            return b""
        except (zlib.error, EOFError, zipfile.BadZipFile) as error:
            raise ArchiveReadError(
                "truncated",
                self._name,
                f"'{self._name}' is damaged ({error}); copy the zip again or take a new backup.",
            ) from error

    def _needs_input(self, wanted: int) -> bool:
        """Top up the compressed input before it runs short, so that one
        decompress call usually fills the whole read: joining compressed
        bytes is far cheaper than joining the (larger) output."""
        if not self._compressed_left:
            return False
        if self._inflater is None:
            return not self._pending
        return len(self._pending) < max(wanted // 4, 1)

    def _read_compressed(self, wanted: int) -> bytes:
        # Stored data is read exactly as asked, so it is returned without slicing.
        step = max(wanted // 4, MIN_COMPRESSED_STEP) if self._inflater is not None else wanted
        chunk = self._fp.read(min(step, self._compressed_left))
        if not chunk:
            raise ArchiveReadError(
                "truncated",
                self._name,
                f"'{self._name}' ends before its declared compressed size; the zip is "
                "truncated, copy it again.",
            )
        self._compressed_left -= len(chunk)
        self._compressed_read += len(chunk)
        return chunk

    def _produce(self, wanted: int) -> bytes:
        pending = self._pending
        if self._inflater is None:
            self._pending = pending[wanted:]
            return pending[:wanted] if len(pending) > wanted else pending
        output = self._inflater.decompress(pending, wanted)
        self._pending = self._inflater.unconsumed_tail
        if self._inflater.eof:
            # Anything after the end of the deflate stream is not member data.
            self._pending = b""
            self._compressed_left = 0
        return output

    def _account(self, output: bytes) -> None:
        self._produced += len(output)
        if self._expected_crc is not None:
            self._crc = zlib.crc32(output, self._crc)
        if self._produced > self._max_output:
            if self._produced > self._max_uncompressed:
                setting = "archive.max_uncompressed"
                limit = self._max_uncompressed
            else:
                setting = "the central directory's declared size"
                limit = self._declared
            raise _too_large(self._name, self._produced, limit, setting)
        if self._produced > STREAM_RATIO_GRACE:
            consumed = self._compressed_read - len(self._pending)
            if self._produced > self._max_ratio * max(consumed, 1):
                raise ArchiveReadError(
                    "zip-bomb-ratio",
                    self._name,
                    f"'{self._name}' expanded to {self._produced:,} bytes from {consumed:,} "
                    f"compressed, over the ratio limit of {self._max_ratio}; check where the "
                    "zip came from, or raise archive.max_ratio if the file is genuine.",
                )

    def _finish(self) -> None:
        """The compressed data is used up: the member must be complete and intact."""
        self._finished = True
        if self._inflater is not None and not self._inflater.eof:
            raise ArchiveReadError(
                "truncated",
                self._name,
                f"'{self._name}' stops in the middle of its compressed data; the zip is "
                "truncated, copy it again.",
            )
        if self._produced != self._declared:
            raise _mismatch(
                self._name,
                f"it holds {self._produced:,} bytes but the central directory declares "
                f"{self._declared:,}",
            )
        if self._expected_crc is not None and self._crc != self._expected_crc:
            raise ArchiveReadError(
                "bad-crc",
                self._name,
                f"'{self._name}' fails its CRC check, so its content is corrupt; copy the zip "
                "again or take a new backup.",
            )


# --------------------------------------------------------------------------- backup layout


@dataclass(frozen=True)
class _Expected:
    """One of the two files a site backup must hold at its root."""

    name: str
    label: str
    marker: bytes


_ENTITIES = _Expected("entities.xml", "entity", b"<entity-engine-xml")
_ACTIVE_OBJECTS = _Expected("activeobjects.xml", "Active Objects", b"http://www.atlassian.com/ao")


def locate_backup_files(
    inspection: Inspection, limits: ArchiveLimits | None = None
) -> BackupLayout:
    """Find entities.xml and activeobjects.xml, explaining how a misplaced one went wrong."""
    limits = limits or ArchiveLimits()
    problems: list[Problem] = []
    entities = _locate(inspection, _ENTITIES, limits, problems)
    activeobjects = _locate(inspection, _ACTIVE_OBJECTS, limits, problems)
    return BackupLayout(entities, activeobjects, problems)


def _locate(
    inspection: Inspection, expected: _Expected, limits: ArchiveLimits, problems: list[Problem]
) -> str | None:
    member = inspection.member(expected.name)
    if member is not None and not member.is_dir:
        return expected.name
    key = expected.name.removesuffix(".xml")
    files = [member for member in inspection.members if not member.is_dir]
    nested = next((m.name for m in files if m.name.rsplit("/", 1)[-1] == expected.name), None)
    if nested is not None:
        folder = nested.rsplit("/", 1)[0] + "/"
        problems.append(
            Problem(
                f"{key}-nested",
                nested,
                f"{expected.name} is inside the folder '{folder}': you zipped the folder; zip "
                f"the files themselves, e.g. `cd {folder.rstrip('/')} && zip "
                "../site-backup.zip entities.xml activeobjects.xml`",
            )
        )
        return None
    misnamed = _find_misnamed(inspection, files, expected, limits)
    if not inspection.readable:
        detail = (
            f"{expected.name} cannot be looked for because the zip itself cannot be read; fix "
            "the archive's problems first"
        )
    elif misnamed is not None:
        detail = (
            f"the {expected.label} file is called '{misnamed}'; Cloud's import needs it named "
            f"{expected.name} at the zip root"
        )
    else:
        detail = (
            f"the zip has no {expected.name}; take a new backup with Administration > System > "
            "Backup system, which writes entities.xml and activeobjects.xml at the zip root"
        )
    problems.append(Problem(f"{key}-missing", misnamed, detail))
    return None


def _find_misnamed(
    inspection: Inspection, files: list[Member], expected: _Expected, limits: ArchiveLimits
) -> str | None:
    """A root-level XML file whose first bytes show it is the expected file under another name."""
    if not inspection.readable:
        return None
    for member in files:
        if "/" in member.name or not member.name.lower().endswith(".xml"):
            continue
        try:
            with open_member(inspection.path, member.name, limits) as stream:
                head = stream.read(SNIFF_BYTES)
        except ArchiveReadError:
            continue
        if expected.marker in head:
            return member.name
    return None
