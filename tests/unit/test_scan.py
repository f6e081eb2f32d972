"""scan_backup and EntitiesScan: the facts store holds exactly what the backup says.

Truth comes from outside the scanner: the synth manifest (counts, header, the
located faults), a full lxml parse of the same small file, or XML written by
hand in the test.  Every assertion reads the store with SQL, as the rules do.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.scan.backup import scan_backup
from pytest_jiramigrate.scan.entities import parse_header
from synth import Manifest, SynthSpec, write_backup

AO_NS = "{http://www.atlassian.com/ao}"
MINIMAL_AO = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    '<backup xmlns="http://www.atlassian.com/ao">\n'
    '  <table name="AO_T"><column name="ID"/></table>\n'
    '  <data tableName="AO_T"><column name="ID"/><row><integer>1</integer></row></data>\n'
    "</backup>\n"
)
CHAR_FAULTS = ["control-char", "control-char-changeitem", "fffe", "invalid-utf8", "char-ref"]


# --------------------------------------------------------------------------- helpers


def write_zip(
    path: Path, entities: bytes | str, activeobjects: bytes | str | None = MINIMAL_AO
) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("entities.xml", entities)
        if activeobjects is not None:
            archive.writestr("activeobjects.xml", activeobjects)
    return path


def scan(backup: Path) -> sqlite3.Connection:
    """Scan ``backup`` into a store next to it and open that store."""
    store = backup.with_suffix(".facts.db")
    scan_backup(backup, store, ArchiveLimits())
    return sqlite3.connect(store)


def scan_xml(
    tmp_path: Path, entities: bytes | str, activeobjects: bytes | str = MINIMAL_AO
) -> sqlite3.Connection:
    return scan(write_zip(tmp_path / "backup.zip", entities, activeobjects))


def one(db: sqlite3.Connection, sql: str, params: tuple[object, ...] = ()) -> Any:
    return db.execute(sql, params).fetchone()[0]


def meta(db: sqlite3.Connection) -> dict[str, str]:
    return dict(db.execute("SELECT key, value FROM meta").fetchall())


def sources(db: sqlite3.Connection) -> dict[str, str | None]:
    return dict(db.execute("SELECT name, reason FROM source").fetchall())


def problems(db: sqlite3.Connection, file: str = "entities.xml") -> list[tuple[object, ...]]:
    """(kind, line, column, entity, entity_id, codepoint) of each XML problem in ``file``."""
    return db.execute(
        "SELECT kind, line, column, entity, entity_id, codepoint FROM xml_problem WHERE file = ?"
        " ORDER BY rowid",
        (file,),
    ).fetchall()


def entity_counts(db: sqlite3.Connection) -> dict[str, int]:
    return dict(db.execute("SELECT entity, rows FROM entity_count WHERE file = 'entities.xml'"))


def dump(db: sqlite3.Connection) -> str:
    """Every value of every table, as text, to search for something that must not be there."""
    tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return "\n".join(repr(db.execute(f"SELECT * FROM {table}").fetchall()) for table in tables)


def zip_member(manifest: Manifest, member: str) -> bytes:
    with zipfile.ZipFile(manifest.zip_path) as archive:
        return archive.read(member)


def field(row: etree._Element, name: str) -> str | None:
    """A row's field read the plain way: attribute, else the child's full text."""
    if row.get(name) is not None:
        return row.get(name)
    child = row.find(name)
    return None if child is None else "".join(str(text) for text in child.itertext())


def field_lengths(
    tree: etree._Element,
    entity: str,
    name: str,
    keep: Callable[[etree._Element], bool] = lambda row: True,
    skip_missing: bool = False,
) -> Counter[tuple[str, int | None]]:
    """(id, length of ``name``) of each ``entity`` row that ``keep`` accepts."""
    found: Counter[tuple[str, int | None]] = Counter()
    for row in tree.iter(entity):
        value = field(row, name)
        if keep(row) and not (skip_missing and value is None):
            found[(row.get("id", ""), None if value is None else len(value))] += 1
    return found


def synth(directory: Path, **fields: object) -> tuple[Manifest, sqlite3.Connection]:
    manifest = write_backup(directory / "backup.zip", SynthSpec(**fields))  # type: ignore[arg-type]
    return manifest, scan(Path(manifest.zip_path))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Manifest, sqlite3.Connection]:
    """The default synthetic backup, scanned once for the tests that only read it."""
    return synth(tmp_path_factory.mktemp("clean"))


@pytest.fixture(scope="module")
def clean_tree(clean: tuple[Manifest, sqlite3.Connection]) -> etree._Element:
    """The clean backup's entities.xml parsed whole: the independent truth for small files."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    return etree.fromstring(zip_member(clean[0], "entities.xml"), parser)


