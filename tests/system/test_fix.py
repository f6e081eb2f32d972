"""``jiramigrate fix``: the copy passes what the plan covers, and differs only in logged rows."""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from corpus_path import CORPUS
from lxml import etree

from pytest_jiramigrate.commands.clean import backup_members
from pytest_jiramigrate.commands.cli import main
from pytest_jiramigrate.commands.fix.command import row_fixes, write_fixed
from pytest_jiramigrate.commands.fix.plan import (
    LongText,
    Plan,
    PlanError,
    load_plan,
    read_email_changes,
    unneutralise,
)
from pytest_jiramigrate.commands.fix.rewrite import (
    AppDataDropper,
    Edit,
    EntityRewriter,
    Inventory,
    RowFixes,
    ao_prefix,
    memberships_to_drop,
    next_row_start,
)
from pytest_jiramigrate.core.limits import ArchiveLimits
from synth import BACKUP_FAULTS, SynthSpec, write_backup

#: faults that leave nothing to fix (a cut-off file, a trailer that disagrees on purpose),
#: and one that leaves no activeobjects.xml for the app-data fix (tested on its own)
UNFIXABLE = {"truncated", "trailer-mismatch", "missing-activeobjects"}
#: the rules the full plan covers: each must pass on the fixed copy
COVERED = [
    "xml-well-formed",
    "xml-valid-characters",
    "backup-complete",
    "email-present",
    "email-syntax",
    "email-tld",
    "email-domain",
    "email-unique",
    "membership-integrity",
    "text-field-length",
    "summary-length",
]
EMAIL_RULES = ["email-present", "email-syntax", "email-tld", "email-domain", "email-unique"]
MARKER = " [cut for Cloud]"
CORPUS_BACKUPS = sorted(
    str(path.relative_to(CORPUS))
    for path in [*CORPUS.glob("*.zip"), *CORPUS.glob("realworld/*.zip")]
)
GREENHOPPER = "com.pyxis.greenhopper.jira"


def member(path: Path, name: str) -> bytes:
    """The member called ``name``, also in a folder (the ``nested-folder`` fault)."""
    with zipfile.ZipFile(path) as archive:
        (found,) = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == name]
        return archive.read(found)


def run_cli(*args: str | Path) -> int:
    return main(["fix", *map(str, args)])


def verdicts(output: str) -> dict[str, tuple[str, str]]:
    """The printed before/after table: rule -> (before, after)."""
    rows = re.findall(
        r"^[* ] ([a-z][a-z0-9-]+) +(\S+(?: \(\d+\))?) +(\S+(?: \(\d+\))?)$", output, re.M
    )
    return {rule: (before, after) for rule, before, after in rows}


def email_csv(export: Path, out: Path) -> Path:
    """The loop's edit step: the e-mail rules' exports with a new_email column filled in."""
    rows = []
    for rule in EMAIL_RULES:
        with (export / f"{rule}.csv").open(newline="") as stream:
            rows += list(csv.DictReader(stream))
    for shared in [row for row in rows if "users" in row]:  # email-unique: one row per address
        rows.remove(shared)
        user, directory = shared["users"].split("; ")[1], shared["directories"].split("; ")[1]
        rows.append({"user": user, "directory": directory, "directory_id": "", "email": ""})
    with out.open("w", newline="") as stream:
        writer = csv.DictWriter(
            stream, fieldnames=["user", "directory", "directory_id", "email", "new_email"]
        )
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    "user": row["user"],
                    "directory": row["directory"],
                    "directory_id": row["directory_id"],
                    "email": row["email"],
                    "new_email": f"{row['user']}.new@acmecorp.com",
                }
            )
    return out


def full_plan(directory: Path, emails: Path) -> Path:
    plan = directory / "fixes.yaml"
    plan.write_text(
        "characters: true\n"
        "memberships: true\n"
        f"emails: {emails.name}\n"
        "long-text:\n"
        f'  marker: "{MARKER}"\n'
        f"app-data: [{GREENHOPPER}]\n",
        encoding="utf-8",
    )
    return plan


