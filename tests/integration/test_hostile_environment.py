"""What real machines and hostile names do to a run, end to end through pytest.

One line per case:

* a media file whose name is not UTF-8 (Latin-1 bytes) is listed escaped (``\\xe9``), no crash;
* a backup path that is not UTF-8 is checked and shown escaped, no crash;
* ESC, CSI (U+009B), CR and LF in a username, the backup's or a media file's name: escaped;
* a read-only working directory (the cache cannot be made): a warning and a temporary store;
* a full disk while writing the facts store: exit 4 naming the store and the room needed;
* a full disk while writing a report: exit 4 naming the report and its size, old report intact;
* a full disk while writing a CSV export: exit 4 naming the export, no partial file;
* the backup touched or replaced while it is scanned: backup-archive fails, the rest not checked;
* entities.xml in another layout (two spaces, tabs, one line): streamed, the XML rules pass;
* a 64 MB one-line entities.xml is scanned under a 400 MB address-space limit (one piece: 850 MB);
* custom_rules (in tests/integration/test_custom_rules.py): a runaway cross join stops at
  its ``timeout``, a query over ``max_rows`` stops, ``fts3_tokenizer``/``load_extension``/
  unlisted functions are refused, one value over 64 MB is refused, and a ``finding`` with a
  format spec is exit 4.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_jiramigrate import facts
from pytest_jiramigrate.core.terminal import name_text, printable
from pytest_jiramigrate.report import exports
from pytest_jiramigrate.scan import backup as backup_scan
from pytest_jiramigrate.scan import pieces
from synth import SynthSpec, write_backup, write_media

#: every report the plugin writes, and where it writes it
REPORTS = (
    "--jira-report=report.json",
    "--jira-html=report.html",
    "--jira-summary=summary.md",
    "--jira-export=exports",
    "--junitxml=junit.xml",
)


def assert_clean(result: pytest.RunResult) -> None:
    output = "\n".join(result.outlines + result.errlines)
    assert "Traceback" not in output, output
    assert "INTERNALERROR" not in output, output


ESCAPED = "caf\\xe9.txt"  # how the Latin-1 name caf\xe9.txt is shown everywhere


def assert_named_in_every_output(directory: Path, name: str) -> None:
    """``name`` is in the JSON report, the HTML and Markdown reports, JUnit and a CSV export;
    every file is UTF-8."""
    texts = {
        path.name: path.read_bytes().decode("utf-8")
        for path in directory.rglob("*")
        if path.is_file() and path.suffix in (".json", ".html", ".md", ".csv", ".xml")
    }
    report = json.loads(texts.pop("report.json"))
    details = [item["detail"] for rule in report["rules"] for item in rule["items"]]
    assert any(name in detail for detail in details), details
    markdown = texts.pop("summary.md")
    assert name.replace("\\", "\\\\") in markdown or name in markdown, markdown
    csvs = [text for file, text in texts.items() if file.endswith(".csv")]
    assert any(name in text for text in csvs), csvs
    for file in ("report.html", "junit.xml"):
        assert name in texts[file], file


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    path = tmp_path_factory.mktemp("backup") / "site-backup.zip"
    return path, write_backup(path, SynthSpec())


# --------------------------------------------------------------------------- names as bytes


def test_media_file_name_not_utf8_is_reported_escaped(
    pytester: pytest.Pytester, backup: tuple[Path, Any]
) -> None:
    """A Latin-1 media file name: escaped as \\xe9 in the terminal, JSON, HTML, CSV, JUnit."""
    path, manifest = backup
    media = pytester.path / "media"
    write_media(media, manifest)
    stray = os.fsencode(media / "data" / "attachments") + b"/caf\xe9.txt"
    with open(stray, "wb") as handle:
        handle.write(b"legacy")

    result = pytester.runpytest_inprocess(
        f"--jira-backup={path}", f"--jira-media={media}", "-rA", *REPORTS
    )

    assert_clean(result)
    result.stdout.fnmatch_lines([f"*- data/attachments/{ESCAPED}: not in the *layout*"])
    assert_named_in_every_output(pytester.path, ESCAPED)


def test_backup_path_not_utf8_is_checked_and_shown_escaped(
    pytester: pytest.Pytester, backup: tuple[Path, Any]
) -> None:
    """A backup whose path is not UTF-8 is scanned, and its name is shown as caf\\xe9.zip."""
    folder = os.fsdecode(os.fsencode(pytester.path) + b"/r\xe9sum\xe9")
    os.mkdir(folder)
    path = Path(folder) / os.fsdecode(b"caf\xe9.zip")
    path.write_bytes(backup[0].read_bytes())

    result = pytester.runpytest_inprocess(f"--jira-backup={path}", "-v", *REPORTS)

    assert_clean(result)
    assert result.ret == pytest.ExitCode.OK, result.outlines
    result.stdout.fnmatch_lines(["caf\\xe9.zip::backup-archive PASSED*"])
    report = json.loads((pytester.path / "report.json").read_text(encoding="utf-8"))
    assert {rule["target"] for rule in report["rules"]} == {"caf\\xe9.zip"}
    for file in ("report.html", "summary.md", "junit.xml"):
        (pytester.path / file).read_bytes().decode("utf-8")


# --------------------------------------------------------------------------- terminal control


#: a username that would clear the screen (CSI 2J) and forge a line of its own
HOSTILE_USER = "mrob\x9b2J\r\nPASSED fake-user"
#: a media file name that would do the same with ESC
HOSTILE_FILE = "x\x1b[2J\x9b1A\r\nPASSED fake-file"


def with_hostile_username(source: Path, target: Path) -> None:
    """The backup with user mrobinson (who has no e-mail address) renamed to HOSTILE_USER."""
    xml = "mrob&#155;2J&#13;&#10;PASSED fake-user"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename == "entities.xml":
                data = data.replace(b'userName="mrobinson"', f'userName="{xml}"'.encode())
            new.writestr(info, data)


def test_control_characters_in_names_are_escaped_on_the_terminal(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """ESC, CSI (U+009B), CR and LF in a username and the backup's and a media file's names."""
    plain = tmp_path / "plain.zip"
    manifest = write_backup(plain, SynthSpec(faults=("email-missing",)))
    backup = tmp_path / "site\x1b[2J\r\nPASSED fake-backup.zip"
    with_hostile_username(plain, backup)
    media = tmp_path / "media"
    write_media(media, manifest)
    (media / "data" / "attachments" / HOSTILE_FILE).write_bytes(b"x")

    result = pytester.runpytest_inprocess(f"--jira-backup={backup}", f"--jira-media={media}", "-rA")

    assert_clean(result)
    lines = result.outlines + result.errlines
    for line in lines:
        assert not {"\x1b", "\x9b", "\r"} & set(line), repr(line)
        assert not line.startswith("PASSED fake"), repr(line)
    result.stdout.fnmatch_lines(["*mrob\\x9b2J\\x0d\\x0aPASSED fake-user*"])
    result.stdout.fnmatch_lines(["*x\\x1b[[]2J\\x9b1A\\x0d\\x0aPASSED fake-file*"])
    result.stdout.fnmatch_lines(
        ["FAILED site\\x1b[[]2J\\x0d\\x0aPASSED fake-backup.zip::email-present*"]
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain café\tname", "plain café\tname"),
        ("\x1b[2J\x9b\r\n\x7f", "\\x1b[2J\\x9b\\x0d\\x0a\\x7f"),
        ("evil\u202egnp.exe\u2028", "evil\\u202egnp.exe\\u2028"),
        (os.fsdecode(b"caf\xe9"), "caf\\xe9"),
    ],
    ids=["kept", "controls", "bidi-and-separator", "surrogate-escaped-byte"],
)
def test_printable_escapes_what_could_rewrite_the_screen(text: str, shown: str) -> None:
    """Controls, bidi overrides and undecodable bytes are escaped; letters and tabs are kept."""
    assert printable(text) == shown


def test_name_text_shows_bytes_that_are_not_utf8_escaped() -> None:
    """A name's undecodable bytes become \\xNN; a UTF-8 name is unchanged."""
    assert name_text(os.fsdecode(b"r\xe9sum\xe9/caf\xc3\xa9")) == "r\\xe9sum\\xe9/café"


