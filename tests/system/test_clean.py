"""``jiramigrate clean-xml``: the copy differs from the backup only by the forbidden characters."""

from __future__ import annotations

import csv
import json
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import pytest

from pytest_jiramigrate.commands.clean import (
    RowTracker,
    clean_backup,
    issue_keys,
    resolve_issue_keys,
    row_attributes,
    without_zip64,
)
from pytest_jiramigrate.commands.cli import main
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.scan.backup import scan_backup
from synth import Manifest, SynthSpec, write_backup

CHAR_FAULTS = ["control-char", "control-char-changeitem", "fffe", "invalid-utf8", "char-ref"]
#: the facts column whose length a fault in a synthetic field shortens
LENGTH_COLUMNS = {
    ("Issue", "summary"): ("issue", "summary_len"),
    ("Issue", "description"): ("issue", "description_len"),
    ("Action", "body"): ("comment", "body_len"),
}


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    path = tmp_path_factory.mktemp("clean") / "site-backup.zip"
    return path, write_backup(path, SynthSpec(faults=CHAR_FAULTS))


@pytest.fixture(scope="module")
def cleaned(faulty: tuple[Path, Manifest]) -> Path:
    source, _ = faulty
    out = source.with_name("site-backup.clean.zip")
    clean_backup(source, out)
    return out


def member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


@pytest.mark.parametrize("replacement", ["", "?", " "])
def test_copy_is_the_original_with_exactly_the_recorded_spans_replaced(
    faulty: tuple[Path, Manifest], tmp_path: Path, replacement: str
) -> None:
    source, manifest = faulty
    before = source.read_bytes()
    out = tmp_path / "clean.zip"

    changes = clean_backup(source, out, replacement)

    original = member(source, "entities.xml")
    expected = bytearray(original)
    for change in sorted(changes, key=lambda c: c.offset, reverse=True):
        assert original[change.offset : change.offset + len(change.raw)] == change.raw
        expected[change.offset : change.offset + len(change.raw)] = replacement.encode()
    assert member(out, "entities.xml") == bytes(expected)
    assert member(out, "activeobjects.xml") == member(source, "activeobjects.xml")
    assert source.read_bytes() == before
    assert not out.with_name("clean.zip.partial").exists()
    assert sorted((c.offset, c.line, c.column) for c in changes) == sorted(
        (f["offset"], f["line"], f["column"]) for f in manifest.faults
    )


def test_members_keep_names_dates_and_root_placement(
    faulty: tuple[Path, Manifest], cleaned: Path
) -> None:
    source, _ = faulty
    with zipfile.ZipFile(source) as before, zipfile.ZipFile(cleaned) as after:
        assert [(i.filename, i.date_time) for i in after.infolist()] == [
            (i.filename, i.date_time) for i in before.infolist()
        ]
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in after.infolist())
        assert [i.extra for i in after.infolist()] == [i.extra for i in before.infolist()]


def test_changes_name_the_row_entity_id_and_issue_key(faulty: tuple[Path, Manifest]) -> None:
    source, manifest = faulty
    changes = resolve_issue_keys(source, clean_backup(source, source.with_name("keys.zip")))
    found = {(c.offset, c.entity, c.entity_id, c.issue_key) for c in changes}
    assert found == {
        (
            fault["offset"],
            fault["entity"],
            fault["id"],
            fault["issue_key"] if fault["entity"] in ("Issue", "Action") else None,
        )
        for fault in manifest.faults
    }


def test_original_fails_and_copy_passes_the_xml_rules(
    faulty: tuple[Path, Manifest], cleaned: Path, pytester: pytest.Pytester
) -> None:
    source, _ = faulty
    before = pytester.runpytest_inprocess(f"--jira-backup={source}", "-k", "xml", "-rA")
    before.stdout.fnmatch_lines(["FAILED *::xml-valid-characters*"])
    after = pytester.runpytest_inprocess(f"--jira-backup={cleaned}", "-k", "xml", "-rA")
    after.stdout.fnmatch_lines(["PASSED *::xml-well-formed", "PASSED *::xml-valid-characters"])
    assert "failed" not in after.parseoutcomes()
    # the rules -k left out were not checked, so the gate stays shut
    assert after.ret == pytest.ExitCode.TESTS_FAILED


def table_rows(store: Path) -> dict[str, list[tuple[Any, ...]]]:
    db = sqlite3.connect(store)
    try:
        tables = [
            name
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if name not in ("xml_problem", "meta")
        ]
        return {t: sorted(db.execute(f"SELECT * FROM {t}"), key=repr) for t in tables}
    finally:
        db.close()


