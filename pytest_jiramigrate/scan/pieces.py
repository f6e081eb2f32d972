"""The fast scan of entities.xml: row-aligned pieces parsed on every core.

Jira writes one row per element directly under the root, each starting a line
indented by four spaces.  That makes the stream cheap to cut into pieces that
hold whole rows: cut before ``\\n    <Name`` where no CDATA section or comment is
open.  Each piece is wrapped in a root element of its own and parsed by a
worker process in one C call (lxml, the same hardened options as the reference
scan); only rows of the entities the rules need become Python objects.  Every
byte still goes through the forbidden-character scanner and the XML parser, so
``xml-well-formed`` and ``xml-valid-characters`` cover the whole file.  The
main process cuts the stream (a thread of its own inflates the zip member
ahead of it) and copies the workers' rows, sent back as SQLite database
images, into the facts store in document order, so the facts equal those of
:class:`~pytest_jiramigrate.scan.entities.ReferenceScan` (a test checks this
on the real corpus and on every injected fault).

A piece whose parse fails is read again with the pull parser, which keeps the
rows before the error; nothing after the first error is taken as a fact.  A
valid file in another layout (``xmllint --format`` indents by two spaces,
other tools by tabs or not at all) has no cut points: once
:data:`UNCUT_LIMIT` bytes hold none, the rest of the file goes to the pull
parser too, in flat memory, instead of becoming one huge piece.
"""

from __future__ import annotations

import bisect
import itertools
import multiprocessing
import os
import queue
import re
import signal
import sqlite3
import sys
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import BinaryIO

from lxml import etree

from pytest_jiramigrate.scan.entities import (
    CHUNK,
    FILE,
    Header,
    ReferenceScan,
    RowReader,
    bad_char_row,
    blocks_of,
    declared_encoding,
    finish_entities,
    insert_rows,
    prolog_problems,
    tree_parser,
)
from pytest_jiramigrate.scan.xmlchars import BadChar, CharScanner

#: bytes per piece at most: large enough to amortise a process round trip (1 MB and
#: 8 MB pieces scan 400 MB equally fast), small enough that a worker stays
#: near 55 MB (a parsed piece costs about ten times its size)
PIECE = 1 << 20
#: bytes per piece at least, however many workers share the work
MIN_PIECE = 256 << 10
#: the bytes of all pieces in flight (queued for or parsed by a worker) together stay
#: near this once there are more workers than it holds pieces of PIECE bytes
IN_FLIGHT = 16 << 20
#: below this size the pieces are parsed in this process (no workers to start)
PARALLEL_FROM = 32 << 20
#: bytes without a cut point after which the rest is streamed through the reference scan:
#: a piece costs about ten times its size to parse, and a file not in Jira's layout has no
#: cut point at all (a single row this large is an attack, and streamed as well)
UNCUT_LIMIT = 16 << 20
ROOT = b"entity-engine-xml"
_ROOT_TAG = re.compile(rb"<entity-engine-xml(?:\s[^>]*)?>")
_ROW_START = b"\n    <"
#: a cut is never placed inside CDATA (where Jira's row layout can appear as text); a
#: cut inside a comment (Jira writes none between rows) would only make that piece fail to
#: parse, and the reference scan read on from it: slower, never wrong
_OPENERS = ((b"<![CDATA[", b"]]>"),)
#: a piece other than the first is wrapped in a root of its own, on a line of its own
PREFIX = b"<" + ROOT + b">\n"
SUFFIX = b"</" + ROOT + b">"

Rows = dict[str, list[tuple[object, ...]]]
#: workers hand their rows back as the image of an SQLite database (Python 3.11+), which
#: the main process copies into the store with ``INSERT ... SELECT``: no Python object
#: per row is unpickled or inserted there, which would be serial work more cores cannot share
IMAGES = sys.version_info >= (3, 11)
#: the schema the images are opened as, attached to the store's connection
IMAGE_SCHEMA = "fast_scan_piece"
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Piece:
    index: int
    data: bytes
    offset: int  # byte offset of data[0] in the file
    lines: int  # newlines before data[0]
    encoding: str
    first: bool
    last: bool
    #: no cut point was found: this piece and the rest of the stream go to the reference scan
    uncut: bool = False