@pytest.fixture(scope="module")
def round_trip(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, Path, str]:
    """A backup with every fixable fault, exported, fixed with a full plan and checked."""
    directory = tmp_path_factory.mktemp("fix")
    source = directory / "site-backup.zip"
    write_backup(source, SynthSpec(faults=[f for f in BACKUP_FAULTS if f not in UNFIXABLE]))
    export = directory / "export"
    check = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    subprocess.run(
        [*check, f"--jira-backup={source}", f"--jira-export={export}"],
        cwd=directory,
        capture_output=True,
        check=False,
    )
    plan = full_plan(directory, email_csv(export, directory / "emails.csv"))
    out, log = directory / "fixed.zip", directory / "changes.csv"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert run_cli(source, "--out", out, "--plan", plan, "--log", log) == 1
    return source, out, log, printed.getvalue()


def test_fixed_copy_passes_every_rule_the_plan_covers(
    round_trip: tuple[Path, Path, Path, str],
) -> None:
    *_, output = round_trip
    table = verdicts(output)
    for rule in COVERED:
        assert table[rule][1] == "passed", (rule, table[rule])
    failed_before = {rule for rule in COVERED if table[rule][0] != "passed"}
    assert failed_before == set(COVERED) - {"xml-well-formed", "backup-complete"}
    assert "exit code 1 (the check of the fixed copy)" in output  # addon_ and others remain


def pieces(xml: bytes) -> list[bytes]:
    """entities.xml cut at every row start (closing tags stay with their row)."""
    cuts = [0]
    while cuts[-1] < len(xml):
        cuts.append(next_row_start(xml, cuts[-1] + 1))
    return [xml[a:b] for a, b in itertools.pairwise(cuts)]


def row_key(piece: bytes) -> tuple[str, str] | None:
    match = re.match(rb'\n    <(\w+)\s[^>]*?\bid="([^"]*)"', piece)
    return None if match is None else (match.group(1).decode(), match.group(2).decode())


def test_every_byte_outside_the_logged_rows_is_unchanged(
    round_trip: tuple[Path, Path, Path, str],
) -> None:
    source, out, log, _ = round_trip
    with log.open(newline="") as stream:
        edits = list(csv.DictReader(stream))
    assert_only_logged_rows_differ(
        member(source, "entities.xml"), member(out, "entities.xml"), edits
    )


def assert_only_logged_rows_differ(
    original: bytes, fixed: bytes, edits: list[dict[str, str]]
) -> None:
    """Row by row: unlogged rows are byte-identical, dropped rows are gone, the trailer
    differs only in the counts of the dropped rows' entity and the total."""
    logged = {(e["entity"], e["id"]) for e in edits if e["fix"] != "app-data"}
    dropped = {(e["entity"], e["id"]) for e in edits if e["note"].startswith("row dropped")}
    before = pieces(original)
    after = pieces(fixed)
    trailer_before, trailer_after = before.pop(), after.pop()
    kept_before = [p for p in before if row_key(p) not in dropped]
    assert len(kept_before) == len(after) == len(before) - len(dropped)
    changed = set()
    for old, new in zip(kept_before, after, strict=True):
        assert row_key(old) == row_key(new)
        if old != new:
            changed.add(row_key(old))
    assert changed | dropped == logged
    # the trailer differs only in the counts the dropped rows lower
    differing = [
        (a, b)
        for a, b in zip(trailer_before.split(b"\n"), trailer_after.split(b"\n"), strict=True)
        if a != b
    ]
    if dropped and b"___ Entities ___" in trailer_before:
        assert sorted(a.split()[0] for a, _ in differing) == [b"Membership", b"Total"]
        assert all(int(a.split()[-1]) - int(b.split()[-1]) == len(dropped) for a, b in differing)
    else:
        assert not differing


def test_app_data_tables_are_gone_and_everything_else_kept(
    round_trip: tuple[Path, Path, Path, str],
) -> None:
    source, out, log, _ = round_trip
    original = member(source, "activeobjects.xml")
    expected = re.sub(
        rb'\n  <table name="AO_60DB71_[^"]*">.*?\n  </table>'
        rb'|\n  <data tableName="AO_60DB71_[^"]*">.*?\n  </data>',
        b"",
        original,
        flags=re.S,
    )
    assert expected != original
    assert member(out, "activeobjects.xml") == expected
    with log.open(newline="") as stream:
        dropped = [e for e in csv.DictReader(stream) if e["fix"] == "app-data"]
    assert {(e["entity"], e["id"], e["key"]) for e in dropped} == {
        (kind, table, GREENHOPPER)
        for kind in ("table", "data")
        for table in ("AO_60DB71_RAPIDVIEW", "AO_60DB71_SPRINT")
    }


