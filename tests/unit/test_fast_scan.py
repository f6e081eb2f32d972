"""The fast scan (row-aligned pieces, parsed in workers) equals the reference scan.

Same facts, row for row and in the same order, on the whole real corpus and on
synthetic backups with every injected fault, with pieces small enough that
every file is cut many times (and across CDATA, comments and faults).
"""

from __future__ import annotations

import io
import sqlite3
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from inline_pool import InlinePool

from pytest_jiramigrate import facts
from pytest_jiramigrate.scan import pieces
from pytest_jiramigrate.scan.entities import scan_entities_reference
from synth import BACKUP_FAULTS, SynthSpec, write_backup

TABLES = [
    line.split()[2]
    for line in facts.SCHEMA.splitlines()
    if line.startswith("CREATE TABLE") and "scan_" not in line
]


def dump(db: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    return {
        table: db.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() for table in TABLES
    }


def both(
    xml: bytes, tmp_path: Path, opener: Callable[[bytes], BinaryIO] = io.BytesIO
) -> tuple[dict, dict]:
    """The facts of ``xml`` (read through ``opener``) by the reference scan and the fast scan."""
    results = []
    for name, scan in (("reference", scan_entities_reference), ("fast", pieces.scan_entities)):
        db = facts.create(tmp_path / f"{name}.sqlite")
        db.execute("BEGIN")
        reason = scan(opener(xml), db)
        db.execute("COMMIT")
        results.append((reason, dump(db)))
        db.close()
        (tmp_path / f"{name}.sqlite").unlink()
    (ref_reason, reference), (fast_reason, fast) = results
    assert fast_reason == ref_reason
    return reference, fast


@pytest.fixture(autouse=True, params=["here", "workers"])
def small_pieces(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small pieces, parsed in this process or handed over as to workers (which send
    their rows back as SQLite images where Python has them)."""
    monkeypatch.setattr(pieces, "PIECE", 2048)
    if request.param == "workers":
        monkeypatch.setattr(pieces, "PARALLEL_FROM", 0)
        monkeypatch.setattr(pieces, "ProcessPoolExecutor", InlinePool)


@pytest.fixture(scope="module")
def testkit_files(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> list[Path]:
    archive = corpus / "jira-testkit-xml.tar.xz"
    target = tmp_path_factory.mktemp("testkit")
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return sorted(target.rglob("*.xml"))


@pytest.mark.slow
def test_every_testkit_file(testkit_files: list[Path], tmp_path: Path) -> None:
    assert len(testkit_files) > 600
    for path in testkit_files:
        reference, fast = both(path.read_bytes(), tmp_path)
        assert fast == reference, path.name


@pytest.mark.parametrize(
    "backup",
    ["jira-6.4-test-dvcs.zip", "jira-5.0-activeobjects.zip", "jira-5.0-activeobjects-baddata.zip"],
)
def test_corpus_backups(backup: str, tmp_path: Path, corpus: Path) -> None:
    path = corpus / backup
    with zipfile.ZipFile(path) as archive:
        xml = archive.read("entities.xml")
    reference, fast = both(xml, tmp_path)
    assert fast == reference
    assert fast["user"] and fast["entity_count"]


@pytest.mark.parametrize("fault", sorted(set(BACKUP_FAULTS) - {"nested-folder"}))
def test_every_injected_fault(fault: str, tmp_path: Path) -> None:
    spec = SynthSpec(faults=[fault], issues=30, users=12)
    zipped = tmp_path / "b.zip"
    write_backup(zipped, spec)
    with zipfile.ZipFile(zipped) as archive:
        xml = archive.read("entities.xml")
    reference, fast = both(xml, tmp_path)
    assert fast == reference


def test_process_pool_gives_the_same_facts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pieces, "PARALLEL_FROM", 0)
    zipped = tmp_path / "b.zip"
    write_backup(zipped, SynthSpec(faults=["control-char", "fffe", "long-description"]))
    with zipfile.ZipFile(zipped) as archive:
        xml = archive.read("entities.xml")
    reference, fast = both(xml, tmp_path)
    assert fast == reference
    assert [row[1] for row in fast["xml_problem"]] == ["invalid-char", "invalid-char"]


@pytest.mark.parametrize(
    "xml",
    [
        b"<?xml version='1.0'?>\n<entity-engine-xml>\n    <User id='1' userName='a'/>\n"
        b"    <User id='2' userName='b'>\n",
        b"<?xml version='1.0'?>\n<entity-engine-xml>\n    <Issue id='1'><description>"
        b"<![CDATA[x\n    <Issue id='9'/>\n]]></description></Issue>\n"
        b"    <Issue id='2' summary='\x01'/>\n</entity-engine-xml>",
        b"<?xml version='1.0'?>\n<entity-engine-xml>\n    <Issue id='1'/>\n"
        b"<!-- \n    <Issue id='3'/> -->\n    <Issue id='2'/>\n</entity-engine-xml>garbage",
        b"<?xml version='1.0'?>\n<entity-engine-xml>\n    <Issue id='1' summary='&#1;'/>\n"
        b"    <Issue id='2'>\n    <Issue id='3'/>\n</entity-engine-xml>\x02\n",
        b"<?xml version='1.0'?>\n<entity-engine-xml>\n    <Issue id='1' summary='s'>\n"
        b"    <description>a\n    <Issue id='8'/></description>\n    <Issue id='9'/>\n"
        b"    </Issue>\n    <Action id='5' issue='1' type='comment'>\n    <body>b</body>\n"
        b"    </Action>\n    <Issue id='2' summary='t'/>\n</entity-engine-xml>\n",
        b"<?xml version='1.0'?>\n<entity-engine-xml>\n"
        b"    <User id='1' userName='a&amp;b' displayName=\"q&quot;x&#10;y\" "
        b"firstName=\"&lt;&gt;&apos;&#x41;\" lastName='t\tab' emailAddress = 'a@b.c' />\n"
        b'    <User\n\tuserName="c"   id="3"\r\n    active=\'0\'\n/>\n'
        b"    <Group groupName='g' id='4' lowerGroupName=\"it's\"/>\n"
        b"    <Issue id='6' summary='&#x1F600;' description='line&#13;&#10;two'/>\n"
        b"    <Action id='7' issue='6' type='comment'><body><![CDATA[x]]><![CDATA[\n"
        b"    <Action id='8' type='comment' body='fake'/>\n]]></body></Action>\n"
        b"<!-- \n    <User id='9' userName='ghost'/>\n-->\n"
        b"    <OSPropertyEntry id='10' entityName='jira.properties' propertyKey='jira.title'/>\n"
        b"    <OSPropertyString id='10' value='T&amp;itle'/>\n</entity-engine-xml>\n",
    ],
    ids=[
        "truncated",
        "row-start-inside-cdata",
        "comment-and-garbage",
        "broken-middle",
        "nested-elements-at-row-indent",
        "attribute-escapes-quotes-order-whitespace",
    ],
)
@pytest.mark.parametrize("piece", [16, 64, 2048])
def test_hand_made_edge_cases(
    xml: bytes, piece: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pieces, "PIECE", piece)
    reference, fast = both(xml, tmp_path)
    assert fast == reference


#: a start tag libxml2 refuses (10 MB per value without XML_PARSE_HUGE): one value, a value
#: on a row's child, and many small values that only together are too long
HUGE_TAGS = {
    "value": (b'    <User id="7" userName="u" displayName="' + b"x" * 12_000_000 + b'"/>', 4),
    "child": (b'    <User id="7">\n        <d v="' + b"x" * 12_000_000 + b'"/>\n    </User>', 5),
    "many": (
        b'    <User id="7" '
        + b" ".join(b'a%d="%s"' % (i, b"y" * 100) for i in range(120_000))
        + b"/>",
        4,
    ),
}


@pytest.mark.parametrize("kind", sorted(HUGE_TAGS))
def test_a_start_tag_over_libxml2s_limit_is_named_by_its_row(kind: str, tmp_path: Path) -> None:
    """libxml2 parses on past a start tag it refuses and names the line where it stopped,
    which depends on how the file was fed: both scans name the tag's row and line, and
    read no row from it on (a forbidden character after it belongs to no row)."""
    tag, line = HUGE_TAGS[kind]
    rows = b"".join(b"    <User id='%d' userName='u%d'/>\n" % (i, i) for i in range(300))
    xml = (
        b"<?xml version='1.0'?>\n<entity-engine-xml>\n    <User id='1' userName='a'/>\n"
        + tag
        + b"\n    <User id='2' userName='b\x01'/>\n"
        + rows
        + b"</entity-engine-xml>\n"
    )
    reference, fast = both(xml, tmp_path)
    assert fast == reference
    problems = [row[1:6] for row in fast["xml_problem"]]
    assert problems == [
        ("not-well-formed", line, 1, "User", "7"),
        ("invalid-char", 7 if kind == "child" else 5, 29, None, None),
    ]
    assert [row[0] for row in fast["user"]] == ["1"]


# --- valid files in layouts other than Jira's: no cut points, streamed in flat memory ---


def two_spaces(xml: bytes) -> bytes:
    """What ``xmllint --format`` writes: rows indented by two spaces, their children by four."""
    return xml.replace(b"\n    <", b"\n  <").replace(b"\n        <", b"\n    <")


def tabs(xml: bytes) -> bytes:
    return xml.replace(b"\n    <", b"\n\t<").replace(b"\n        <", b"\n\t\t<")


def one_line(xml: bytes) -> bytes:
    return xml.replace(b">\n    <", b"><").replace(b">\n        <", b"><")


LAYOUTS = {"two-spaces": two_spaces, "tabs": tabs, "one-line": one_line}

#: what one read of the trickling stream returns at most, as a zip member's inflater does
TRICKLE = 4096


class Trickle(io.RawIOBase):
    """A stream that hands out at most :data:`TRICKLE` bytes a read."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), TRICKLE, len(self.data) - self.at)
        buffer[:size] = self.data[self.at : self.at + size]
        self.at += size
        return size


@pytest.mark.parametrize("fault", ["none", "control-char"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_other_layouts_are_streamed_with_the_same_facts(
    layout: str, fault: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pieces, "UNCUT_LIMIT", 8192)
    cut = pieces.cut_pieces
    sizes: list[tuple[int, bool]] = []

    def recorded(*args: object) -> Iterator[pieces.Piece]:
        for piece in cut(*args):
            sizes.append((len(piece.data), piece.uncut))
            yield piece

    monkeypatch.setattr(pieces, "cut_pieces", recorded)
    zipped = tmp_path / "b.zip"
    write_backup(zipped, SynthSpec(faults=[] if fault == "none" else [fault]))
    with zipfile.ZipFile(zipped) as archive:
        xml = LAYOUTS[layout](archive.read("entities.xml"))
    assert len(xml) > 20 * 8192

    reference, fast = both(xml, tmp_path, Trickle)

    assert fast == reference
    assert fast["user"]
    assert sizes[-1][1], "the rest of the file was streamed"
    assert max(size for size, _ in sizes) <= 2 * 8192, sizes  # never one huge piece


def test_streamed_rest_of_another_layout_reports_its_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pieces, "UNCUT_LIMIT", 8192)
    zipped = tmp_path / "b.zip"
    write_backup(zipped, SynthSpec())
    with zipfile.ZipFile(zipped) as archive:
        xml = one_line(archive.read("entities.xml"))
    done: list[int] = []
    db = facts.create(tmp_path / "facts.sqlite")

    reason = pieces.scan_entities(Trickle(xml), db, len(xml), done.append)

    assert reason is None
    assert done == sorted(done)
    assert len(done) > 10
    assert done[-1] == len(xml)