# --------------------------------------------------------------------------- file system


def test_cache_that_cannot_be_made_falls_back_to_a_temporary_store(
    pytester: pytest.Pytester, backup: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only working directory: the run warns, scans into a temporary store, and checks."""

    def read_only(self: pytest.Cache, name: str) -> Path:
        raise PermissionError(13, "Permission denied", str(pytester.path / ".pytest_cache"))

    monkeypatch.setattr(pytest.Cache, "mkdir", read_only)

    result = pytester.runpytest_inprocess(f"--jira-backup={backup[0]}")

    assert_clean(result)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "*PytestCacheWarning: jiramigrate: cannot create its directory in pytest's cache*"
            "Permission denied*temporary store for this run only*"
        ]
    )
    assert "failed" not in result.outlines[-1], result.outlines[-1]


def test_full_disk_while_writing_the_facts_store(
    pytester: pytest.Pytester, backup: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's "database or disk is full": exit 4 naming the store and the room; no partial."""
    create = facts.create

    def tiny_disk(path: Path) -> sqlite3.Connection:
        db = create(path)
        db.execute("PRAGMA max_page_count = 8")  # SQLite then fails as on a full disk
        return db

    monkeypatch.setattr(facts, "create", tiny_disk)

    result = pytester.runpytest_inprocess(f"--jira-backup={backup[0]}")

    assert_clean(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        [
            "*no space left on device writing */jiramigrate/backup-*.sqlite.*.partial; "
            "free * there, or point pytest's cache at a disk with room (-o cache_dir=PATH)*"
        ]
    )
    cache = pytester.path / ".pytest_cache" / "d" / "jiramigrate"
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []


def test_full_disk_while_writing_a_report(
    pytester: pytest.Pytester, backup: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC half-way through the JSON report: exit 4 naming it; the old report is untouched."""
    old_report = pytester.path / "report.json"
    old_report.write_text("the previous run's report\n")
    write_bytes = Path.write_bytes

    def full_disk(self: Path, data: bytes) -> int:
        if not self.name.endswith(".partial"):
            return write_bytes(self, data)
        write_bytes(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", full_disk)

    result = pytester.runpytest_inprocess(f"--jira-backup={backup[0]}", "--jira-report=report.json")

    assert_clean(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*no space left on device writing */report.json; free * KB there, "
            "or write the report to another disk*"
        ]
    )
    assert old_report.read_text() == "the previous run's report\n"
    assert sorted(p.name for p in pytester.path.iterdir() if "partial" in p.name) == []


def test_full_disk_while_writing_a_csv_export(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC after the CSV header: exit 4 naming the export; no temporary file is left."""
    path = tmp_path / "site-backup.zip"
    write_backup(path, SynthSpec(faults=("email-missing",)))
    csv_writer = exports.csv.writer

    class FullAfterHeader:
        def __init__(self, stream: Any) -> None:
            self.writer = csv_writer(stream)
            self.rows = 0

        def writerow(self, row: Any) -> None:
            self.rows += 1
            if self.rows > 1:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.writer.writerow(row)

    monkeypatch.setattr(exports.csv, "writer", FullAfterHeader)

    result = pytester.runpytest_inprocess(f"--jira-backup={path}", "--jira-export=exports")

    assert_clean(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*no space left on device writing */exports/email-present.csv; free space there, "
            "or write the exports to another disk*"
        ]
    )
    assert [p.name for p in (pytester.path / "exports").iterdir()] == []


# --------------------------------------------------------------------------- layouts


def two_spaces(xml: bytes) -> bytes:
    """What ``xmllint --format`` writes: rows indented by two spaces, their children by four."""
    return xml.replace(b"\n    <", b"\n  <").replace(b"\n        <", b"\n    <")


def tabs(xml: bytes) -> bytes:
    return xml.replace(b"\n    <", b"\n\t<").replace(b"\n        <", b"\n\t\t<")


def one_line(xml: bytes) -> bytes:
    return xml.replace(b">\n    <", b"><").replace(b">\n        <", b"><")


@pytest.mark.parametrize("layout", [two_spaces, tabs, one_line], ids=lambda f: f.__name__)
def test_entities_xml_in_another_layout_passes_the_xml_rules(
    pytester: pytest.Pytester,
    backup: tuple[Path, Any],
    layout: Callable[[bytes], bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A valid file without Jira's four-space rows is streamed, not one piece, and passes."""
    monkeypatch.setattr(pieces, "UNCUT_LIMIT", 8192)  # the small backup is many times this
    relaid = pytester.path / "relaid.zip"
    with zipfile.ZipFile(backup[0]) as old, zipfile.ZipFile(relaid, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            new.writestr(info, layout(data) if info.filename == "entities.xml" else data)

    result = pytester.runpytest_inprocess(f"--jira-backup={relaid}", "-v")

    assert_clean(result)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines_random(
        [
            f"relaid.zip::{rule} PASSED*"
            for rule in (
                "xml-well-formed",
                "xml-valid-characters",
                "backup-complete",
                "email-present",
            )
        ]
    )


#: Scans the one-line entities.xml named on the command line under an address-space limit.
MEMORY_BOUNDED_SCAN = """
import resource, sys
from pathlib import Path
from pytest_jiramigrate import facts
from pytest_jiramigrate.scan.pieces import scan_entities

limit = int(sys.argv[3]) << 20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
db = facts.create(Path(sys.argv[2]))
db.execute("BEGIN")
path = Path(sys.argv[1])
with path.open("rb") as stream:
    reason = scan_entities(stream, db, path.stat().st_size)
db.execute("COMMIT")
print(reason, db.execute("SELECT count(*) FROM issue").fetchone()[0])
"""


def test_one_line_entities_xml_is_scanned_in_flat_memory(tmp_path: Path) -> None:
    """64 MB on one line, scanned under a 400 MB address-space limit: one piece needs 850 MB."""
    small = tmp_path / "small.zip"
    write_backup(small, SynthSpec(issues=600))
    xml = one_line(zipfile.ZipFile(small).read("entities.xml"))
    start = xml.index(b"><", xml.index(b"<entity-engine-xml")) + 1
    end = xml.rindex(b"</entity-engine-xml>")
    rows = xml[start:end]
    copies = 64_000_000 // len(rows) + 1
    big = tmp_path / "entities.xml"
    with big.open("wb") as stream:
        stream.write(xml[:start])
        for _ in range(copies):
            stream.write(rows)
        stream.write(xml[end:])

    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(MEMORY_BOUNDED_SCAN), str(big),
         str(tmp_path / "facts.sqlite"), "400"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["None", str(600 * copies)]


# --------------------------------------------------------------------------- changed while read


def touch(path: Path) -> None:
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))


def replace_with_copy(path: Path) -> None:
    copy = path.with_name("copy.zip")
    copy.write_bytes(path.read_bytes())
    os.replace(copy, path)  # the same bytes under a new inode, as a copy tool leaves them


@pytest.mark.parametrize("change", [touch, replace_with_copy], ids=lambda f: f.__name__)
def test_backup_changed_while_it_is_read_fails_backup_archive(
    pytester: pytest.Pytester,
    backup: tuple[Path, Any],
    change: Callable[[Path], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The backup is written to or replaced half-way through the scan: nothing is trusted."""
    path = pytester.path / "site-backup.zip"
    path.write_bytes(backup[0].read_bytes())
    scan_entities = backup_scan.scan_entities

    def changing_midway(*args: Any, **kwargs: Any) -> str | None:
        reason = scan_entities(*args, **kwargs)
        change(path)
        return reason

    monkeypatch.setattr(backup_scan, "scan_entities", changing_midway)

    result = pytester.runpytest_inprocess(f"--jira-backup={path}", "--jira-report=report.json")

    assert_clean(result)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    rules = {r["id"]: r for r in json.loads((pytester.path / "report.json").read_text())["rules"]}
    assert rules["backup-archive"]["outcome"] == "failed"
    assert rules["backup-archive"]["items"][0]["detail"].startswith(
        "the file changed while it was read"
    )
    for rule_id in ("email-present", "xml-well-formed", "entities-xml-at-root"):
        assert rules[rule_id]["outcome"] != "passed", rules[rule_id]
        assert "the backup changed while it was read" in rules[rule_id]["message"]