def test_long_texts_are_cut_to_the_limit_with_the_marker_and_logged(
    round_trip: tuple[Path, Path, Path, str],
) -> None:
    _, out, log, _ = round_trip
    with log.open(newline="") as stream:
        cuts = [e for e in csv.DictReader(stream) if e["fix"] == "long-text"]
    assert {(e["entity"], e["field"]) for e in cuts} == {
        ("Issue", "summary"),
        ("Issue", "description"),
        ("Action", "body"),
        ("CustomFieldValue", "textvalue"),
        ("Worklog", "body"),
    }
    assert all(re.fullmatch(r"[A-Z]+-\d+", e["key"]) for e in cuts)
    assert all(e["note"].startswith("data lost") for e in cuts)
    root = etree.fromstring(member(out, "entities.xml"), etree.XMLParser(huge_tree=True))
    for edit in cuts:
        (row,) = root.xpath(f"/*/{edit['entity']}[@id='{edit['id']}']")
        text = row.get(edit["field"])
        if text is None:
            text = row.findtext(edit["field"])
        limit = 255 if edit["field"] == "summary" else 32767
        assert len(text) == limit and text.endswith(MARKER)
        assert edit["old"] == f"{int(edit['old'].split()[0])} characters"


def test_emails_and_their_lower_case_copies_are_changed(
    round_trip: tuple[Path, Path, Path, str],
) -> None:
    _, out, log, _ = round_trip
    with log.open(newline="") as stream:
        changes = [e for e in csv.DictReader(stream) if e["fix"] == "emails"]
    root = etree.fromstring(member(out, "entities.xml"), etree.XMLParser(huge_tree=True))
    assert changes
    for change in changes:
        (user,) = root.xpath(f"/*/User[@id='{change['id']}']")
        assert user.get("userName") == change["key"]
        assert user.get("emailAddress") == change["new"]
        assert user.get("lowerEmailAddress") == change["new"].lower()


def test_old_user_format_emails_are_property_rows(tmp_path: Path) -> None:
    source = tmp_path / "old.zip"
    manifest = write_backup(source, SynthSpec(os_user_format=True, faults=["email-no-tld"]))
    victim = next(u for u in manifest.users if u["email"] and "." not in u["email"].split("@")[1])
    emails = tmp_path / "emails.csv"
    emails.write_text(f"user,new_email\n{victim['username']},fixed@acmecorp.com\n")
    plan = tmp_path / "fixes.yaml"
    plan.write_text("emails: emails.csv\n")

    edits = write_fixed(
        source, tmp_path / "out.zip", load_plan(plan), _row_fixes(source, load_plan(plan))
    )

    assert [(e.entity, e.field, e.old, e.new, e.key) for e in edits] == [
        ("OSPropertyString", "value", victim["email"], "fixed@acmecorp.com", victim["username"])
    ]
    assert b'value="fixed@acmecorp.com"' in member(tmp_path / "out.zip", "entities.xml")


def _row_fixes(source: Path, plan: Plan) -> RowFixes:
    return row_fixes(source, plan, ArchiveLimits())


@pytest.mark.parametrize("size", [1, 7, 13, 4099])
def test_block_boundaries_change_nothing(
    round_trip: tuple[Path, Path, Path, str], size: int
) -> None:
    source, *_ = round_trip
    xml = member(source, "entities.xml")
    ao = member(source, "activeobjects.xml")
    fixes = RowFixes(
        drop_memberships={"10010": "test"},
        user_emails={"10001": "a@b.com"},
        long_text=LongText(MARKER),
    )

    def rewrite_entities(blocks: list[bytes]) -> bytes:
        rewriter = EntityRewriter(fixes, "UTF-8", [])
        return b"".join(rewriter.feed(b) for b in blocks) + rewriter.finish()

    def rewrite_ao(blocks: list[bytes]) -> bytes:
        dropper = AppDataDropper([GREENHOPPER], [])
        return b"".join(dropper.feed(b) for b in blocks) + dropper.finish()

    cut = [xml[i : i + size] for i in range(0, len(xml), size)]
    assert rewrite_entities(cut) == rewrite_entities([xml]) != xml
    cut = [ao[i : i + size] for i in range(0, len(ao), size)]
    assert rewrite_ao(cut) == rewrite_ao([ao]) != ao


