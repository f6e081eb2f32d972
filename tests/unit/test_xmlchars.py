"""CharScanner: every character XML 1.0 forbids is found once, at its true place, and masked.

The scanner sees the backup in arbitrary chunks, so every position test is
repeated with the bytes cut at every point (and fed one byte at a time): a
multi-byte character or a ``&#...;`` reference cut in two must still be seen
whole, and lines and columns must carry over from one chunk to the next.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import cycle
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from pytest_jiramigrate.scan.xmlchars import CONTROL_BYTES, BadChar, CharScanner, is_xml_char

FORBIDDEN_CONTROLS = [code for code in range(0x20) if code not in (0x09, 0x0A, 0x0D)]


class Seen(NamedTuple):
    """What a test asserts about one finding (offset and raw bytes are checked apart)."""

    line: int
    column: int
    kind: str
    codepoint: int | None


def scan(
    data: bytes, sizes: Iterable[int] | None = None, encoding: str = "utf-8"
) -> tuple[bytes, list[BadChar]]:
    """Feed ``data`` in chunks of the given sizes (repeated; one chunk if None), then finish."""
    scanner = CharScanner(encoding)
    output: list[bytes] = []
    found: list[BadChar] = []
    for chunk in chunks(data, sizes):
        masked, bad = scanner.feed(chunk)
        output.append(masked)
        found += bad
    masked, bad = scanner.finish()
    output.append(masked)
    found += bad
    return b"".join(output), found


def chunks(data: bytes, sizes: Iterable[int] | None) -> Iterator[bytes]:
    if sizes is None:
        yield data
        return
    position = 0
    for size in cycle(sizes):
        if position >= len(data):
            return
        yield data[position : position + size]
        position += size


def split_at(data: bytes, cut: int) -> list[int]:
    """Chunk sizes that cut ``data`` in two at ``cut``."""
    return [cut, len(data) - cut]


def seen(found: list[BadChar]) -> list[Seen]:
    return [Seen(bad.line, bad.column, bad.kind, bad.codepoint) for bad in found]


def assert_masked(data: bytes, output: bytes, found: list[BadChar]) -> None:
    """Same length; the bytes of each finding are ``?``; every other byte is unchanged."""
    assert len(output) == len(data)
    bad_offsets: set[int] = set()
    for bad in found:
        assert data[bad.offset : bad.offset + len(bad.raw)] == bad.raw
        bad_offsets.update(range(bad.offset, bad.offset + len(bad.raw)))
    for offset, (before, after) in enumerate(zip(data, output, strict=True)):
        assert after == (ord("?") if offset in bad_offsets else before), offset


# --------------------------------------------------------------------------- each forbidden kind


@pytest.mark.parametrize("code", FORBIDDEN_CONTROLS, ids=lambda code: f"0x{code:02X}")
def test_each_forbidden_control_character_is_found_and_masked(code: int) -> None:
    data = b"<a>x" + bytes([code]) + b"y</a>"
    output, found = scan(data)
    assert seen(found) == [Seen(1, 5, "control", code)]
    assert output == b"<a>x?y</a>"
    assert found[0].offset == 4


def test_control_bytes_constant_is_exactly_the_forbidden_controls() -> None:
    assert list(CONTROL_BYTES) == FORBIDDEN_CONTROLS


def test_tab_newline_and_carriage_return_are_allowed() -> None:
    data = b"<a>\tx\r\ny\nz</a>"
    assert scan(data) == (data, [])


@pytest.mark.parametrize("codepoint", [0xFFFE, 0xFFFF])
def test_noncharacters_fffe_and_ffff_are_found(codepoint: int) -> None:
    data = f"<a>é{chr(codepoint)}</a>".encode()
    output, found = scan(data)
    assert seen(found) == [Seen(1, 5, "noncharacter", codepoint)]
    assert found[0].raw == chr(codepoint).encode()
    assert output == "<a>é???</a>".encode()


def test_allowed_characters_next_to_the_noncharacters_are_not_reported() -> None:
    data = "<a>\ufffd\ufdd0\U0001f600\U0010fffd</a>".encode()
    assert scan(data) == (data, [])


@pytest.mark.parametrize(
    "sequence",
    [b"\x80", b"\xe2\x82", b"\xc0\xaf", b"\xff", b"\xfe", b"\xf5\x80\x80\x80"],
    ids=["lone-continuation", "truncated", "overlong", "ff", "fe", "beyond-10ffff"],
)
def test_invalid_utf8_is_found_and_every_byte_masked(sequence: bytes) -> None:
    data = b"<a>ab" + sequence + b"cd</a>"
    output, found = scan(data)
    assert found, "invalid UTF-8 went unreported"
    assert {bad.kind for bad in found} == {"invalid-utf8"}
    assert {bad.codepoint for bad in found} == {None}
    assert (found[0].line, found[0].column, found[0].offset) == (1, 6, 5)
    assert b"".join(bad.raw for bad in found) == sequence
    assert output == b"<a>ab" + b"?" * len(sequence) + b"cd</a>"


def test_truncated_sequence_is_one_finding_and_the_next_character_keeps_its_column() -> None:
    # E2 82 is the start of a three-byte character whose last byte is missing
    output, found = scan(b"<a>\xe2\x82\x01</a>")
    assert seen(found) == [Seen(1, 4, "invalid-utf8", None), Seen(1, 5, "control", 1)]
    assert output == b"<a>???</a>"


def test_encoded_surrogate_is_one_finding_with_its_codepoint() -> None:
    data = b"<a>x\xed\xa0\x80y</a>"
    output, found = scan(data)
    assert seen(found) == [Seen(1, 5, "surrogate", 0xD800)]
    assert found[0].raw == b"\xed\xa0\x80"
    assert output == b"<a>x???y</a>"


@pytest.mark.parametrize(
    ("reference", "codepoint"),
    [(b"&#1;", 1), (b"&#x1F;", 0x1F), (b"&#xFFFE;", 0xFFFE), (b"&#0;", 0), (b"&#xd800;", 0xD800)],
)
def test_forbidden_character_references_are_found(reference: bytes, codepoint: int) -> None:
    data = b"<a>x" + reference + b"y</a>"
    output, found = scan(data)
    assert seen(found) == [Seen(1, 5, "char-ref", codepoint)]
    assert found[0].raw == reference
    assert output == b"<a>x" + b"?" * len(reference) + b"y</a>"


@pytest.mark.parametrize("reference", [b"&#9;", b"&#10;", b"&#x20AC;", b"&#13;", b"&amp;"])
def test_allowed_references_are_not_reported(reference: bytes) -> None:
    data = b"<a>x" + reference + b"y</a>"
    assert scan(data) == (data, [])


def test_is_xml_char_boundaries() -> None:
    allowed = [0x9, 0xA, 0xD, 0x20, 0xD7FF, 0xE000, 0xFFFD, 0x10000, 0x10FFFF]
    forbidden = [0x0, 0x8, 0xB, 0x1F, 0xD800, 0xDFFF, 0xFFFE, 0xFFFF, 0x110000]
    assert all(is_xml_char(code) for code in allowed)
    assert not any(is_xml_char(code) for code in forbidden)


def test_describe_names_the_fault() -> None:
    _, found = scan(b"<a>\x01&#x1F;\xff\xef\xbf\xbe</a>")
    assert [bad.describe() for bad in found] == [
        "control character U+0001",
        "character reference &#x1F; to U+001F",
        "invalid-utf8 byte(s) ff",
        "noncharacter character U+FFFE",
    ]


# --------------------------------------------------------------------------- CDATA

CDATA_DOC = b"<a><![CDATA[x&#1;y]]>&#2;</a>"
#: where the CDATA open and close markers sit in CDATA_DOC
CDATA_OPEN_AT = CDATA_DOC.index(b"<![CDATA[")
CDATA_CLOSE_AT = CDATA_DOC.index(b"]]>")


def test_reference_inside_cdata_is_literal_text_but_the_one_after_it_is_found() -> None:
    output, found = scan(CDATA_DOC)
    assert seen(found) == [Seen(1, 22, "char-ref", 2)]
    assert output == b"<a><![CDATA[x&#1;y]]>????</a>"


@pytest.mark.parametrize(
    "cut",
    [
        cut
        for cut in range(1, len(CDATA_DOC))
        if not (
            CDATA_OPEN_AT < cut < CDATA_OPEN_AT + 9 or CDATA_CLOSE_AT < cut < CDATA_CLOSE_AT + 3
        )
    ],
)
def test_cdata_opened_in_an_earlier_chunk_still_hides_the_reference(cut: int) -> None:
    output, found = scan(CDATA_DOC, split_at(CDATA_DOC, cut))
    assert seen(found) == [Seen(1, 22, "char-ref", 2)]
    assert output == b"<a><![CDATA[x&#1;y]]>????</a>"


@pytest.mark.parametrize("cut", range(CDATA_OPEN_AT + 1, CDATA_OPEN_AT + 9))
def test_cdata_open_marker_cut_by_a_chunk_boundary(cut: int) -> None:
    _, found = scan(CDATA_DOC, split_at(CDATA_DOC, cut))
    assert seen(found) == [Seen(1, 22, "char-ref", 2)]


@pytest.mark.parametrize("cut", range(CDATA_CLOSE_AT + 1, CDATA_CLOSE_AT + 3))
def test_cdata_close_marker_cut_by_a_chunk_boundary(cut: int) -> None:
    _, found = scan(CDATA_DOC, split_at(CDATA_DOC, cut))
    assert seen(found) == [Seen(1, 22, "char-ref", 2)]


def test_cdata_fed_byte_by_byte() -> None:
    _, found = scan(CDATA_DOC, [1])
    assert seen(found) == [Seen(1, 22, "char-ref", 2)]


# --------------------------------------------------------------------------- positions and chunks

#: One document with every kind of fault, multi-byte characters before them,
#: CRLF and LF line ends.
MIXED_TEXT = (
    "<r a='é€'>\x01\r\n"  # line 1
    "  <b>é€\U0001f600\x02</b>\r\n"  # line 2: control after 2-, 3- and 4-byte characters
    "  <c>&#1;x&#x20AC;&#xFFFF;</c>\n"  # line 3: forbidden, allowed, forbidden references
    "  <d>\ufffe\U0001f600\ufffftail</d>\n"  # line 4: both noncharacters
    "  <e>\U0001f600\udcff\udc80z\x1f</e>\n"  # line 5: invalid bytes, then a control
    "</r>\n"
)
MIXED = MIXED_TEXT.encode("utf-8", "surrogateescape")
MIXED_FOUND = [
    Seen(1, 11, "control", 0x01),
    Seen(2, 9, "control", 0x02),
    Seen(3, 6, "char-ref", 0x01),
    Seen(3, 19, "char-ref", 0xFFFF),
    Seen(4, 6, "noncharacter", 0xFFFE),
    Seen(4, 8, "noncharacter", 0xFFFF),
    Seen(5, 7, "invalid-utf8", None),
    Seen(5, 8, "invalid-utf8", None),
    Seen(5, 10, "control", 0x1F),
]


def masked_mixed() -> bytes:
    """MIXED with each bad byte as ``?``, built from the text, not from the scanner."""
    text = MIXED_TEXT
    for bad in ("\x01", "\x02", "\x1f", "&#1;", "&#xFFFF;", "\udcff", "\udc80"):
        text = text.replace(bad, "?" * len(bad))
    for nonchar in ("\ufffe", "\uffff"):
        text = text.replace(nonchar, "???")
    return text.encode("utf-8")


def test_mixed_document_in_one_chunk() -> None:
    output, found = scan(MIXED)
    assert seen(found) == MIXED_FOUND
    assert output == masked_mixed()
    assert_masked(MIXED, output, found)


@pytest.mark.parametrize("cut", range(1, len(MIXED)))
def test_every_two_chunk_split_gives_the_same_findings(cut: int) -> None:
    output, found = scan(MIXED, split_at(MIXED, cut))
    assert seen(found) == MIXED_FOUND
    assert output == masked_mixed()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 13])
def test_small_fixed_chunks_give_the_same_findings(size: int) -> None:
    output, found = scan(MIXED, [size])
    assert seen(found) == MIXED_FOUND
    assert_masked(MIXED, output, found)


def test_masked_output_parses_with_lxml() -> None:
    output, _ = scan(MIXED, [3])
    root = etree.fromstring(output)
    assert [child.tag for child in root] == ["b", "c", "d", "e"]
    assert root.find("c").text == "????x€????????"  # type: ignore[union-attr]


def test_output_is_held_back_only_for_an_unfinished_sequence_or_reference() -> None:
    scanner = CharScanner()
    assert scanner.feed(b"<a>x\xe2\x82") == (b"<a>x", [])
    assert scanner.feed(b"\xac&#") == (b"\xe2\x82\xac", [])
    output, found = scanner.feed(b"1;</a>")
    assert output == b"????</a>"
    assert seen(found) == [Seen(1, 6, "char-ref", 1)]
    assert found[0].offset == 7
    assert scanner.finish() == (b"", [])


def test_first_byte_of_the_stream_is_line_1_column_1() -> None:
    output, found = scan(b"\x01<a/>")
    assert seen(found) == [Seen(1, 1, "control", 1)]
    assert (found[0].offset, output) == (0, b"?<a/>")


def test_bad_character_right_after_a_chunk_boundary_on_a_later_line() -> None:
    data = "<a>\nxé€\n€\x03</a>".encode()
    boundary = data.index(b"\x03")
    _, found = scan(data, split_at(data, boundary))
    assert seen(found) == [Seen(3, 2, "control", 3)]
    assert found[0].offset == boundary


def test_columns_continue_across_chunks_without_newlines() -> None:
    data = "é€é€é€\x04".encode()
    _, found = scan(data, [2, 3, 1])
    assert seen(found) == [Seen(1, 7, "control", 4)]


def test_unfinished_sequence_at_end_of_stream_is_reported_by_finish() -> None:
    scanner = CharScanner()
    assert scanner.feed(b"<a>\n\xf0\x9f\x98") == (b"<a>\n", [])
    output, found = scanner.finish()
    assert output == b"???"
    assert seen(found) == [Seen(2, 1, "invalid-utf8", None)]


# --------------------------------------------------------------------------- single-byte encodings


def test_latin1_stream_has_no_utf8_checks_but_control_characters_are_found() -> None:
    text = "<?xml version='1.0' encoding='ISO-8859-1'?>\n<a>é\xff\x80ï¿¾\x05</a>"
    data = text.encode("latin-1")
    output, found = scan(data, [4], encoding="ISO-8859-1")
    assert seen(found) == [Seen(2, 10, "control", 5)]
    assert_masked(data, output, found)
    assert etree.fromstring(output).text == "é\xff\x80ï¿¾?"


@pytest.mark.parametrize("name", ["UTF-8", "utf8", "utf_8", "Utf-8"])
def test_utf8_spellings_all_check_utf8(name: str) -> None:
    _, found = scan(b"<a>\xff</a>", encoding=name)
    assert seen(found) == [Seen(1, 4, "invalid-utf8", None)]


# --------------------------------------------------------------------------- property

CLEAN_TOKENS = [
    "word",
    " ",
    "\n",
    "\r\n",
    "\t",
    "é",
    "€",
    "\U0001f600",
    "<b/>",
    "<c x='1'>y</c>",
    "&amp;",
    "&#9;",
    "&#x20AC;",
    "&#10;",
]
#: (text, kind, codepoint); "\udcXX" stands for the lone byte 0xXX (surrogateescape)
BAD_TOKENS = [
    *[(chr(code), "control", code) for code in FORBIDDEN_CONTROLS],
    ("\ufffe", "noncharacter", 0xFFFE),
    ("\uffff", "noncharacter", 0xFFFF),
    ("&#1;", "char-ref", 1),
    ("&#x1F;", "char-ref", 0x1F),
    ("&#0;", "char-ref", 0),
    ("&#xFFFE;", "char-ref", 0xFFFE),
    ("\udc80", "invalid-utf8", None),
    ("\udcff", "invalid-utf8", None),
]


class Planted(NamedTuple):
    seen: Seen
    offset: int


def plant(pieces: list[tuple[bool, int]]) -> tuple[str, list[Planted]]:
    """The document for ``pieces`` (bad?, index) and the true place of each bad token."""
    text = "<r>"
    planted: list[Planted] = []
    for bad, index in pieces:
        if bad:
            token, kind, codepoint = BAD_TOKENS[index % len(BAD_TOKENS)]
            line = text.count("\n") + 1
            column = len(text) - (text.rfind("\n") + 1) + 1
            offset = len(text.encode("utf-8", "surrogateescape"))
            planted.append(Planted(Seen(line, column, kind, codepoint), offset))
        else:
            token = CLEAN_TOKENS[index % len(CLEAN_TOKENS)]
        text += token
    return text + "</r>", planted


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(st.tuples(st.booleans(), st.integers(0, 1000)), max_size=60),
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=12),
)
def test_every_planted_character_is_found_once_at_its_true_place(
    pieces: list[tuple[bool, int]], sizes: list[int]
) -> None:
    text, planted = plant(pieces)
    data = text.encode("utf-8", "surrogateescape")
    output, found = scan(data, sizes)
    assert [Planted(Seen(b.line, b.column, b.kind, b.codepoint), b.offset) for b in found] == (
        planted
    )
    assert_masked(data, output, found)
    etree.fromstring(output)  # the masked stream is well-formed
