"""Find every character that XML 1.0 forbids in a byte stream, and mask it.

Jira's XML writer does not escape raw control characters, so real backups
carry them (often in change history copied from e-mails).  Cloud's SAX parser
stops at the first one, and so would lxml.  This scanner runs over the raw
bytes before the parser sees them: it records each bad character with its
line and column, and replaces its bytes with ``?`` (same length, so every
later line and column stays true) so that the parser goes on and every other
fact of the backup is still collected.

What is forbidden (XML 1.0, section 2.2 "Characters"):

* raw control characters U+0000-U+001F other than tab, LF and CR;
* the non-characters U+FFFE and U+FFFF;
* bytes that are not valid UTF-8 (including encoded surrogates);
* character references to any of those, such as ``&#1;`` (outside CDATA).

The common case, a chunk with none of these, costs a few C-speed passes
(``bytes.translate``, ``bytes.find``, ``bytes.isascii``/``decode``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CONTROL_BYTES = bytes(b for b in range(0x20) if b not in (0x09, 0x0A, 0x0D))
_CONTROL = re.compile(b"[" + re.escape(CONTROL_BYTES) + b"]")
_NONCHAR = re.compile(rb"\xef\xbf[\xbe\xbf]")
_CHAR_REF = re.compile(rb"&#(?:x([0-9A-Fa-f]{1,8})|([0-9]{1,10}));")
_CDATA_OPEN = b"<![CDATA["
_CDATA_CLOSE = b"]]>"
#: a numeric character reference is at most this long: ``&#x0010FFFF;``
_MAX_REF = 12
MASK = ord("?")


def is_xml_char(codepoint: int) -> bool:
    """True for the code points XML 1.0 allows."""
    return (
        codepoint in (0x9, 0xA, 0xD)
        or 0x20 <= codepoint <= 0xD7FF
        or 0xE000 <= codepoint <= 0xFFFD
        or 0x10000 <= codepoint <= 0x10FFFF
    )


@dataclass(frozen=True)
class BadChar:
    """One forbidden character, where it is, and what it was."""

    offset: int  # byte offset in the decompressed file
    line: int  # 1-based
    column: int  # 1-based, in characters of the decoded line
    kind: str  # control | noncharacter | invalid-utf8 | surrogate | char-ref
    codepoint: int | None  # None for bytes that are not UTF-8
    raw: bytes

    def describe(self) -> str:
        if self.kind == "char-ref":
            return f"character reference {self.raw.decode('ascii')} to U+{self.codepoint:04X}"
        if self.codepoint is not None:
            return f"{self.kind} character U+{self.codepoint:04X}"
        return f"{self.kind} byte(s) {self.raw.hex(' ')}"


def _utf8_sequence_length(lead: int) -> int:
    if lead >= 0xF0:
        return 4
    if lead >= 0xE0:
        return 3
    if lead >= 0xC0:
        return 2
    return 1


class CharScanner:
    """Feed raw bytes chunk by chunk; get them back masked, with the bad characters found.

    A few bytes at the end of a chunk may be held back until the next
    ``feed`` (an unfinished UTF-8 sequence or character reference), so the
    output of ``feed`` can be shorter than its input; ``finish`` flushes it.
    """

    def __init__(self, encoding: str = "utf-8", offset: int = 0, lines: int = 0) -> None:
        """``offset``/``lines``: where the stream starts in its file (a piece of it
        starting at the beginning of a line, outside CDATA)."""
        self.utf8 = encoding.replace("_", "-").lower() in ("utf-8", "utf8")
        self._pending = b""
        self._offset = offset  # absolute offset of the next byte to emit
        self._lines = lines  # newlines before the next byte to emit
        self._column = 0  # characters since the last newline
        self._in_cdata = False

    def feed(self, chunk: bytes) -> tuple[bytes, list[BadChar]]:
        data = self._pending + chunk if self._pending else chunk
        cut = self._safe_cut(data)
        self._pending = data[cut:]
        return self._scan(data[:cut])

    def finish(self) -> tuple[bytes, list[BadChar]]:
        data, self._pending = self._pending, b""
        return self._scan(data)

    def _safe_cut(self, data: bytes) -> int:
        """Where to split so that no sequence or reference is cut in two."""
        cut = len(data)
        for marker in (_CDATA_OPEN, _CDATA_CLOSE):  # a marker must be seen whole
            for size in range(min(len(marker) - 1, len(data)), 0, -1):
                if marker.startswith(data[-size:]):
                    cut = min(cut, len(data) - size)
                    break
        amp = data.rfind(b"&", max(0, cut - _MAX_REF))
        if amp >= 0 and b";" not in data[amp:]:
            cut = amp
        if self.utf8:
            for back in range(1, 4):
                index = cut - back
                if index < 0:
                    break
                byte = data[index]
                if byte >= 0xC0:
                    if _utf8_sequence_length(byte) > back:
                        cut = index
                    break
                if byte < 0x80:
                    break
        return cut

    def _scan(self, segment: bytes) -> tuple[bytes, list[BadChar]]:
        found = self._find(segment) if segment else []
        if found:
            masked = bytearray(segment)
            for start, end, _kind, _cp in found:
                masked[start:end] = bytes([MASK]) * (end - start)
            output = bytes(masked)
        else:
            output = segment
        bad = self._locate(segment, found)
        self._advance(segment)
        return output, bad

    def _find(self, segment: bytes) -> list[tuple[int, int, str, int | None]]:
        """Spans of forbidden characters in ``segment``: (start, end, kind, codepoint)."""
        spans: list[tuple[int, int, str, int | None]] = []
        if len(segment.translate(None, CONTROL_BYTES)) != len(segment):
            spans += [
                (m.start(), m.end(), "control", segment[m.start()])
                for m in _CONTROL.finditer(segment)
            ]
        if b"&#" in segment:
            spans += self._bad_references(segment)
        if self.utf8 and not segment.isascii():
            if b"\xef\xbf" in segment:
                spans += [
                    (m.start(), m.end(), "noncharacter", 0xFFFE + (segment[m.end() - 1] & 1))
                    for m in _NONCHAR.finditer(segment)
                ]
            spans += self._invalid_utf8(segment)
        spans.sort()
        return spans

    def _bad_references(self, segment: bytes) -> list[tuple[int, int, str, int | None]]:
        spans: list[tuple[int, int, str, int | None]] = []
        for match in _CHAR_REF.finditer(segment):
            hex_digits, decimal = match.groups()
            codepoint = int(hex_digits, 16) if hex_digits else int(decimal)
            if is_xml_char(codepoint) or self._inside_cdata(segment, match.start()):
                continue
            spans.append((match.start(), match.end(), "char-ref", codepoint))
        return spans

    def _inside_cdata(self, segment: bytes, position: int) -> bool:
        opened = segment.rfind(_CDATA_OPEN, 0, position)
        closed = segment.rfind(_CDATA_CLOSE, 0, position)
        if opened < 0 and closed < 0:
            return self._in_cdata
        return opened > closed

    @staticmethod
    def _invalid_utf8(segment: bytes) -> list[tuple[int, int, str, int | None]]:
        spans: list[tuple[int, int, str, int | None]] = []
        start = 0
        while True:
            try:
                segment[start:].decode("utf-8")
                return spans
            except UnicodeDecodeError as error:
                bad_start, bad_end = start + error.start, start + error.end
                raw = segment[bad_start:bad_end]
                if (
                    raw[:1] == b"\xed"
                    and len(segment) > bad_start + 1
                    and (0xA0 <= segment[bad_start + 1] <= 0xBF)
                ):
                    bad_end = min(bad_start + 3, len(segment))
                    raw = segment[bad_start:bad_end]
                    codepoint = raw.decode("utf-8", "surrogatepass") if len(raw) == 3 else ""
                    spans.append(
                        (bad_start, bad_end, "surrogate", ord(codepoint) if codepoint else None)
                    )
                else:
                    spans.append((bad_start, bad_end, "invalid-utf8", None))
                start = bad_end

    def _chars(self, data: bytes) -> int:
        return len(data.decode("utf-8", "replace")) if self.utf8 else len(data)

    def _locate(
        self, segment: bytes, spans: list[tuple[int, int, str, int | None]]
    ) -> list[BadChar]:
        located: list[BadChar] = []
        lines, position = self._lines, 0
        for start, end, kind, codepoint in spans:
            lines += segment.count(b"\n", position, start)
            position = start
            newline = segment.rfind(b"\n", 0, start)
            if newline >= 0:
                column = self._chars(segment[newline + 1 : start]) + 1
            else:
                column = self._column + self._chars(segment[:start]) + 1
            located.append(
                BadChar(
                    offset=self._offset + start,
                    line=lines + 1,
                    column=column,
                    kind=kind,
                    codepoint=codepoint,
                    raw=segment[start:end],
                )
            )
        return located

    def _advance(self, segment: bytes) -> None:
        self._offset += len(segment)
        newline = segment.rfind(b"\n")
        if newline >= 0:
            self._lines += segment.count(b"\n")
            self._column = self._chars(segment[newline + 1 :])
        else:
            self._column += self._chars(segment)
        opened = segment.rfind(_CDATA_OPEN)
        closed = segment.rfind(_CDATA_CLOSE)
        if opened >= 0 or closed >= 0:
            self._in_cdata = opened > closed