# --------------------------------------------------------------------------- synthetic backup


def test_entity_counts_equal_the_manifest(clean: tuple[Manifest, sqlite3.Connection]) -> None:
    manifest, db = clean
    assert entity_counts(db) == manifest.counts
    assert one(db, "SELECT count(*) FROM user") == manifest.counts["User"] == len(manifest.users)
    assert one(db, "SELECT count(*) FROM issue") == manifest.counts["Issue"]
    assert one(db, "SELECT count(*) FROM attachment") == manifest.counts["FileAttachment"]
    assert problems(db) == []
    assert set(sources(db).values()) == {None}


def test_trailer_counts_are_parsed(clean: tuple[Manifest, sqlite3.Connection]) -> None:
    manifest, db = clean
    declared = dict(db.execute("SELECT entity, declared FROM trailer_count"))
    assert declared.pop("Total") == sum(manifest.counts.values())
    assert declared == manifest.counts
    assert meta(db)["trailer"] == "present"


def test_jira8_header_is_parsed(clean: tuple[Manifest, sqlite3.Connection]) -> None:
    manifest, db = clean
    found = meta(db)
    assert found["jira_version"] == manifest.jira_version == "8.20.10"
    assert found["jira_build"] == str(manifest.build_number)
    assert found["base_url"] == manifest.spec.base_url
    assert found["backup_date"].isdigit()


def test_users_match_the_manifest(clean: tuple[Manifest, sqlite3.Connection]) -> None:
    manifest, db = clean
    stored = {
        row[0]: row[1:]
        for row in db.execute("SELECT user_name, email, active, directory_id, source FROM user")
    }
    expected = {
        user["username"]: (user["email"], int(user["active"]), str(user["directory_id"]), "User")
        for user in manifest.users
    }
    assert stored == expected


def test_row_facts_equal_a_full_parse_of_the_same_file(
    clean: tuple[Manifest, sqlite3.Connection], clean_tree: etree._Element
) -> None:
    _, db = clean

    def lengths(entity: str, name: str, **options: Any) -> Counter[tuple[str, int | None]]:
        return field_lengths(clean_tree, entity, name, **options)

    issues = Counter(db.execute("SELECT id, summary_len FROM issue"))
    assert issues == lengths("Issue", "summary")
    descriptions = Counter(db.execute("SELECT id, description_len FROM issue"))
    assert descriptions == lengths("Issue", "description")
    comments = Counter(db.execute("SELECT id, body_len FROM comment"))
    assert comments == lengths("Action", "body", keep=lambda row: row.get("type") == "comment")
    custom = Counter(db.execute("SELECT id, text_len FROM custom_text"))
    assert custom == lengths("CustomFieldValue", "textvalue", skip_missing=True)
    keys = dict(db.execute("SELECT id, key FROM issue"))
    assert keys == {row.get("id"): row.get("key") for row in clean_tree.iter("Issue")}


def test_attachments_and_projects(
    clean: tuple[Manifest, sqlite3.Connection], clean_tree: etree._Element
) -> None:
    _, db = clean
    attachments = set(
        db.execute("SELECT id, issue_id, filename, filesize, mimetype FROM attachment")
    )
    assert attachments == {
        (
            row.get("id"),
            row.get("issue"),
            row.get("filename"),
            int(row.get("filesize", "")),
            row.get("mimetype"),
        )
        for row in clean_tree.iter("FileAttachment")
    }
    projects = set(db.execute("SELECT key, original_key FROM project"))
    assert projects == {("ACME", "ACME"), ("WEB", "SITE"), ("OPS", "OPS")}


