"""``jiramigrate clean-xml``: write a copy of a site backup without the characters XML forbids.

Atlassian's advice for a backup that fails ``xml-valid-characters`` is to
unzip it, run a Java jar over entities.xml, rename the output and zip it
again by hand, and that re-zip is where entities.xml most often ends up in a
folder.  This command streams ``entities.xml`` and ``activeobjects.xml`` out
of the backup zip straight into a new zip (both at its root), removing or
replacing every character :mod:`pytest_jiramigrate.scan.xmlchars` finds,
and copies every other member unchanged.  Nothing is extracted to disk and
the input is never written.  Every other byte of the XML stays as it was.

The copy is written as ``<out>.partial`` and renamed only when complete.
With ``--log`` every change is listed (file, line, column, what it was, and
the row it sat in, with the issue key for issues and comments).

``clean-xml`` is the shorthand of ``jiramigrate fix`` with only the
``characters`` fix and without the two checks: both stream through
:func:`copy_backup` and :func:`clean_stream`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.core.outputs import OutputError, check_output
from pytest_jiramigrate.report.exports import write_csv_atomically
from pytest_jiramigrate.rules.base import plural
from pytest_jiramigrate.scan.archive import (
    ArchiveReadError,
    inspect_zip,
    locate_backup_files,
    open_member,
)
from pytest_jiramigrate.scan.entities import declared_encoding
from pytest_jiramigrate.scan.xmlchars import BadChar, CharScanner, is_xml_char

#: read and write in blocks of this size: large enough for C-speed passes, flat memory
BLOCK = 1024 * 1024
XML_FILES = ("entities.xml", "activeobjects.xml")
ZIP64_EXTRA = 0x0001
#: characters that would change the markup if they replaced a forbidden one
MARKUP_CHARACTERS = frozenset("<>&\"'")
#: in Jira's layout every row of entities.xml starts a line indented by four spaces
ROW_START = b"\n    <"
_TAG_AT = len(ROW_START) - 1  # where the ``<`` is in a match of ROW_START
#: enough of a row's start tag to hold the attributes the log needs (``id``, ``issue``)
ROW_HEAD = 4096
_ROW_TAG = re.compile(rb"<([A-Za-z_][\w.\-]*)((?:\s[^>]*)?)")
_ATTRIBUTE_TEXT = re.compile(r'\s([\w.:\-]+)="([^"]*)"')
_KEY_ROWS = re.compile(rb"\n    <(Issue|Project)(\s[^>]*)>")
_ROW_ID = re.compile(rb'\sid="([^"]*)"')
#: the five predefined entities and character references: all an attribute value can hold
_XML_ESCAPE = re.compile(r"&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);")
_NAMED_ESCAPES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


class ByteSource(Protocol):
    """Where XML is read from: an inflating zip member, or one with its first bytes put back."""

    def read(self, size: int = -1, /) -> bytes: ...


class ByteSink(Protocol):
    """Where rewritten XML goes: a zip member being written, or a filter in front of one."""

    def write(self, data: bytes, /) -> object: ...


class CleanError(Exception):
    """The copy cannot be written; the message is one line for the user."""


@dataclass(frozen=True)
class Change:
    """One forbidden character removed or replaced, and the row it sat in."""

    file: str
    offset: int
    line: int
    column: int
    kind: str
    codepoint: int | None
    raw: bytes
    entity: str | None
    entity_id: str | None
    #: the issue a comment (``Action``) belongs to; the row's own id for an ``Issue``
    issue_id: str | None = None
    issue_key: str | None = None

    def record(self) -> dict[str, str | int]:
        """The change as one row of the log; bytes in hex, code points as ``U+XXXX``."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "offset": self.offset,
            "kind": self.kind,
            "codepoint": "" if self.codepoint is None else f"U+{self.codepoint:04X}",
            "bytes": self.raw.hex(" "),
            "entity": self.entity or "",
            "entity_id": self.entity_id or "",
            "issue_key": self.issue_key or "",
        }


LOG_FIELDS = tuple(
    Change("", 0, 0, 0, "", None, b"", None, None).record()  # the column order of the CSV
)


# --------------------------------------------------------------------------- rows


