"""Writing entities.xml rows: escaping, CDATA, faulty and cut rows, and the streamed zip member."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

#: entities.xml beyond this size needs zip64 records
ZIP64_THRESHOLD = 1 << 30
_FLUSH_CHARS = 1 << 20
#: stands in for a fault's payload while a row is built, so escaping leaves it alone
MARK = "\ue000"
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"})


def cdata(text: str, split_lines: bool = False) -> str:
    """CDATA as Jira writes it: ``]]>`` splits the value into adjacent sections.

    ``split_lines`` also gives every line break its own section, another shape
    seen in real backups; a reader must join adjacent sections either way.
    """
    body = "]]]]><![CDATA[>".join(text.split("]]>"))
    if split_lines:
        body = "]]><![CDATA[\n]]><![CDATA[".join(body.split("\n"))
    return f"<![CDATA[{body}]]>"


def xml_row(entity: str, fields: Iterable[tuple[str, object]], split_lines: bool = False) -> str:
    """One entity row: attributes, or CDATA children for values holding a line break."""
    attrs: list[str] = []
    children: list[str] = []
    for name, value in fields:
        if value is None:
            continue
        if type(value) is int:
            attrs.append(f' {name}="{value}"')
            continue
        text = value if type(value) is str else str(value)
        if "\n" in text:
            children.append(f"        <{name}>{cdata(text, split_lines)}</{name}>\n")
        elif "&" in text or "<" in text or ">" in text or '"' in text or "'" in text:
            attrs.append(f' {name}="{text.translate(_ESCAPES)}"')
        else:
            attrs.append(f' {name}="{text}"')
    if children:
        return f"    <{entity}{''.join(attrs)}>\n{''.join(children)}    </{entity}>\n"
    return f"    <{entity}{''.join(attrs)}/>\n"


@dataclass
class FaultyRow:
    """A row whose text holds ``MARK`` where the fault's payload goes."""

    text: str
    payload: str
    record: dict[str, Any]


@dataclass
class Cut:
    """The partial row at which a ``truncated`` backup ends."""

    text: str
    record: dict[str, Any]


class BinarySink(Protocol):
    """Where encoded XML goes: a zip member, or a byte counter when sizing."""

    def write(self, data: bytes, /) -> int: ...


class BackgroundWriter:
    """Hands encoded blocks to a second thread that compresses and writes them.

    zlib releases the GIL while deflating, so compression runs alongside row
    generation instead of after it; the bounded queue keeps memory flat.
    """

    def __init__(self, raw: BinarySink) -> None:
        self.raw = raw
        self.blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._drain, name="synth-deflate", daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while (block := self.blocks.get()) is not None:
            if self.error is None:
                try:
                    self.raw.write(block)
                except BaseException as exc:  # re-raised on the generating thread
                    self.error = exc

    def write(self, data: bytes, /) -> int:
        if self.error is not None:
            raise self.error
        self.blocks.put(data)
        return len(data)

    def close(self) -> None:
        self.blocks.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


class Stream:
    """Encodes text into a binary stream in large blocks, tracking lines and bytes.

    Line and byte positions are what a fault record needs; counting line breaks
    per block keeps that cheap.
    """

    def __init__(self, raw: BinarySink, encoding: str) -> None:
        self.raw = raw
        self.encoding = encoding
        self.pending: list[str] = []
        self.pending_chars = 0
        self.lines = 0
        self.bytes = 0

    def write(self, text: str) -> None:
        self.pending.append(text)
        self.pending_chars += len(text)
        if self.pending_chars >= _FLUSH_CHARS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        block = "".join(self.pending)
        data = block.encode(self.encoding, "surrogateescape")
        self.raw.write(data)
        self.lines += block.count("\n")
        self.bytes += len(data)
        self.pending, self.pending_chars = [], 0

    def write_faulty(self, row: FaultyRow) -> dict[str, Any]:
        """Write ``row`` with its payload in place; return its record with the position."""
        self.flush()
        at = row.text.index(MARK)
        before = row.text[:at]
        line_start = before.rfind("\n") + 1
        record = {
            **row.record,
            "line": self.lines + before.count("\n") + 1,
            "column": at - line_start + 1,
            "offset": self.bytes + len(before.encode(self.encoding, "surrogateescape")),
        }
        self.write(row.text.replace(MARK, row.payload))
        return record


Rows = Iterator["str | FaultyRow | Cut"]