def test_properties_are_read(clean: tuple[Manifest, sqlite3.Connection]) -> None:
    manifest, db = clean
    assert dict(db.execute("SELECT key, value FROM property")) == {
        "jira.baseurl": manifest.spec.base_url,
        "jira.title": "Acme Corp Jira",
        "jira.mail.send.disabled": "1",  # an OSPropertyNumber (Jira's booleans)
    }


def test_os_user_format_users_get_their_emails(tmp_path: Path) -> None:
    manifest, db = synth(tmp_path, os_user_format=True)
    stored = dict(db.execute("SELECT user_name, email FROM user WHERE source = 'OSUser'"))
    assert stored == {user["username"]: user["email"] for user in manifest.users}
    assert one(db, "SELECT count(*) FROM user WHERE source != 'OSUser'") == 0


# --------------------------------------------------------------------------- headers


def test_jira64_corpus_header_and_counts(tmp_path: Path, corpus: Path) -> None:
    backup = shutil.copy(corpus / "jira-6.4-test-dvcs.zip", tmp_path / "backup.zip")
    db = scan(Path(backup))
    found = meta(db)
    assert (found["jira_version"], found["jira_build"], found["base_url"]) == (
        "6.4-OD-16-005",
        "64014",
        "http://localhost:2990/jira",
    )
    with zipfile.ZipFile(backup) as archive:
        root = etree.fromstring(archive.read("entities.xml"))
    assert entity_counts(db) == Counter(row.tag for row in root if isinstance(row.tag, str))
    assert set(sources(db).values()) == {None}
    assert one(db, "SELECT count(*) FROM ao_table") > 0


def header(*lines: str) -> str:
    body = "".join(f"     {line}\n" for line in lines)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!-- \n\n___ Environment ___\n\n'
        f"{body}\n -->\n<entity-engine-xml>\n</entity-engine-xml>\n"
    )


def test_jira4_header_with_application_properties(tmp_path: Path) -> None:
    """The whole shape of a real 4.0 export (TestXMLRestore.xml of jira-testkit)."""
    db = scan_xml(
        tmp_path,
        header(
            "JIRA Build                          : Enterprise Edition, Version: 4.0-SNAPSHOT-#429",
            "Java Version                        : 1.5.0_16 - Apple Inc.",
            "Database Version                    : HSQL Database Engine - 1.8.0",
            "Edition                             : Enterprise",
            "Version                             : 4.0-SNAPSHOT",
            "Build #                             : 429",
        ),
    )
    assert (meta(db)["jira_version"], meta(db)["jira_build"]) == ("4.0-SNAPSHOT", "429")


@pytest.mark.parametrize(
    ("build_line", "version", "build"),
    [
        ("4.0.2#472", "4.0.2", "472"),
        ("5.0-SNAPSHOT#700-r158478", "5.0-SNAPSHOT", "700"),
        ("5.1-SNAPSHOT#756-sha1:4d76d77ecfafcaa24ec3a4e624249d8e11794a76", "5.1-SNAPSHOT", "756"),
        ("6.4-OD-16-005#64014-sha1:3f74600e", "6.4-OD-16-005", "64014"),
        ("Enterprise Edition, Version: 4.0-SNAPSHOT-#429", "4.0-SNAPSHOT", "429"),
        ("Enterprise Edition, Version: 3.13-#335", "3.13", "335"),
    ],
)
def test_jira_build_line_alone(tmp_path: Path, build_line: str, version: str, build: str) -> None:
    """Without a 'Version'/'Build #' section the JIRA Build line must give both."""
    db = scan_xml(tmp_path, header(f"JIRA Build                          : {build_line}"))
    assert (meta(db).get("jira_version"), meta(db).get("jira_build")) == (version, build)


def test_plugin_versions_later_in_the_header_do_not_win() -> None:
    comment = "\n".join(
        [
            "     JIRA Build : 6.4-OD-16-005#64014-sha1:3f74600e",
            "     Version    : 6.4-OD-16-005",
            "     Build #    : 64014",
            "     Base URL   : http://localhost:2990/jira",
            "          Version : 1.2.1",
            "          Build # : 7",
        ]
    )
    assert parse_header(comment) == {
        "jira_version": "6.4-OD-16-005",
        "jira_build": "64014",
        "base_url": "http://localhost:2990/jira",
    }