def test_ao_prefix_of_a_plugin_key_is_the_md5_suffix() -> None:
    assert ao_prefix(GREENHOPPER) == "AO_60DB71"
    assert ao_prefix("com.atlassian.servicedesk") == "AO_54307E"
    assert ao_prefix("ao_4aeacd") == "AO_4AEACD"


def test_dry_run_writes_the_log_and_the_table_but_no_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "site-backup.zip"
    write_backup(source, SynthSpec(faults=["membership-duplicate"]))
    plan = tmp_path / "fixes.yaml"
    plan.write_text("memberships: true\n")
    out, log = tmp_path / "fixed.zip", tmp_path / "changes.csv"

    assert run_cli(source, "--out", out, "--plan", plan, "--log", log, "--dry-run") == 0

    printed = capsys.readouterr().out
    assert verdicts(printed)["membership-integrity"] == ("failed (1)", "passed")
    assert "nothing written (--dry-run)" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "changes.csv",
        "fixes.yaml",
        "site-backup.zip",
    ]
    assert "row dropped: duplicate of id" in log.read_text()


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the real-backup corpus is absent ({CORPUS})")
@pytest.mark.parametrize("name", CORPUS_BACKUPS)
def test_real_backups_are_copied_byte_for_byte_with_an_empty_plan(
    tmp_path: Path, name: str
) -> None:
    source = CORPUS / name
    out = tmp_path / "fixed.zip"

    assert write_fixed(source, out, Plan(), RowFixes()) == []

    with zipfile.ZipFile(source) as before, zipfile.ZipFile(out) as after:
        old = {i.filename.rsplit("/", 1)[-1]: i for i in before.infolist()}
        new = {i.filename.rsplit("/", 1)[-1]: i for i in after.infolist()}
        renamed = {"entities.xml": next(iter(set(old) - set(new)), "entities.xml")}
        for name_after, info in new.items():
            original = old[renamed.get(name_after, name_after)]
            assert after.read(info) == before.read(original), name_after
            assert info.date_time == original.date_time


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the real-backup corpus is absent ({CORPUS})")
@pytest.mark.parametrize("name", CORPUS_BACKUPS)
def test_real_backups_with_a_full_plan_change_only_the_logged_rows(
    tmp_path: Path, name: str
) -> None:
    source = CORPUS / name
    out = tmp_path / "fixed.zip"
    plan = Plan(characters="", memberships=True, long_text=LongText(MARKER), app_data=("x.y",))

    edits = write_fixed(source, out, plan, _row_fixes(source, plan))

    records = [edit.record() for edit in edits]
    (entities,) = [
        m for m, n in backup_members(source, ArchiveLimits()).items() if n == "entities.xml"
    ]
    with zipfile.ZipFile(source) as archive:
        original = archive.read(entities)
    assert_only_logged_rows_differ(original, member(out, "entities.xml"), records)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "characterz: true\n",
            "fixes.yaml:1: characterz: unknown fix (did you mean 'characters'?)",
        ),
        ("memberships: yes please\n", "fixes.yaml:1: memberships: expected true or false"),
        ("long-text: {max_chars: 10}\n", "fixes.yaml:1: long-text.marker: required"),
        ("app-data: []\n", "fixes.yaml:1: app-data: expected plugin keys or AO prefixes"),
        ("emails: nowhere.csv\n", "fixes.yaml:1: emails: "),
        ("characters:\n  replace: '<'\n", "fixes.yaml:2: characters.replace: '<' must be"),
        ("- characters\n", "fixes.yaml:1: expected a mapping of fixes"),
    ],
)
def test_plan_errors_name_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    plan = tmp_path / "fixes.yaml"
    plan.write_text(text)
    with pytest.raises(PlanError) as error:
        load_plan(plan)
    assert str(error.value).startswith(f"{tmp_path}/{message}")