def test_facts_of_the_copy_are_the_original_facts_less_the_removed_characters(
    faulty: tuple[Path, Manifest], cleaned: Path, tmp_path: Path
) -> None:
    source, manifest = faulty
    scan_backup(source, tmp_path / "before.sqlite", ArchiveLimits())
    scan_backup(cleaned, tmp_path / "after.sqlite", ArchiveLimits())
    before = table_rows(tmp_path / "before.sqlite")
    after = table_rows(tmp_path / "after.sqlite")
    changes = clean_backup(source, tmp_path / "again.zip")
    removed = {(c.entity, c.entity_id): len(c.raw) for c in changes}
    # the scan masks each forbidden character with one `?` per byte, so a text's
    # length shrinks by the bytes removed from it
    expected = dict(before)
    for fault in manifest.faults:
        target = LENGTH_COLUMNS.get((fault["entity"], fault["field"]))
        if target is None:
            continue  # ChangeItem rows are not facts
        table, column = target
        names = [
            c[1]
            for c in sqlite3.connect(tmp_path / "before.sqlite").execute(
                f"PRAGMA table_info({table})"
            )
        ]
        index = names.index(column)
        expected[table] = sorted(
            (
                (
                    *row[:index],
                    row[index] - removed[fault["entity"], fault["id"]],
                    *row[index + 1 :],
                )
                if row[0] == fault["id"]
                else row
                for row in expected[table]
            ),
            key=repr,
        )
    size_change = sum(removed.values())
    expected["member"] = [
        (name, None, size - size_change if name == "entities.xml" else size, *rest)
        for name, _compressed, size, *rest in before["member"]
    ]
    after["member"] = [(name, None, *rest) for name, _compressed, *rest in after["member"]]
    assert after == expected
    assert sum(1 for f in manifest.faults if (f["entity"], f["field"]) in LENGTH_COLUMNS) == 4