# --------------------------------------------------------------------------- hand-written rows

HAND = """<?xml version="1.0" encoding="UTF-8"?>
<entity-engine-xml date="1700000000000">
    <Action id="1" issue="100" type="comment" body="hey"/>
    <Action id="2" issue="100" type="comment">
        <body><![CDATA[a
bc]]></body>
    </Action>
    <Action id="3" issue="100" type="assign" body="ignored"/>
    <CustomFieldValue id="1" issue="100" customfield="10000" textvalue="abc"/>
    <CustomFieldValue id="2" issue="100" customfield="10001" stringvalue="only a string"/>
    <CustomFieldValue id="3" issue="101" customfield="10000">
        <textvalue><![CDATA[x
]]><![CDATA[yz]]></textvalue>
    </CustomFieldValue>
    <FileAttachment id="7" issue="100" filename="a b.png" filesize="123" mimetype="image/png"/>
    <Issue id="100" project="10" number="3" summary="hello">
        <description><![CDATA[ab]]><![CDATA[cd]]></description>
    </Issue>
    <Issue id="101" project="11" key="NEW-7" number="7">
        <summary><![CDATA[line1
line2]]></summary>
    </Issue>
    <OSPropertyEntry id="1" entityName="OSUser" entityId="7" propertyKey="email" type="5"/>
    <OSPropertyEntry id="2" entityName="jira.properties" entityId="1" propertyKey="jira.baseurl"/>
    <OSPropertyEntry id="3" entityName="jira.properties" entityId="1" propertyKey="jira.title"/>
    <OSPropertyEntry id="4" entityName="OSUser" entityId="7" propertyKey="fullName" type="5"/>
    <OSPropertyString id="1" value="fred@example.org"/>
    <OSPropertyString id="2">
        <value><![CDATA[http://old.example.org]]><![CDATA[/jira]]></value>
    </OSPropertyString>
    <OSPropertyString id="3" value="Old &amp; Gold"/>
    <OSPropertyString id="4" value="Fred Flint"/>
    <OSUser id="7" name="Fred"/>
    <OSUser id="8" name="Wilma"/>
    <Project id="10" key="ABC" name="Alpha"/>
    <Project id="11" key="NEW" originalkey="OLD" name="Renamed"/>
    <User id="20" directoryId="1" userName="Alice" active="1" emailAddress="alice@example.org"/>
</entity-engine-xml>
"""


@pytest.fixture
def hand(tmp_path: Path) -> sqlite3.Connection:
    return scan_xml(tmp_path, HAND)


def test_hand_written_issues(hand: sqlite3.Connection) -> None:
    rows = set(
        hand.execute("SELECT id, key, number, project_id, summary_len, description_len FROM issue")
    )
    assert rows == {
        ("100", "ABC-3", 3, "10", 5, 4),  # key from project key + number; split CDATA joined
        ("101", "NEW-7", 7, "11", 11, None),  # summary as a child; no description
    }
    assert problems(hand) == []


def test_hand_written_comments_skip_other_actions(hand: sqlite3.Connection) -> None:
    assert set(hand.execute("SELECT id, issue_id, body_len FROM comment")) == {
        ("1", "100", 3),
        ("2", "100", 4),
    }
    assert entity_counts(hand)["Action"] == 3


def test_hand_written_custom_text_only_for_textvalue(hand: sqlite3.Connection) -> None:
    assert set(hand.execute("SELECT id, issue_id, custom_field, text_len FROM custom_text")) == {
        ("1", "100", "10000", 3),
        ("3", "101", "10000", 4),
    }


def test_hand_written_attachment(hand: sqlite3.Connection) -> None:
    assert hand.execute("SELECT * FROM attachment").fetchall() == [
        ("7", "100", "a b.png", 123, "image/png")
    ]


def test_hand_written_projects_original_key(hand: sqlite3.Connection) -> None:
    assert set(hand.execute("SELECT id, key, original_key FROM project")) == {
        ("10", "ABC", "ABC"),
        ("11", "NEW", "OLD"),
    }