def fail(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    assert run_cli(*args) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("jiramigrate fix: "), error
    return error


def test_email_csv_naming_an_unknown_user_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "site-backup.zip"
    write_backup(source, SynthSpec())
    (tmp_path / "emails.csv").write_text("user,new_email\nnobody,n@acmecorp.com\n")
    plan = tmp_path / "fixes.yaml"
    plan.write_text("emails: emails.csv\n")
    error = fail(capsys, source, "--out", tmp_path / "out.zip", "--plan", plan)
    assert "emails.csv:2: user 'nobody' is not in the backup" in error
    assert not (tmp_path / "out.zip").exists()


@pytest.mark.parametrize("output", ["--out", "--log"])
def test_no_output_is_an_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str
) -> None:
    source = tmp_path / "site-backup.zip"
    write_backup(source, SynthSpec())
    plan = tmp_path / "fixes.yaml"
    plan.write_text("memberships: true\n")
    before = source.read_bytes(), plan.read_bytes()
    targets = {"--out": tmp_path / "out.zip", "--log": tmp_path / "log.csv"}
    for victim in (source, plan, tmp_path / "sub" / ".." / "fixes.yaml"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        args = {**targets, output: victim}
        command = [a for k, v in args.items() for a in (k, v)]
        assert "is an input" in fail(capsys, source, *command, "--plan", plan, "--force")
    assert (source.read_bytes(), plan.read_bytes()) == before
    partial_source = tmp_path / "site-backup.zip.partial"
    partial_source.write_bytes(source.read_bytes())
    assert "is an input" in fail(capsys, partial_source, "--out", source, "--force")
    assert source.read_bytes() == before[0]


def test_checks_ignore_conftest_ini_and_addopts_around_the_backup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checks run pinned to a private directory: nothing beside the backup or in the
    current directory runs, and PYTEST_ADDOPTS cannot load a plugin."""
    source = tmp_path / "site-backup.zip"
    write_backup(source, SynthSpec())
    trap = "raise SystemExit('foreign code ran')\n"
    (tmp_path / "conftest.py").write_text(trap)
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no_such_plugin\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no_such_plugin")

    assert run_cli(source, "--out", tmp_path / "fixed.zip") == 0

    table = verdicts(capsys.readouterr().out)
    assert table["backup-archive"] == ("passed", "passed")
    assert member(tmp_path / "fixed.zip", "entities.xml") == member(source, "entities.xml")


DVCS = "com.atlassian.jira.plugins.jira-bitbucket-connector-plugin"


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the real-backup corpus is absent ({CORPUS})")
def test_app_data_of_a_real_backup_is_dropped_by_plugin_key(tmp_path: Path) -> None:
    """The DVCS connector's key gives AO_E8B6CC, the prefix of its tables in a real 6.4 backup."""
    source, out = CORPUS / "jira-6.4-test-dvcs.zip", tmp_path / "fixed.zip"

    edits = write_fixed(source, out, Plan(app_data=(DVCS,)), RowFixes())

    original = member(source, "activeobjects.xml")
    expected = re.sub(
        rb'\n  <table name="AO_E8B6CC_[^"]*">.*?\n  </table>'
        rb'|\n  <data tableName="AO_E8B6CC_[^"]*">.*?\n  </data>',
        b"",
        original,
        flags=re.S,
    )
    fixed = member(out, "activeobjects.xml")
    assert fixed == expected and b"AO_E8B6CC" in original and b"AO_E8B6CC" not in fixed
    assert etree.fromstring(fixed) is not None
    assert {edit.key for edit in edits} == {DVCS}
    assert member(out, "entities.xml") == member(source, "entities.xml")


def test_memberships_to_drop_keep_the_lowest_id_and_name_the_reason() -> None:
    inventory = Inventory(group_ids={"1", "2"}, user_ids={"7"})
    rows = {
        "100": ("1", "7", "GROUP_USER"),
        "9": ("1", "7", "GROUP_USER"),
        "10": ("1", "7", "GROUP_USER"),
        "11": ("1", "8", "GROUP_USER"),  # no such user
        "12": ("3", "7", "GROUP_USER"),  # no such group
        "13": ("1", "2", "GROUP_GROUP"),
        "14": ("1", "4", "GROUP_GROUP"),  # no such child group
    }
    for row_id, key in rows.items():
        inventory.memberships.setdefault(key, []).append(row_id)

    assert memberships_to_drop(inventory) == {
        "10": "duplicate of id 9",
        "100": "duplicate of id 9",
        "11": "childId 8 has no User row",
        "12": "parentId 3 has no Group row",
        "14": "childId 4 has no Group row",
    }


def test_app_data_dropper_drops_self_closing_blocks_and_only_the_named_prefix() -> None:
    xml = (
        b"<backup>\n"
        b'  <table name="AO_60DB71_SPRINT">\n    <column name="ID"/>\n  </table>\n'
        b'  <table name="AO_60DB710_OTHER">\n  </table>\n'
        b'  <data tableName="AO_60db71_rapidview"/>\n'
        b'  <data tableName="AO_60DB71_SPRINT">\n    <row>\n      <integer>1</integer>\n'
        b"    </row>\n  </data>\n</backup>"
    )
    edits: list[Edit] = []
    dropper = AppDataDropper(["AO_60DB71"], edits)

    fixed = dropper.feed(xml) + dropper.finish()

    assert fixed == b'<backup>\n  <table name="AO_60DB710_OTHER">\n  </table>\n</backup>'
    assert [(e.entity, e.id, e.note.split(" dropped")[0]) for e in edits] == [
        ("table", "AO_60DB71_SPRINT", "table definition"),
        ("data", "AO_60db71_rapidview", "0 rows"),
        ("data", "AO_60DB71_SPRINT", "1 rows"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user,email\nbob,b@acmecorp.com\n", "emails.csv:1: no 'new_email' column"),
        ("user,new_email\nbob,not an address\n", "emails.csv:2: new_email: 'not an address'"),
        (
            "user,new_email\nbob,a@acmecorp.com\nBOB,b@acmecorp.com\n",
            "emails.csv:3: new_email: BOB is given a@acmecorp.com on line 2",
        ),
    ],
)
def test_email_csv_errors_name_file_line_and_column(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "emails.csv"
    path.write_text(text)
    with pytest.raises(PlanError) as error:
        read_email_changes(path)
    assert str(error.value).startswith(f"{tmp_path}/{message}")


def test_email_csv_reads_the_exports_neutralised_cells_back() -> None:
    assert unneutralise("'=cmd") == "=cmd"
    assert unneutralise("'-x") == "-x"
    assert unneutralise("'quoted'") == "'quoted'"


def test_latin_1_backup_gets_values_its_encoding_cannot_hold_as_references(
    tmp_path: Path,
) -> None:
    """A marker or address outside ISO-8859-1 is written as character references, outside
    CDATA (a reference inside CDATA would be read as its letters)."""
    source = tmp_path / "latin1.zip"
    manifest = write_backup(
        source, SynthSpec(encoding="ISO-8859-1", faults=["email-no-tld", "long-description"])
    )
    victim = next(u for u in manifest.users if u["email"] and "." not in u["email"][-5:])
    new_email = f"{victim['username']}\u0107@acmecorp.com"  # ć is not in Latin-1
    (tmp_path / "emails.csv").write_text(f"user,new_email\n{victim['username']},{new_email}\n")
    plan = Plan(emails=tmp_path / "emails.csv", long_text=LongText(" [cut \u2702]"))

    write_fixed(source, tmp_path / "out.zip", plan, _row_fixes(source, plan))

    data = member(tmp_path / "out.zip", "entities.xml")
    assert data.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    root = etree.fromstring(data, etree.XMLParser(huge_tree=True))
    emails = {user.get("userName"): user.get("emailAddress") for user in root.iter("User")}
    assert emails[victim["username"]] == new_email
    cut = [
        text
        for issue in root.iter("Issue")
        if (text := issue.findtext("description") or issue.get("description") or "")
        and len(text) > 255
        and text.endswith("]")
    ]
    assert [(len(text), text[-8:]) for text in cut] == [(32767, " [cut \u2702]")]


def test_old_user_without_an_email_row_is_refused_not_given_a_new_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "old.zip"
    manifest = write_backup(source, SynthSpec(os_user_format=True, faults=["email-missing"]))
    victim = next(u["username"] for u in manifest.users if u["email"] is None)
    (tmp_path / "emails.csv").write_text(f"user,new_email\n{victim},new@acmecorp.com\n")
    plan = tmp_path / "fixes.yaml"
    plan.write_text("emails: emails.csv\n")

    error = fail(capsys, source, "--out", tmp_path / "out.zip", "--plan", plan)

    assert f"emails.csv:2: user '{victim}' has no e-mail property row in the backup" in error
    assert not (tmp_path / "out.zip").exists()


def test_checks_load_the_plugin_when_autoloading_is_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "site-backup.zip"
    write_backup(source, SynthSpec(faults=["control-char"]))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    plan = tmp_path / "fixes.yaml"
    plan.write_text("characters: true\n")

    assert run_cli(source, "--out", tmp_path / "fixed.zip", "--plan", plan) == 0

    assert verdicts(capsys.readouterr().out)["xml-valid-characters"] == ("failed (1)", "passed")


def _long_text_rows(text: str) -> bytes:
    """entities.xml with the comment ``text`` written as Jira writes a multi-line body,
    between rows that are longer than the window of the gap search."""
    filler = "x" * 3000
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<entity-engine-xml>\n'
        f'    <Issue id="1" key="A-1" summary="{"s" * 300}" description="short"/>\n'
        f'    <ChangeItem id="2" group="1" oldstring="{filler}" newstring="{filler}"/>\n'
        f'    <Action id="3" issue="1" type="comment">\n'
        f"        <body><![CDATA[{text}]]></body>\n"
        "    </Action>\n"
        f'    <Worklog id="4" issue="1" body="{"w" * 5000}"/>\n'
        "</entity-engine-xml>\n"
    ).encode()


@pytest.mark.parametrize(
    ("max_chars", "summary_max_chars"),
    [(4000, 255), (1000, 255), (4000, 5000)],
    ids=["gap-search", "name-search", "summary-by-gap"],
)
def test_long_texts_are_found_with_any_limit_and_html_lines_in_them(
    max_chars: int, summary_max_chars: int
) -> None:
    """Each text over its limit is cut whichever way it is found (the gap between rows for
    long limits, the field's name for short ones), also a text whose lines look like closing tags;
    texts and rows under the limits come out byte for byte."""
    # lines at four spaces, closer than a window of the gap search, that are not row starts
    html = ("<p>" + "word " * 300 + "\n    </p>\n") * 12
    xml = _long_text_rows(html)
    edits: list[Edit] = []
    settings = LongText(MARKER, max_chars=max_chars, summary_max_chars=summary_max_chars)
    rewriter = EntityRewriter(RowFixes(long_text=settings), "UTF-8", edits)
    out = b"".join(rewriter.feed(xml[i : i + 997]) for i in range(0, len(xml), 997))
    out += rewriter.finish()

    cut = {(edit.entity, edit.field): edit.old for edit in edits}
    expected = {
        ("Action", "body"): f"{len(html)} characters",
        ("Worklog", "body"): "5000 characters",
    }
    if summary_max_chars < 300:
        expected["Issue", "summary"] = "300 characters"
    assert cut == expected
    root = etree.fromstring(out)
    assert len(root.find("Action").findtext("body")) == max_chars
    assert root.find("Action").findtext("body").endswith(MARKER)
    assert len(root.find("Worklog").get("body")) == max_chars
    assert len(root.find("Issue").get("summary")) == min(300, summary_max_chars)
    unchanged = [line for line in xml.splitlines() if b"ChangeItem" in line]
    assert unchanged == [line for line in out.splitlines() if b"ChangeItem" in line]


def test_corrupt_entities_xml_is_refused_and_no_copy_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The inventory pass does not check the CRC (the copy reads the same bytes with the
    check): a corrupt entities.xml still ends in a one-line error and no copy."""
    valid = tmp_path / "valid.zip"
    write_backup(valid, SynthSpec())
    source = tmp_path / "site-backup.zip"
    with zipfile.ZipFile(valid) as original, zipfile.ZipFile(source, "w") as stored:
        for info in original.infolist():
            stored.writestr(info.filename, original.read(info), zipfile.ZIP_STORED)
    data = bytearray(source.read_bytes())
    at = data.find(b"<Membership ")
    data[at + 1 : at + 2] = b"N"  # <Nembership: the bytes no longer match the CRC
    source.write_bytes(bytes(data))
    plan = tmp_path / "fixes.yaml"
    plan.write_text("memberships: true\n")

    error = fail(capsys, source, "--out", tmp_path / "out.zip", "--plan", plan)

    assert "fails its CRC check" in error
    assert sorted(tmp_path.iterdir()) == sorted([valid, source, plan])