@dataclass
class PieceResult:
    index: int
    tables: Rows = field(default_factory=dict)
    #: the rows as a serialized SQLite database, one table per facts table (see IMAGES)
    image: bytes | None = None
    image_tables: list[str] = field(default_factory=list)
    rows: Counter[str] = field(default_factory=Counter)
    bad: list[tuple[BadChar, str | None, str | None]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    root_date: str | None = None
    failed: bool = False
    last_row: tuple[str | None, str | None] = (None, None)


class Buffer:
    """A RowSink that keeps rows per table, to be sent back to the main process."""

    def __init__(self) -> None:
        self.tables: Rows = {}

    def add(self, table: str, row: tuple[object, ...]) -> None:
        self.tables.setdefault(table, []).append(row)


def _open_section(data: bytes, position: int) -> bool:
    """True when a CDATA section is open at ``position`` of ``data``, which starts outside
    one (at a piece boundary)."""
    for opener, closer in _OPENERS:
        first = data.find(opener, 0, position)
        if first >= 0 and data.rfind(opener, first, position) > data.rfind(closer, first, position):
            return True
    return False


def find_cut(data: bytes, low: int) -> int | None:
    """The last row start in ``data`` at or after ``low`` outside CDATA and comments.

    Returns the index just after the newline, so the piece ends with it.
    """
    position = len(data)
    while True:
        position = data.rfind(_ROW_START, low, position)
        if position < 0:
            return None
        follower = data[position + len(_ROW_START) : position + len(_ROW_START) + 1]
        if follower.isalpha() and not _open_section(data, position):
            return position + 1


def cut_pieces(
    blocks: Iterator[bytes], head: bytes, encoding: str, size: int | None = None
) -> Iterator[Piece]:
    """Cut the stream (``head`` then ``blocks``) into row-aligned pieces of about ``size``
    bytes (default :data:`PIECE`).

    When :data:`UNCUT_LIMIT` bytes hold no cut point, the last piece is
    ``uncut`` and the rest of ``blocks`` is left unread, for the reference scan.
    """
    size = PIECE if size is None else size
    root = _ROOT_TAG.search(head)
    low = root.end() if root else 0
    buffer, offset, lines, index = head, 0, 0, 0
    while True:
        buffer, exhausted = _fill(buffer, blocks, size)
        cut = None if exhausted else find_cut(buffer, max(low, len(buffer) // 2))
        if cut is None and not exhausted:
            cut = find_cut(buffer, low)
        if cut is None and not exhausted:  # no row starts in the whole buffer yet: read on
            if len(buffer) >= UNCUT_LIMIT:  # not Jira's layout, or one huge row: stream it
                yield Piece(index, buffer, offset, lines, encoding, index == 0, False, uncut=True)
                return
            buffer, exhausted = _fill(buffer, blocks, 2 * len(buffer))
            if not exhausted:
                continue
        if cut is None:
            yield Piece(index, buffer, offset, lines, encoding, index == 0, True)
            return
        data, buffer = buffer[:cut], buffer[cut:]
        yield Piece(index, data, offset, lines, encoding, index == 0, False)
        offset, lines, index, low = offset + len(data), lines + data.count(b"\n"), index + 1, 0


def _fill(buffer: bytes, blocks: Iterator[bytes], size: int) -> tuple[bytes, bool]:
    """Read blocks until ``buffer`` holds ``size`` bytes; True when the stream ended."""
    parts = [buffer]
    have = len(buffer)
    while have < size:
        block = next(blocks, b"")
        if not block:
            return b"".join(parts), True
        parts.append(block)
        have += len(block)
    return b"".join(parts), False


def scan_piece(piece: Piece, image: bool = False) -> PieceResult:
    """Parse one piece (in a worker): its rows, comments and forbidden characters.

    With ``image``, the rows come back as a serialized SQLite database (see
    :data:`IMAGES`). A piece that does not parse, or is ``uncut``, comes back with
    ``failed`` set and no facts: the main process reads on from it with the reference scan.
    """
    if piece.uncut:
        return PieceResult(piece.index, failed=True)
    chars = CharScanner(piece.encoding, offset=piece.offset, lines=piece.lines)
    masked, bad = chars.feed(piece.data)
    tail, more = chars.finish()
    prefix = b"" if piece.first else PREFIX
    suffix = b"" if piece.last else SUFFIX
    result = PieceResult(piece.index)
    parser = tree_parser(piece.encoding)
    try:
        for part in (prefix, masked, tail, suffix):  # fed in parts: no copy of the piece
            parser.feed(part)
        root = parser.close()
    except etree.XMLSyntaxError:
        result.failed = True
        return result
    buffer = Buffer()
    reader = RowReader(buffer, piece.lines - (0 if piece.first else 1))
    if piece.first:
        result.root_date = root.get("date")
        siblings = reversed(list(root.itersiblings(preceding=True)))
        result.comments += [s.text or "" for s in siblings if s.tag is etree.Comment]
    starts, owners = _read_rows(root, reader, result, want_starts=bool(bad or more))
    if piece.last:
        result.comments += [s.text or "" for s in root.itersiblings() if s.tag is etree.Comment]
    result.rows = reader.rows
    if image and buffer.tables:
        result.image, result.image_tables = rows_image(buffer.tables), list(buffer.tables)
    else:
        result.tables = buffer.tables
    result.bad = [_owner(b, starts, owners) for b in bad + more]
    return result


def rows_image(tables: Rows) -> bytes:
    """The rows as the image of an in-memory SQLite database: a table of untyped
    columns per facts table, rows in document order, so that the store converts
    the values exactly as if they were inserted one by one."""
    db = sqlite3.connect(":memory:")
    try:
        for table, rows in tables.items():
            columns = ", ".join(f"c{column}" for column in range(len(rows[0])))
            db.execute(f"CREATE TABLE {table} ({columns})")
            insert_rows(db, table, rows)
        db.commit()
        return serialize(db)
    finally:
        db.close()


def serialize(db: sqlite3.Connection) -> bytes:
    """The database's image (``Connection.serialize``, Python 3.11+)."""
    if sys.version_info >= (3, 11):
        return db.serialize()
    raise NotImplementedError("SQLite images need Python 3.11")  # IMAGES is False


def deserialize(db: sqlite3.Connection, image: bytes, schema: str) -> None:
    """Open ``image`` as ``schema`` of ``db`` (``Connection.deserialize``, Python 3.11+)."""
    if sys.version_info >= (3, 11):
        db.deserialize(image, name=schema)
    else:
        raise NotImplementedError("SQLite images need Python 3.11")  # IMAGES is False


def _read_rows(
    root: etree._Element, reader: RowReader, result: PieceResult, want_starts: bool
) -> tuple[list[int], list[tuple[str, str | None]]]:
    """Read every row; with ``want_starts``, also where each starts (to place characters).

    This loop runs once per row of the file: it does no more than count the
    rows no rule needs.
    """
    starts: list[int] = []
    owners: list[tuple[str, str | None]] = []
    rows, handlers = reader.rows, reader.handlers
    last = None
    for element in root:
        tag = element.tag
        if tag.__class__ is not str:
            if tag is etree.Comment:
                result.comments.append(element.text or "")
            continue
        last = element
        rows[tag] += 1
        handler = handlers.get(tag)
        if handler is not None:
            handler(reader, element)
        if want_starts:
            starts.append(reader.line(element))
            owners.append((tag, element.get("id")))
    if last is not None:
        result.last_row = (last.tag, last.get("id"))
    return starts, owners


def _owner(
    bad: BadChar, starts: list[int], owners: list[tuple[str, str | None]]
) -> tuple[BadChar, str | None, str | None]:
    """The row a character belongs to: the last row of the piece starting at or before it.

    None as the entity means "the previous piece's last row" (resolved by the
    main process, which knows it; none at all before the first row).
    """
    at = bisect.bisect_right(starts, bad.line)
    entity, entity_id = owners[at - 1] if at else (None, None)
    return bad, entity, entity_id


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity (``taskset``, a container's
    cpuset) where the platform tells it, else every core of the machine."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        return max(1, len(affinity(0)))
    return os.cpu_count() or 1


def piece_size(workers: int) -> int:
    """Bytes per piece for ``workers`` workers.

    Each worker has two pieces in flight, so the pieces shrink as workers are
    added: the bytes queued stay bounded, and so does the memory added per
    worker (a worker parses one piece at a time).
    """
    return min(PIECE, max(MIN_PIECE, IN_FLIGHT // (2 * workers)))


class FastScan:
    """Drive the pieces: cut here, parse in workers, write here in document order.

    ``workers``: the worker processes to parse in (default: one per available
    core); 1 parses every piece in this process.
    """

    def __init__(
        self, db: sqlite3.Connection, file: str = FILE, workers: int | None = None
    ) -> None:
        self.db = db
        self.file = file
        self.workers = workers if workers is not None else available_cores()
        self.image_attached = False
        #: images merged so far
        self.images = 0
        self.header = Header()
        self.rows: Counter[str] = Counter()
        self.last_row: tuple[str | None, str | None] = (None, None)

    def run(
        self, blocks: Iterator[bytes], size: int, progress: Progress | None = None
    ) -> str | None:
        head = next(blocks, b"")
        encoding, bom = declared_encoding(head)
        if bom == "UTF-16" or prolog_problems(head) or not _ROOT_TAG.search(head):
            return ReferenceScan(self.db, self.file).run(itertools.chain([head], blocks))
        pieces = cut_pieces(blocks, head, encoding, piece_size(self.workers))
        if progress is not None:
            pieces = _reporting(pieces, progress)
        reason = None
        results = self._results(pieces, parallel=size >= PARALLEL_FROM)
        for piece, result in results:
            if result.failed:  # the pieces cut after it, then what was never cut
                uncut = _reporting_blocks(blocks, progress, piece) if progress else blocks
                rest = itertools.chain((later.data for later, _ in results), uncut)
                reason = self._read_on(piece, rest)
                break
            self._take(result)
        finish_entities(self.db, self.file, self.rows, self.header)
        return reason

    def _results(
        self, pieces: Iterator[Piece], parallel: bool
    ) -> Iterator[tuple[Piece, PieceResult]]:
        """Each piece with its result, in order; parsed by the workers when it pays.

        A pool that cannot start or breaks (a restricted sandbox, a killed
        worker) costs speed, not results: its pieces are parsed here.
        """
        workers = self.workers
        if not parallel or workers < 2:
            for piece in pieces:
                yield piece, scan_piece(piece)
            return
        pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=ignore_interrupts,
        )
        try:
            pending: deque[tuple[Piece, Future[PieceResult] | None]] = deque()
            for piece in pieces:
                pending.append((piece, _submit(pool, piece)))
                if len(pending) > 2 * workers:
                    yield _collect(*pending.popleft())
            while pending:
                yield _collect(*pending.popleft())
        finally:
            pool.shutdown(cancel_futures=True)

    def _take(self, result: PieceResult) -> None:
        """Write one piece's facts."""
        if result.root_date and "backup_date" not in self.header.values:
            self.header.values["backup_date"] = result.root_date
        for comment in result.comments:
            self.header.read_comment(comment)
        for table, rows in result.tables.items():
            insert_rows(self.db, table, rows)
        if result.image is not None:
            self._merge(result.image, result.image_tables)
        self.rows.update(result.rows)
        problems = [
            bad_char_row(self.file, bad, *((entity, entity_id) if entity else self.last_row))
            for bad, entity, entity_id in result.bad
        ]
        if problems:
            insert_rows(self.db, "xml_problem", problems)
        if result.last_row != (None, None):
            self.last_row = result.last_row

    def _merge(self, image: bytes, tables: list[str]) -> None:
        """Copy a worker's rows into the store, in document order, without a Python object
        per row: the image is opened as a schema attached to the store's connection.

        The schema stays attached (SQLite cannot detach it inside the scan's
        transaction); it holds one piece's rows at most, and goes with the connection.
        """
        if not self.image_attached:
            attached = {row[1] for row in self.db.execute("PRAGMA database_list")}
            if IMAGE_SCHEMA not in attached:  # by an earlier scan on this connection
                self.db.execute(f"ATTACH DATABASE ':memory:' AS {IMAGE_SCHEMA}")
            self.image_attached = True
        deserialize(self.db, image, IMAGE_SCHEMA)
        self.images += 1
        for table in tables:
            # one statement text per image: each image lays its tables out anew, and a
            # statement sqlite3 cached for an earlier image with the same schema version
            # would read that image's root pages (found as "database disk image is malformed")
            self.db.execute(
                f"INSERT INTO main.{table} SELECT * FROM {IMAGE_SCHEMA}.{table} ORDER BY rowid"
                f" -- image {self.images}"
            )

    def _read_on(self, piece: Piece, later: Iterator[bytes]) -> str | None:
        """From a piece that does not parse to the end, parse as one stream, as the reference
        scan does, so that the error is found where a whole-file parse finds it."""
        prefix = b"" if piece.first else PREFIX
        scan = ReferenceScan(
            self.db,
            self.file,
            line_offset=piece.lines - len(prefix.splitlines()),
            row=self.last_row,
            header=self.header,
        )
        chars = CharScanner(
            piece.encoding, offset=piece.offset - len(prefix), lines=scan.reader.line_offset
        )
        blocks = itertools.chain([prefix], _slices(piece.data), later)
        reason = scan.parse(blocks, chars, None if piece.first else piece.encoding)
        self.rows.update(scan.reader.rows)
        return reason


def _slices(data: bytes) -> Iterator[bytes]:
    """``data`` in blocks of the size the reference scan reads: libxml2's push parser refuses
    more than 10 MB fed at once ("Buffer size limit exceeded"), and an uncut piece is larger."""
    view = memoryview(data)
    for start in range(0, len(data), CHUNK):
        yield bytes(view[start : start + CHUNK])


def ignore_interrupts() -> None:
    """In a worker: leave Ctrl-C (sent to the whole process group) to the main process,
    which stops the scan and shuts the pool down; a worker killed mid-piece would only
    break the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _submit(pool: ProcessPoolExecutor, piece: Piece) -> Future[PieceResult] | None:
    if piece.uncut:  # nothing for a worker to parse: not worth sending it
        return None
    try:
        return pool.submit(scan_piece, piece, IMAGES)
    except (BrokenProcessPool, RuntimeError):
        return None


def _collect(piece: Piece, future: Future[PieceResult] | None) -> tuple[Piece, PieceResult]:
    if future is not None:
        try:
            return piece, future.result()
        except BrokenProcessPool:
            pass
    return piece, scan_piece(piece)


def _reporting(pieces: Iterator[Piece], progress: Progress) -> Iterator[Piece]:
    done = 0
    for piece in pieces:
        done += len(piece.data)
        progress(done)
        yield piece


def _reporting_blocks(blocks: Iterator[bytes], progress: Progress, after: Piece) -> Iterator[bytes]:
    """The blocks left uncut after the last piece, ``after``, with the progress they make."""
    done = after.offset + len(after.data)
    for block in blocks:
        done += len(block)
        progress(done)
        yield block


def scan_entities(
    stream: BinaryIO,
    db: sqlite3.Connection,
    size: int = 0,
    progress: Progress | None = None,
    workers: int | None = None,
) -> str | None:
    """Scan one entities.xml stream into ``db``; why it stopped early, or None.

    ``workers``: parse processes (default: one per available core; 1: none).
    """
    scan = FastScan(db, workers=workers)
    if scan.workers < 2 or size < PARALLEL_FROM:
        return scan.run(blocks_of(stream), size, progress)
    with ReadAhead(blocks_of(stream)) as blocks:
        return scan.run(blocks, size, progress)


class ReadAhead:
    """Inflate the next blocks in a thread of their own while this one cuts pieces and
    merges results: zlib, CRC32 and file reads release the GIL, so inflating leaves the
    main process's serial path (the part of the scan more workers cannot shorten).

    Leaving the ``with`` block stops the thread and waits for it, so the stream is
    never read after it is closed; an error reading it is raised to the reader.
    """

    DEPTH = 4
    _END = object()

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks
        self._queue: queue.Queue[object] = queue.Queue(self.DEPTH)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fill, name="jiramigrate-inflate", daemon=True)

    def __enter__(self) -> Iterator[bytes]:
        self._thread.start()
        return self._drain()

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _fill(self) -> None:
        try:
            for block in self._blocks:
                if not self._put(block):
                    return
        except BaseException as error:  # handed to the reader, raised there
            self._put(error)
            return
        self._put(self._END)

    def _put(self, item: object) -> bool:
        """Queue ``item`` unless the reader has gone; False when it has."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _drain(self) -> Iterator[bytes]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            yield item