def test_hand_written_users_from_user_and_osuser_rows(hand: sqlite3.Connection) -> None:
    rows = set(hand.execute("SELECT id, user_name, lower_user_name, email, source FROM user"))
    assert rows == {
        ("20", "Alice", "alice", "alice@example.org", "User"),
        ("7", "Fred", "fred", "fred@example.org", "OSUser"),  # e-mail row came first
        ("8", "Wilma", "wilma", None, "OSUser"),
    }


def test_hand_written_properties(hand: sqlite3.Connection) -> None:
    assert dict(hand.execute("SELECT key, value FROM property")) == {
        "jira.baseurl": "http://old.example.org/jira",
        "jira.title": "Old & Gold",
    }
    assert meta(hand)["backup_date"] == "1700000000000"


# --------------------------------------------------------------------------- invalid characters


@pytest.mark.parametrize("fault", CHAR_FAULTS)
def test_invalid_character_fault_is_located_and_other_facts_survive(
    tmp_path: Path, fault: str, clean: tuple[Manifest, sqlite3.Connection]
) -> None:
    manifest, db = synth(tmp_path, faults=[fault])
    record = manifest.fault(fault)
    assert problems(db) == [
        (
            "invalid-char",
            record["line"],
            record["column"],
            record["entity"],
            record["id"],
            record.get("codepoint"),
        )
    ]
    if "byte" in record:
        detail = one(db, "SELECT detail FROM xml_problem")
        assert f"{record['byte']:02x}" in str(detail)
    clean_db = clean[1]
    for table in ("user", "issue", "comment", "custom_text", "attachment", "membership"):
        assert one(db, f"SELECT count(*) FROM {table}") == one(
            clean_db, f"SELECT count(*) FROM {table}"
        )
    assert entity_counts(db) == manifest.counts
    assert set(sources(db).values()) == {None}


LATIN1_TEXT = (
    '<?xml version="1.0" encoding="{encoding}"?>\n'
    "<entity-engine-xml>\n"
    '    <User id="1" userName="jose" lowerUserName="jose" displayName="José Núñez"/>\n'
    "</entity-engine-xml>\n"
)


def test_latin1_backup_scans_clean(tmp_path: Path) -> None:
    data = LATIN1_TEXT.format(encoding="ISO-8859-1").encode("latin-1")
    assert b"Jos\xe9" in data
    db = scan_xml(tmp_path, data)
    assert problems(db) == []
    assert db.execute("SELECT display_name FROM user").fetchall() == [("José Núñez",)]


def test_latin1_bytes_declared_utf8_are_invalid_utf8(tmp_path: Path) -> None:
    text = LATIN1_TEXT.format(encoding="UTF-8")
    db = scan_xml(tmp_path, text.encode("latin-1"))
    line = text.splitlines()[2]
    expected = [("invalid-char", 3, line.index(char) + 1, "User", "1", None) for char in "éúñ"]
    assert problems(db) == expected


# --------------------------------------------------------------------------- not well-formed


def test_truncated_synth_backup(tmp_path: Path) -> None:
    manifest, db = synth(tmp_path, faults=["truncated"])
    data = zip_member(manifest, "entities.xml")
    assert len(data) == manifest.fault("truncated")["offset"]
    last_line = data.count(b"\n") + 1
    [(kind, line, column, *_)] = problems(db)
    assert (kind, line) == ("not-well-formed", last_line)
    assert isinstance(column, int) and column >= 1
    reason = sources(db)["entities"]
    assert reason is not None and f"line {last_line}" in reason
    assert sources(db)["entities.xml"] is None
    assert one(db, "SELECT count(*) FROM user") == len(manifest.users)