def xml_unescape(text: str) -> str:
    """An attribute value as the XML parser reads it: ``&quot;`` is ``"``, ``&#65;`` is ``A``.

    A character reference to a code point Python cannot hold is left as written.
    """

    def character(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in _NAMED_ESCAPES:
            return _NAMED_ESCAPES[name]
        try:
            return chr(int(name[2:], 16) if name[1] in "xX" else int(name[1:]))
        except (ValueError, OverflowError):
            return match.group(0)

    return _XML_ESCAPE.sub(character, text) if "&" in text else text


def attribute_values(attributes_text: bytes, encoding: str = "utf-8") -> dict[str, str]:
    """The attributes of a start tag, unescaped, by name (a tag without ``&`` needs no
    unescaping, which spares a call per attribute on the rows the fixes take stock of)."""
    text = attributes_text.decode(encoding, "replace")
    pairs = _ATTRIBUTE_TEXT.findall(text)
    if "&" not in text:
        return dict(pairs)
    return {name: xml_unescape(value) for name, value in pairs}


def row_attributes(head: bytes) -> tuple[str | None, dict[str, str]]:
    """The element name and attributes of a row's start tag (possibly cut short)."""
    match = _ROW_TAG.match(head)
    if match is None:
        return None, {}
    return match.group(1).decode("ascii", "replace"), attribute_values(match.group(2))


class RowTracker:
    """Which depth-one row a position of entities.xml lies in, at almost no cost.

    Only the start of the last row of each block is kept (one ``rfind`` per
    block); the row of a forbidden character is looked up only when one is
    found, which is rare.  It relies on Jira's layout (rows at four spaces);
    a line of CDATA text that starts with four spaces and a tag would be taken
    for a row, which only makes the log name the wrong row.
    """

    def __init__(self) -> None:
        self._head = b""  # start tag of the last row before the current block
        self._tail = b""  # end of the previous block, for a row start cut in two

    def begin(self, block: bytes) -> None:
        """Complete what is known from the previous block with the start of ``block``."""
        joint = self._tail + block[:_TAG_AT]
        cut = joint.find(ROW_START)
        if cut >= 0:
            self._head = block[cut + _TAG_AT - len(self._tail) :][:ROW_HEAD]
        elif self._head and len(self._head) < ROW_HEAD and b">" not in self._head:
            self._head = (self._head + block)[:ROW_HEAD]

    def enclosing(self, block: bytes, position: int) -> tuple[str | None, dict[str, str]]:
        """The row that the byte at ``position`` of ``block`` lies in."""
        start = block.rfind(ROW_START, 0, position)
        head = block[start + _TAG_AT : start + _TAG_AT + ROW_HEAD] if start >= 0 else self._head
        return row_attributes(head)

    def end(self, block: bytes) -> None:
        """Remember the last row that starts in ``block``."""
        start = block.rfind(ROW_START)
        if start >= 0:
            self._head = block[start + _TAG_AT : start + _TAG_AT + ROW_HEAD]
        self._tail = block[-_TAG_AT:]


def _change(file: str, bad: BadChar, entity: str | None, attributes: dict[str, str]) -> Change:
    issue_id = {"Issue": attributes.get("id"), "Action": attributes.get("issue")}.get(entity or "")
    issue_key = (attributes.get("key") or attributes.get("pkey")) if entity == "Issue" else None
    return Change(
        file=file,
        offset=bad.offset,
        line=bad.line,
        column=bad.column,
        kind=bad.kind,
        codepoint=bad.codepoint,
        raw=bad.raw,
        entity=entity,
        entity_id=attributes.get("id"),
        issue_id=issue_id,
        issue_key=issue_key or None,
    )


# --------------------------------------------------------------------------- cleaning


def clean_stream(source: ByteSource, sink: ByteSink, file: str, replacement: str) -> list[Change]:
    """Copy one XML stream without its forbidden characters; the changes made.

    The scanner masks each forbidden character with ``?`` of the same byte
    length; the bytes between the recorded spans are therefore the original
    bytes, and each span is written as ``replacement`` (or nothing).
    """
    block = source.read(BLOCK)
    encoding, bom = declared_encoding(block)
    if bom == "UTF-16":
        raise CleanError(f"{file} is UTF-16 encoded; Jira writes UTF-8 and this tool cleans UTF-8")
    try:
        substitute = replacement.encode(encoding)
    except LookupError:
        raise CleanError(f"{file} declares an unknown encoding '{encoding}'") from None
    except UnicodeEncodeError:
        raise CleanError(f"--replace {replacement!r} cannot be written in {encoding}") from None
    scanner = CharScanner(encoding)
    rows = RowTracker()
    changes: list[Change] = []
    segment_start = 0  # the scanner hands back consecutive segments of the input
    while block:
        masked, bad = scanner.feed(block)
        changes += _write_segment(sink, masked, segment_start, bad, substitute, rows, file)
        segment_start += len(masked)
        block = source.read(BLOCK)
    masked, bad = scanner.finish()
    changes += _write_segment(sink, masked, segment_start, bad, substitute, rows, file)
    return changes


def _write_segment(
    sink: ByteSink,
    masked: bytes,
    segment_start: int,
    bad: list[BadChar],
    substitute: bytes,
    rows: RowTracker,
    file: str,
) -> list[Change]:
    rows.begin(masked)
    if not bad:
        sink.write(masked)
        rows.end(masked)
        return []
    changes: list[Change] = []
    written = 0
    for char in bad:
        start = char.offset - segment_start
        sink.write(masked[written:start] + substitute)
        written = start + len(char.raw)
        changes.append(_change(file, char, *rows.enclosing(masked, start)))
    sink.write(masked[written:])
    rows.end(masked)
    return changes


#: deflate level of the cleaned XML: level 1 keeps cleaning faster than the
#: readiness scan; Jira writes level 6, about a quarter smaller and three times slower
DEFAULT_LEVEL = 1


def clean_backup(
    source: Path,
    out: Path,
    replacement: str = "",
    limits: ArchiveLimits | None = None,
    level: int = DEFAULT_LEVEL,
) -> list[Change]:
    """Write ``out``: ``source`` with the forbidden characters of its XML removed or replaced.

    entities.xml and activeobjects.xml go to the root of ``out`` even when
    they sat in a folder of ``source``; every other member is copied with its
    name, date and compression.  ``out`` is written as ``<out>.partial`` and
    renamed when complete; on any error the partial file is removed.
    """
    changes: list[Change] = []

    def clean(name: str, stream: BinaryIO, sink: ByteSink) -> None:
        changes.extend(clean_stream(stream, sink, name, replacement))

    copy_backup(source, out, clean, limits, level)
    return changes


#: rewrites one XML member: its root name, the inflating source and the deflating sink
XmlRewrite = Callable[[str, BinaryIO, ByteSink], None]


def partial_path(out: Path) -> Path:
    """The work file a copy is written to before it is renamed to ``out``."""
    return out.with_name(out.name + ".partial")


def copy_backup(
    source: Path,
    out: Path,
    rewrite: XmlRewrite,
    limits: ArchiveLimits | None = None,
    level: int = DEFAULT_LEVEL,
) -> None:
    """Write ``out``: ``source`` with each XML member passed through ``rewrite``.

    What clean-xml and fix share: the XML goes to the root of ``out``, every
    other member is copied with its name, date and compression, and the copy
    is written as ``<out>.partial``, renamed when complete and removed on any
    error.
    """
    limits = limits or ArchiveLimits()
    members = backup_members(source, limits)
    partial = partial_path(out)
    try:
        with (
            zipfile.ZipFile(source) as archive,
            zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as writer,
        ):
            for original in archive.infolist():
                target = members.get(original.filename)
                if target is None:
                    _copy_member(archive, original, writer)
                    continue
                info = _entry_like(original, target)
                _deflate(info, level)
                with (
                    open_member(source, original.filename, limits) as stream,
                    writer.open(info, "w", force_zip64=True) as sink,
                ):
                    rewrite(target, stream, sink)
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def backup_members(source: Path, limits: ArchiveLimits) -> dict[str, str]:
    """The backup's XML members, each mapped to the root name it gets in the copy."""
    inspection = inspect_zip(source, limits)
    if not inspection.readable:
        details = "; ".join(problem.detail for problem in inspection.problems)
        raise CleanError(f"{source} cannot be read as a zip: {details}")
    layout = locate_backup_files(inspection, limits)
    members = {
        member: name
        for member, name in zip(
            (layout.readable_member("entities"), layout.readable_member("activeobjects")),
            XML_FILES,
            strict=True,
        )
        if member is not None
    }
    if "entities.xml" not in members.values():
        raise CleanError(f"{source} holds no entities.xml: is it a Jira site backup?")
    return members


def _entry_like(original: zipfile.ZipInfo, name: str) -> zipfile.ZipInfo:
    """A new entry called ``name`` with the original's date, attributes, comment and extras.

    The extra fields carry the exact (UTC) modification time that unzip shows;
    only the Zip64 field is dropped, because zipfile writes its own.
    """
    info = zipfile.ZipInfo(name, date_time=original.date_time)
    info.external_attr = original.external_attr
    info.create_system = original.create_system
    info.comment = original.comment
    info.extra = without_zip64(original.extra)
    return info


def _deflate(info: zipfile.ZipInfo, level: int) -> None:
    """Deflate this entry at ``level``: ZipFile.open(info, "w") takes the level from the entry,
    which names it ``compress_level`` from Python 3.13 and ``_compresslevel`` before."""
    info.compress_type = zipfile.ZIP_DEFLATED
    setattr(info, "compress_level" if hasattr(info, "compress_level") else "_compresslevel", level)


def without_zip64(extra: bytes) -> bytes:
    """The extra fields of a zip entry, less any Zip64 field (header id 1)."""
    kept: list[bytes] = []
    position = 0
    while position + 4 <= len(extra):
        header_id, size = struct.unpack_from("<HH", extra, position)
        field = extra[position : position + 4 + size]
        if header_id != ZIP64_EXTRA:
            kept.append(field)
        position += 4 + size
    return b"".join(kept)


def _copy_member(
    archive: zipfile.ZipFile, original: zipfile.ZipInfo, writer: zipfile.ZipFile
) -> None:
    """Copy one member that needs no cleaning: same name, date, attributes and method."""
    info = _entry_like(original, original.filename)
    info.compress_type = original.compress_type
    info.file_size = original.file_size  # lets zipfile choose Zip64 for a big member
    if original.is_dir():
        writer.writestr(info, b"")
        return
    with archive.open(original) as stream, writer.open(info, "w") as sink:
        shutil.copyfileobj(stream, sink, BLOCK)


# --------------------------------------------------------------------------- issue keys


def resolve_issue_keys(
    source: Path, changes: list[Change], limits: ArchiveLimits | None = None
) -> list[Change]:
    """The changes with the issue key of each issue and comment filled in.

    One more streaming pass over the source's entities.xml (inflate and a
    regex per block, no parsing) reads only the ``Issue`` and ``Project``
    rows whose ids the changes name, and stops as soon as all are found.
    Collecting id-to-key maps during the cleaning pass instead would hold
    every issue of the site in memory (rows come before or after the
    comments that need them depending on the entity order), and a second
    pass is needed only when there is something to log.
    """
    wanted = {
        c.issue_id for c in changes if c.issue_id and not c.issue_key and c.file == XML_FILES[0]
    }
    keys: dict[str, str] = {}
    if wanted:
        limits = limits or ArchiveLimits()
        entities = next(
            m for m, name in backup_members(source, limits).items() if name == XML_FILES[0]
        )
        with open_member(source, entities, limits) as stream:
            keys = issue_keys(_blocks(stream), wanted)
    return [
        replace(change, issue_key=keys.get(change.issue_id)) if change.issue_id in keys else change
        for change in changes
    ]


def _blocks(stream: BinaryIO) -> Iterator[bytes]:
    while block := stream.read(BLOCK):
        yield block


def issue_keys(blocks: Iterable[bytes], wanted: set[str]) -> dict[str, str]:
    """Issue id to key for the ``wanted`` ids, from the Issue and Project rows of entities.xml.

    An Issue row carries its key (``key``, ``pkey`` before 6.1) or its
    ``project`` and ``number``; the project's key is on its Project row, so
    every project's key is kept (a site has at most thousands).  Memory is
    bounded by the longest line, which is carried into the next block.
    """
    direct: dict[str, str] = {}
    numbered: dict[str, tuple[str, str]] = {}
    projects: dict[str, str] = {}
    carry = b""
    for block in blocks:
        buffer = carry + block
        for entity, attributes_text in _KEY_ROWS.findall(buffer):
            if entity == b"Issue" and not _is_wanted(attributes_text, wanted):
                continue
            attributes = attribute_values(attributes_text)
            row_id = attributes.get("id", "")
            if entity == b"Project":
                projects[row_id] = attributes.get("key", "")
            elif row_id in wanted:
                key = attributes.get("key") or attributes.get("pkey")
                if key:
                    direct[row_id] = key
                else:
                    numbered[row_id] = (attributes.get("project", ""), attributes.get("number", ""))
        if wanted <= direct.keys():
            break
        newline = buffer.rfind(b"\n")
        carry = buffer[newline:] if newline >= 0 else buffer  # a row cut at the end: read again
    keys = dict(direct)
    for issue_id, (project, number) in numbered.items():
        if projects.get(project) and number:
            keys[issue_id] = f"{projects[project]}-{number}"
    return keys


def _is_wanted(attributes_text: bytes, wanted: set[str]) -> bool:
    """Whether a row's ``id`` may be one of ``wanted``, read without parsing the row.

    Most issues are not wanted; a row without an id, or with one written with a
    reference (never by Jira), is parsed to be sure.
    """
    ids = _ROW_ID.findall(attributes_text)
    return not ids or any(b"&" in i or i.decode("utf-8", "replace") in wanted for i in ids)


# --------------------------------------------------------------------------- log


def write_log(changes: list[Change], path: Path) -> None:
    """The changes as CSV with a header, or as a JSON list when ``path`` ends in ``.json``.

    The CSV goes through the exports' spreadsheet-safe writer: issue keys and
    ids come from the backup, and a cell starting with ``=`` must not run as a
    formula when the log is opened in a spreadsheet.
    """
    records = [change.record() for change in changes]
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
        return
    write_csv_atomically(path, LOG_FIELDS, records)


# --------------------------------------------------------------------------- command line


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "clean-xml",
        help="write a copy of a site backup without the characters XML 1.0 forbids",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("source", type=Path, metavar="BACKUP", help="the site backup zip")
    parser.add_argument("--out", type=Path, required=True, help="the cleaned copy to write")
    parser.add_argument(
        "--replace",
        type=replacement_character,
        default="",  # argparse passes a string default through ``type``: "" means remove
        metavar="CHAR",
        help="write this character instead of each forbidden one (default: remove them)",
    )
    parser.add_argument(
        "--log", type=Path, help="list every change in this file (.csv, or .json for JSON)"
    )
    parser.add_argument(
        "--level",
        type=int,
        choices=range(1, 10),
        default=DEFAULT_LEVEL,
        metavar="1-9",
        help=f"deflate level of the cleaned XML (default {DEFAULT_LEVEL}, the fastest; "
        "6 is what Jira writes: about a quarter smaller, three times slower)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite --out and --log")
    parser.set_defaults(handler=run)


def replacement_character(text: str) -> str:
    """``--replace``: one character that XML allows and that cannot change the markup."""
    if text == "":
        return text
    if len(text) != 1 or not is_xml_char(ord(text)) or text in MARKUP_CHARACTERS:
        raise argparse.ArgumentTypeError(
            f"{text!r} must be a single character XML allows, other than < > & \" '"
        )
    return text


def run(args: argparse.Namespace) -> int:
    """Clean, report the count, and write the log; 2 with a one-line message on any failure."""
    try:
        refuse_unsafe_outputs(args.source, [args.out, args.log], args.force)
        moves = {m: t for m, t in backup_members(args.source, ArchiveLimits()).items() if m != t}
        changes = clean_backup(args.source, args.out, args.replace, level=args.level)
        if args.log is not None:
            write_log(resolve_issue_keys(args.source, changes), args.log)
    except (CleanError, ArchiveReadError, OutputError) as error:
        return _fail(str(error))
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as error:
        return _fail(f"{type(error).__name__}: {error}")
    done = "replaced" if args.replace else "removed"
    by_file = ", ".join(f"{file}: {sum(c.file == file for c in changes)}" for file in XML_FILES)
    print(f"{done} {plural(len(changes), 'forbidden character')} ({by_file}); wrote {args.out}")
    for member, target in moves.items():
        print(f"wrote {member} as {target} at the root of {args.out}")
    if args.log is not None:
        print(f"listed every change in {args.log}")
    return 0


def refuse_unsafe_outputs(
    source: Path, outputs: Iterable[Path | None], force: bool, inputs: Iterable[Path] = ()
) -> None:
    """Refuse, before any work, outputs that are inputs or that exist without ``--force``.

    The first output is the zip: its ``.partial`` work file is an output too,
    and must not be the source either (``clean-xml SRC.partial --out SRC``
    would otherwise truncate the source and then delete it).
    """
    given = [path for path in outputs if path is not None]
    every_input = [source, *inputs]
    checked = [*given, partial_path(given[0])] if given else []
    resolved = [check_output(path, every_input) for path in checked]
    if len(set(resolved)) != len(resolved):
        raise OutputError("two outputs name the same file; give each its own name")
    for target in given:
        if target.exists() and not force:
            raise OutputError(f"{target} already exists; choose another name or pass --force")


def _fail(message: str) -> int:
    print(f"jiramigrate clean-xml: {message}", file=sys.stderr)
    return 2