@pytest.mark.parametrize("block", [5, 6, 7, 4099])
def test_block_boundaries_change_nothing(
    faulty: tuple[Path, Manifest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Rows, characters and references cut between blocks are found as in one piece."""
    source, _ = faulty
    whole = clean_backup(source, tmp_path / "whole.zip")
    monkeypatch.setattr("pytest_jiramigrate.commands.clean.BLOCK", block)
    pieces = clean_backup(source, tmp_path / "pieces.zip")
    assert pieces == whole
    assert member(tmp_path / "pieces.zip", "entities.xml") == member(
        tmp_path / "whole.zip", "entities.xml"
    )


def test_row_tracker_reads_a_row_start_cut_anywhere_between_blocks() -> None:
    text = b'<x>\n    <Group id="1"/>\n    <Action id="7" issue="3" body="a\x01"/>\n'
    bad = text.index(b"\x01")
    for cut in range(1, bad):
        rows = RowTracker()
        first, second = text[:cut], text[cut:]
        rows.begin(first)
        rows.end(first)
        rows.begin(second)
        entity, attributes = rows.enclosing(second, bad - cut)
        assert (entity, attributes.get("id"), attributes.get("issue")) == ("Action", "7", "3"), cut
    assert row_attributes(b"</Action>") == (None, {})


def test_issue_keys_from_project_and_number_when_the_row_has_no_key() -> None:
    rows = (
        b'<entity-engine-xml>\n    <Issue id="5" number="12" project="9" summary="s"/>\n'
        b'    <Issue id="6" number="1" project="9"/>\n    <Project id="9" name="n" key="OPS"/>\n'
    )
    blocks = [rows[i : i + 11] for i in range(0, len(rows), 11)]
    assert issue_keys(blocks, {"5"}) == {"5": "OPS-12"}


def run_cli(*args: str | Path) -> int:
    return main(["clean-xml", *map(str, args)])


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_command_writes_copy_and_log(
    faulty: tuple[Path, Manifest],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    suffix: str,
) -> None:
    source, manifest = faulty
    out, log = tmp_path / "out.zip", tmp_path / f"changes{suffix}"

    assert run_cli(source, "--out", out, "--log", log, "--replace", "?") == 0

    assert "replaced 5 forbidden characters" in capsys.readouterr().out
    if suffix == ".json":
        records = json.loads(log.read_text())
    else:
        with log.open(newline="") as stream:
            records = list(csv.DictReader(stream))
    by_line = {int(r["line"]): r for r in records}
    assert len(records) == len(manifest.faults)
    for fault in manifest.faults:
        record = by_line[fault["line"]]
        assert int(record["column"]) == fault["column"]
        assert (record["entity"], record["entity_id"]) == (fault["entity"], fault["id"])
        if fault["entity"] in ("Issue", "Action"):
            assert record["issue_key"] == fault["issue_key"]
    assert (
        by_line[next(f["line"] for f in manifest.faults if f["fault"] == "fffe")]["codepoint"]
        == "U+FFFE"
    )
    assert (
        by_line[next(f["line"] for f in manifest.faults if f["fault"] == "invalid-utf8")]["bytes"]
        == "c3"
    )


def test_nested_backup_gets_its_xml_at_the_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "nested.zip"
    write_backup(source, SynthSpec(faults=["nested-folder", "control-char"]))
    out = tmp_path / "out.zip"

    assert run_cli(source, "--out", out) == 0

    assert f"wrote backup/entities.xml as entities.xml at the root of {out}" in (
        capsys.readouterr().out
    )

    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["activeobjects.xml", "entities.xml"]
        assert b"\x01" not in archive.read("entities.xml")


def refuse(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    assert run_cli(*args) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("jiramigrate clean-xml: ")
    return error


def test_refuses_existing_output_unless_forced(
    faulty: tuple[Path, Manifest], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, _ = faulty
    out = tmp_path / "out.zip"
    out.write_bytes(b"keep")
    assert "already exists" in refuse(capsys, source, "--out", out)
    assert out.read_bytes() == b"keep"
    assert "is an input" in refuse(capsys, source, "--out", source, "--force")
    assert run_cli(source, "--out", out, "--force") == 0
    assert zipfile.is_zipfile(out)


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"notes.txt": b"hello"}, "holds no entities.xml"),
        (
            {"entities.xml": '<?xml version="1.0"?><entity-engine-xml/>'.encode("utf-16")},
            "UTF-16",
        ),
    ],
)
def test_unusable_backup_leaves_no_output(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    members: dict[str, bytes],
    message: str,
) -> None:
    source = tmp_path / "backup.zip"
    with zipfile.ZipFile(source, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    out = tmp_path / "out.zip"
    assert message in refuse(capsys, source, "--out", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.zip"]


def test_not_a_zip_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "backup.zip"
    source.write_bytes(b"not a zip at all")
    assert "cannot be read as a zip" in refuse(capsys, source, "--out", tmp_path / "out.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.zip"]


def test_damaged_member_removes_the_partial_copy(
    faulty: tuple[Path, Manifest], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, _ = faulty
    damaged = tmp_path / "damaged.zip"
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        info = archive.getinfo("entities.xml")
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[middle : middle + 64] = bytes(64)
    damaged.write_bytes(bytes(data))
    refuse(capsys, damaged, "--out", tmp_path / "out.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.zip"]


def test_replacement_must_be_one_harmless_xml_character(
    faulty: tuple[Path, Manifest], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, _ = faulty
    for bad in ("<", "ab", "\x01"):
        with pytest.raises(SystemExit):
            run_cli(source, "--out", tmp_path / "out.zip", "--replace", bad)
        assert "--replace" in capsys.readouterr().err


def test_misnamed_entities_file_is_written_as_entities_xml(
    faulty: tuple[Path, Manifest], tmp_path: Path
) -> None:
    source = tmp_path / "renamed.zip"
    with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export-2024.xml", member(faulty[0], "entities.xml"))
    out = tmp_path / "out.zip"

    assert run_cli(source, "--out", out) == 0

    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == ["entities.xml"]


def test_extra_fields_are_kept_except_zip64() -> None:
    timestamp = bytes.fromhex("5554 0500 03f1867940")  # extended timestamp, 5 bytes
    zip64 = bytes.fromhex("0100 0800") + bytes(8)
    unix = bytes.fromhex("7578 0b00 0104e8030000 04e8030000")
    assert without_zip64(timestamp + zip64 + unix) == timestamp + unix


def test_work_file_of_the_output_is_never_the_source(
    faulty: tuple[Path, Manifest], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``clean-xml SRC.partial --out SRC`` would write its work file over the source."""
    source = tmp_path / "site-backup.zip.partial"
    source.write_bytes(faulty[0].read_bytes())
    before = source.read_bytes()
    assert "is an input" in refuse(capsys, source, "--out", tmp_path / "site-backup.zip")
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site-backup.zip.partial"]


@pytest.mark.parametrize("how", ["symlink", "hardlink", "dotdot"])
@pytest.mark.parametrize("option", ["--out", "--log"])
def test_no_output_is_the_source_under_another_name(
    faulty: tuple[Path, Manifest],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    how: str,
    option: str,
) -> None:
    source = tmp_path / "site-backup.zip"
    source.write_bytes(faulty[0].read_bytes())
    before = source.read_bytes()
    (tmp_path / "sub").mkdir()
    alias = tmp_path / "alias.zip"
    if how == "symlink":
        alias.symlink_to(source)
    elif how == "hardlink":
        alias.hardlink_to(source)
    else:
        alias = tmp_path / "sub" / ".." / "site-backup.zip"
    outputs = {"--out": tmp_path / "out.zip", "--log": tmp_path / "log.csv", option: alias}
    args = [arg for name, path in outputs.items() for arg in (name, path)]
    assert "is an input" in refuse(capsys, source, *args, "--force")
    assert source.read_bytes() == before


def test_log_cells_are_spreadsheet_safe_and_unescaped(tmp_path: Path) -> None:
    source = tmp_path / "backup.zip"
    rows = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<entity-engine-xml>\n'
        '    <Issue id="=1+2" key="&quot;K&amp;-1" summary="a\x01"/>\n</entity-engine-xml>\n'
    )
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("entities.xml", rows)
    log = tmp_path / "log.csv"

    assert run_cli(source, "--out", tmp_path / "out.zip", "--log", log) == 0

    with log.open(newline="") as stream:
        (record,) = list(csv.DictReader(stream))
    assert (record["entity_id"], record["issue_key"]) == ("'=1+2", '"K&-1')