@pytest.mark.parametrize(
    "cut_after",
    [
        '<Issue id="100" project="1',  # inside an attribute value
        '<Issue id="100" project="10" number="3" summary="hello">',  # between start and end tag
        "<description><![CDATA[a",  # inside a CDATA section
        "<![CDATA[line1\n",  # inside a CDATA section, after a newline
    ],
)
def test_hand_made_cut(tmp_path: Path, cut_after: str) -> None:
    data = HAND[: HAND.index(cut_after) + len(cut_after)]
    db = scan_xml(tmp_path, data)
    [(kind, line, column, *_)] = problems(db)
    assert kind == "not-well-formed"
    assert line == data.count("\n") + 1 and isinstance(column, int)
    reason = sources(db)["entities"]
    assert reason is not None and f"line {line}" in reason
    assert sources(db)["entities.xml"] is None
    # the rows before the cut were read
    assert set(one(db, "SELECT group_concat(id) FROM comment").split(",")) == {"1", "2"}


def test_garbage_after_the_root_is_reported(tmp_path: Path) -> None:
    data = HAND + "<Issue id='999'/>\n"
    db = scan_xml(tmp_path, data)
    assert [(kind, line, column) for kind, line, column, *_ in problems(db)] == [
        ("not-well-formed", HAND.count("\n") + 1, 1)
    ]
    assert sources(db)["entities"] is not None


def test_rows_before_a_syntax_error_in_the_same_chunk_are_kept(tmp_path: Path) -> None:
    db = scan_xml(tmp_path, HAND + "<Issue id='999'/>\n")
    assert one(db, "SELECT count(*) FROM user") == 3
    assert entity_counts(db)["Action"] == 3


#: scan_backup in a fresh interpreter, its address space bounded once the imports are done
_LIMITED_SCAN = """
import json, re, resource, sys, tracemalloc
from pathlib import Path
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.scan.backup import scan_backup

status = Path("/proc/self/status").read_text()
in_use = int(re.search(r"^VmSize:\\s+(\\d+) kB", status, re.M).group(1)) * 1024
limit = in_use + int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
tracemalloc.start()
scan_backup(Path(sys.argv[1]), Path(sys.argv[2]), ArchiveLimits())
print(json.dumps({"python_peak": tracemalloc.get_traced_memory()[1]}))
"""


@pytest.fixture
def scan_within(tmp_path: Path) -> Callable[[Path, Path, int], dict[str, int]]:
    """``scan_within(backup, store, budget)``: scan with ``budget`` more bytes of address space.

    The limit (RLIMIT_AS, set in a child process after its imports) counts
    libxml2's allocations, which tracemalloc does not see: a scan that expands
    an entity or keeps a whole tree runs out of memory and the child fails.
    Returns the child's report: ``python_peak`` is the peak that tracemalloc saw.
    """
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/self/status: Linux only")

    def scan(backup: Path, store: Path, budget: int) -> dict[str, int]:
        command = [sys.executable, "-c", _LIMITED_SCAN, str(backup), str(store), str(budget)]
        child = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert child.returncode == 0, f"the scan needs more than {budget:,} bytes:\n{child.stderr}"
        return json.loads(child.stdout)

    return scan


def test_billion_laughs_is_refused_within_50_mb(tmp_path: Path, scan_within: Any) -> None:
    entities = "".join(f'<!ENTITY l{level} "{f"&l{level - 1};" * 10}">\n' for level in range(1, 10))
    data = (
        '<?xml version="1.0"?>\n<!DOCTYPE entity-engine-xml [\n<!ENTITY l0 "lol">\n'
        f"{entities}]>\n<entity-engine-xml>\n"
        '    <User id="1" userName="&l9;" displayName="x"/>\n</entity-engine-xml>\n'
    )
    backup = write_zip(tmp_path / "backup.zip", data)
    # expanded, the user name alone would be 3 GB
    scan_within(backup, tmp_path / "f.db", 50 << 20)
    db = sqlite3.connect(tmp_path / "f.db")
    kinds = {kind for kind, *_ in problems(db)}
    assert "doctype" in kinds and "not-well-formed" in kinds
    assert "lol" * 10 not in dump(db)


@pytest.mark.parametrize(
    "use",
    [
        '<User id="1" userName="&xxe;" emailAddress="a@b.org"/>',
        '<Issue id="1" project="1" number="1"><description>&xxe;</description></Issue>',
        '<OSPropertyEntry id="2" entityName="jira.properties" entityId="1"'
        ' propertyKey="jira.title" type="5"/><OSPropertyString id="2"><value>&xxe;</value>'
        "</OSPropertyString>",
    ],
    ids=["attribute", "issue-text", "property-text"],
)
def test_external_entity_is_never_read(tmp_path: Path, use: str) -> None:
    marker = "TOP-SECRET-7f3a9c"
    secret = tmp_path / "secret.txt"
    secret.write_text(marker)
    data = (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE entity-engine-xml [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n'
        f"<entity-engine-xml>\n    {use}\n</entity-engine-xml>\n"
    )
    db = scan_xml(tmp_path, data)
    assert marker not in dump(db)
    assert marker.encode() not in (tmp_path / "backup.facts.db").read_bytes()
    assert "doctype" in {kind for kind, *_ in problems(db)}


# --------------------------------------------------------------------------- activeobjects.xml


def test_activeobjects_tables_and_rows(clean: tuple[Manifest, sqlite3.Connection]) -> None:
    manifest, db = clean
    root = etree.fromstring(zip_member(manifest, "activeobjects.xml"))
    expected = {
        (
            table.get("name"),
            len(table),
            len(root.findall(f"{AO_NS}data[@tableName='{table.get('name')}']/{AO_NS}row")),
        )
        for table in root.iter(f"{AO_NS}table")
    }
    assert set(db.execute("SELECT name, columns, rows FROM ao_table")) == expected
    assert one(db, "SELECT rows FROM entity_count WHERE file = 'activeobjects.xml'") == sum(
        rows for _, _, rows in expected
    )
    assert problems(db, "activeobjects.xml") == []


def test_broken_activeobjects_leaves_entities_complete(
    tmp_path: Path, clean: tuple[Manifest, sqlite3.Connection]
) -> None:
    manifest, _ = clean
    ao = zip_member(manifest, "activeobjects.xml")
    cut = ao[: len(ao) // 2]
    backup = write_zip(tmp_path / "broken.zip", zip_member(manifest, "entities.xml"), cut)
    db = scan(backup)
    [(kind, line, *_)] = problems(db, "activeobjects.xml")
    assert (kind, line) == ("not-well-formed", cut.count(b"\n") + 1)
    found = sources(db)
    assert found["activeobjects"] is not None and found["activeobjects.xml"] is None
    assert found["entities"] is None
    assert entity_counts(db) == manifest.counts
    assert problems(db) == []


def test_invalid_character_in_activeobjects(tmp_path: Path) -> None:
    ao = MINIMAL_AO.replace("<integer>1</integer>", "<string>a\x07b</string>")
    db = scan_xml(tmp_path, HAND, ao)
    line = ao.splitlines().index(next(x for x in ao.splitlines() if "\x07" in x)) + 1
    column = ao.splitlines()[line - 1].index("\x07") + 1
    assert problems(db, "activeobjects.xml") == [("invalid-char", line, column, None, None, 7)]
    assert set(db.execute("SELECT name, rows FROM ao_table")) == {("AO_T", 1)}


# --------------------------------------------------------------------------- memory


@pytest.mark.slow
def test_scan_memory_stays_flat_on_a_30_mb_backup(tmp_path: Path, scan_within: Any) -> None:
    manifest = write_backup(tmp_path / "big.zip", SynthSpec(issues=11_000))
    with zipfile.ZipFile(manifest.zip_path) as archive:
        size = archive.getinfo("entities.xml").file_size
    assert size > 28_000_000
    store = tmp_path / "big.db"

    # a tree that is never pruned would cost about ten times the file (300 MB) in libxml2;
    # pieces of 2 MB, each parsed whole, cost a few tens of MB whatever the file's size
    report = scan_within(Path(manifest.zip_path), store, 5 * size)
    # pieces of 2 MB and their rows, whatever the size of the file (everything held would be
    # several times the file)
    peak = report["python_peak"]
    assert peak < 32_000_000, f"Python peak {peak:,} bytes for a {size:,} byte file"
    db = sqlite3.connect(store)
    assert one(db, "SELECT count(*) FROM issue") == 11_000
    assert entity_counts(db) == manifest.counts


# --------------------------------------------------------------------------- permissions

PRE_7_PERMISSIONS = """<?xml version="1.0" encoding="UTF-8"?>
<entity-engine-xml>
    <SchemePermissions id="10000" permission="0" type="group" parameter="jira-administrators"/>
    <SchemePermissions id="10001" permission="1" type="group" parameter="jira-users"/>
    <SchemePermissions id="10002" permission="44" type="group" parameter="sysadmins"/>
    <SchemePermissions id="10003" permission="99" type="group" parameter="odd"/>
    <SchemePermissions id="10004" permission="0" type="user" parameter="bob"/>
    <SchemePermissions id="10005" scheme="0" permission="23" type="projectrole" parameter="10002"/>
    <SchemePermissions id="10006" scheme="0" permission="10" type="group" parameter="x"
        permissionKey="BROWSE_PROJECTS"/>
    {more}
</entity-engine-xml>
"""


def test_every_scheme_permission_row_is_kept(tmp_path: Path) -> None:
    db = scan_xml(tmp_path, PRE_7_PERMISSIONS.format(more=""))

    assert db.execute("SELECT * FROM scheme_permission ORDER BY rowid").fetchall() == [
        ("10000", None, "0", "group", "jira-administrators"),
        ("10001", None, "1", "group", "jira-users"),
        ("10002", None, "44", "group", "sysadmins"),
        ("10003", None, "99", "group", "odd"),
        ("10004", None, "0", "user", "bob"),
        ("10005", "0", "23", "projectrole", "10002"),
        ("10006", "0", "BROWSE_PROJECTS", "group", "x"),
    ]


def test_pre_7_global_grants_are_global_permissions_by_name(tmp_path: Path) -> None:
    db = scan_xml(tmp_path, PRE_7_PERMISSIONS.format(more=""))

    assert db.execute("SELECT * FROM global_permission ORDER BY rowid").fetchall() == [
        ("10000", "ADMINISTER", "jira-administrators"),
        ("10001", "USE", "jira-users"),
        ("10002", "SYSTEM_ADMIN", "sysadmins"),
        ("10003", "99", "odd"),  # a number Jira never documented stays a number
    ]


def test_jira_7_global_permission_entries_win_over_leftover_scheme_rows(tmp_path: Path) -> None:
    entry = '<GlobalPermissionEntry id="1" permission="ADMINISTER" group_id="admins"/>'

    db = scan_xml(tmp_path, PRE_7_PERMISSIONS.format(more=entry))

    assert db.execute("SELECT * FROM global_permission").fetchall() == [
        ("1", "ADMINISTER", "admins")
    ]


def test_remote_issue_links_are_counted_per_issue(tmp_path: Path) -> None:
    links = "".join(
        f'<RemoteIssueLink id="{n}" issueid="{issue}" url="https://wiki.example.org/{n}"/>\n'
        for n, issue in enumerate(["10", "10", "11"])
    )
    db = scan_xml(tmp_path, f"<entity-engine-xml>\n{links}</entity-engine-xml>\n")

    assert db.execute("SELECT * FROM remote_link").fetchall() == [
        ("0", "10"),
        ("1", "10"),
        ("2", "11"),
    ]
    assert db.execute(
        "SELECT issue_id, n FROM per_issue WHERE what = 'remote links' ORDER BY issue_id"
    ).fetchall() == [("10", 2), ("11", 1)]


@pytest.mark.parametrize("name", ["zendesk-3.12-restoreData.zip", "jsu-6.0-test1.zip"])
def test_real_pre_7_backups_name_their_administrators(
    tmp_path: Path, corpus: Path, name: str
) -> None:
    backup = tmp_path / name
    shutil.copyfile(corpus / "realworld" / name, backup)

    db = scan(backup)

    assert db.execute(
        "SELECT permission, group_name FROM global_permission"
        " WHERE permission IN ('ADMINISTER', 'SYSTEM_ADMIN') ORDER BY permission"
    ).fetchall() == [("ADMINISTER", "jira-administrators"), ("SYSTEM_ADMIN", "jira-administrators")]
    assert one(db, "SELECT count(*) FROM global_permission WHERE permission = 'USE'") == 1
