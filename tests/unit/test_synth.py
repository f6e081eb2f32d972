"""The synthetic backup generator: its output must be what its manifest says it is."""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from synth import (
    BACKUP_FAULTS,
    LONG_TEXT_CHARS,
    Manifest,
    SynthSpec,
    entities_size,
    iter_attachments,
    scale_to_megabytes,
    write_backup,
    write_media,
    write_media_zip,
)
from synth import __main__ as synth_command

AO_NS = "{http://www.atlassian.com/ao}"


def build(tmp_path: Path, **fields: object) -> tuple[Manifest, bytes]:
    """Write a backup for ``SynthSpec(**fields)``; return its manifest and entities.xml bytes."""
    manifest = write_backup(tmp_path / "backup.zip", SynthSpec(**fields))  # type: ignore[arg-type]
    with zipfile.ZipFile(manifest.zip_path) as archive:
        return manifest, archive.read(manifest.entities_member)


def parse(data: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    return etree.fromstring(data, parser)


def trailer_counts(data: bytes) -> dict[str, int]:
    trailer = data.decode("utf-8").rsplit("___ Entities ___", 1)[1]
    return {name: int(count) for name, count in re.findall(r"^ {5}(\w+) +: (\d+)$", trailer, re.M)}


def rows(root: etree._Element, entity: str) -> list[etree._Element]:
    return [element for element in root if element.tag == entity]


def test_default_backup_is_well_formed_and_matches_its_trailer(tmp_path: Path) -> None:
    manifest, data = build(tmp_path)
    root = parse(data)
    written = Counter(element.tag for element in root if isinstance(element.tag, str))
    declared = trailer_counts(data)
    assert declared.pop("Total") == sum(written.values())
    assert declared == dict(written) == manifest.counts
    assert manifest.faults == []
    with zipfile.ZipFile(manifest.zip_path) as archive:
        assert sorted(archive.namelist()) == ["activeobjects.xml", "entities.xml"]
    assert Path(manifest.zip_path).stat().st_size < 100_000


def test_default_backup_has_what_cloud_wants(tmp_path: Path) -> None:
    manifest, data = build(tmp_path)
    text = data.decode("utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!-- \n')
    assert "     JIRA Build                                    : 8.20.10#820010-sha1:" in text
    assert "\n     Version                                       : 8.20.10\n" in text
    assert (
        "\n     Base URL                                      : https://jira.acmecorp.com\n" in text
    )
    assert text.endswith(" -->\n</entity-engine-xml>")
    root = parse(data)
    emails = [user.get("emailAddress") for user in rows(root, "User")]
    assert len(emails) == 20 and all(e.endswith("@acmecorp.com") for e in emails)
    assert len({e.lower() for e in emails}) == len(emails)
    assert sum(user.get("active") == "0" for user in rows(root, "User")) == 2
    assert not any(user.get("userName").startswith("addon_") for user in rows(root, "User"))
    groups = {group.get("groupName") for group in rows(root, "Group")}
    assert {"jira-administrators", "jira-software-users"} <= groups
    assert "administrators" not in groups
    grants = {(g.get("permission"), g.get("group_id")) for g in rows(root, "GlobalPermissionEntry")}
    assert ("ADMINISTER", "jira-administrators") in grants
    keys = {e.get("id"): e.get("propertyKey") for e in rows(root, "OSPropertyEntry")}
    values = {e.get("id"): e.get("value") for e in rows(root, "OSPropertyString")}
    baseurl_id = next(i for i, key in keys.items() if key == "jira.baseurl")
    assert values[baseurl_id] == "https://jira.acmecorp.com"
    assert [u["username"] for u in manifest.users] == [
        u.get("userName") for u in rows(root, "User")
    ]


def test_multiline_values_are_cdata_children_sometimes_split(tmp_path: Path) -> None:
    _, data = build(tmp_path)
    assert b"]]><![CDATA[" in data
    root = parse(data)
    bodies = [e.findtext("body") for e in rows(root, "Action") if e.find("body") is not None]
    assert bodies and all("\n" in body for body in bodies)
    descriptions = [e.findtext("description") or "" for e in rows(root, "Issue")]
    assert any("rows[ids[0]]>0" in text for text in descriptions)


def test_same_spec_gives_same_bytes(tmp_path: Path) -> None:
    first = write_backup(tmp_path / "a.zip", SynthSpec(seed=7, faults=("control-char",)))
    second = write_backup(tmp_path / "b.zip", SynthSpec(seed=7, faults=("control-char",)))
    other = write_backup(tmp_path / "c.zip", SynthSpec(seed=8, faults=("control-char",)))
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert (tmp_path / "a.zip").read_bytes() != (tmp_path / "c.zip").read_bytes()
    assert first.to_json() == second.to_json().replace("b.zip", "a.zip")
    assert other.users != first.users


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("control-char", "\x01"),
        ("control-char-changeitem", "\x1b"),
        ("fffe", "\ufffe"),
        ("char-ref", "&#1;"),
        ("invalid-utf8", "\udcc3"),
    ],
)
def test_character_fault_sits_where_the_manifest_says(
    tmp_path: Path, fault: str, expected: str
) -> None:
    manifest, data = build(tmp_path, faults=(fault,))
    record = manifest.fault(fault)
    line = data.split(b"\n")[record["line"] - 1].decode("utf-8", "surrogateescape")
    column = record["column"] - 1
    assert line[column : column + len(expected)] == expected
    assert (
        data[record["offset"] : record["offset"] + 1]
        == expected.encode("utf-8", "surrogateescape")[:1]
    )
    assert f' id="{record["id"]}"' in line or record["field"] == "description"
    with pytest.raises(etree.XMLSyntaxError):
        parse(data)


def test_truncated_backup_stops_inside_an_element(tmp_path: Path) -> None:
    manifest, data = build(tmp_path, faults=("truncated",))
    assert b"___ Entities ___" not in data
    assert not data.rstrip().endswith(b">")
    assert len(data) == manifest.fault("truncated")["offset"]
    with pytest.raises(etree.XMLSyntaxError):
        parse(data)


def test_trailer_mismatch_declares_one_issue_too_many(tmp_path: Path) -> None:
    manifest, data = build(tmp_path, faults=("trailer-mismatch",))
    assert trailer_counts(data)["Issue"] == len(rows(parse(data), "Issue")) + 1
    assert manifest.fault("trailer-mismatch")["declared"] == 61


@pytest.mark.parametrize(
    "fault",
    ["email-no-tld", "email-special-use", "email-example", "email-bad-syntax", "email-missing"],
)
def test_email_fault_is_on_the_named_user(tmp_path: Path, fault: str) -> None:
    manifest, data = build(tmp_path, faults=(fault,))
    record = manifest.fault(fault)
    user = next(u for u in rows(parse(data), "User") if u.get("userName") == record["user"])
    assert user.get("emailAddress") == record["email"]
    assert record["email"] != f"{record['user']}@acmecorp.com"


def test_duplicate_emails_differ_only_in_case(tmp_path: Path) -> None:
    manifest, data = build(tmp_path, faults=("email-duplicate",))
    record = manifest.fault("email-duplicate")
    by_name = {u.get("userName"): u.get("emailAddress") for u in rows(parse(data), "User")}
    first, second = (by_name[name] for name in record["users"])
    assert first != second and first.lower() == second.lower() == record["email"]


def test_user_identity_faults(tmp_path: Path) -> None:
    faults = ("same-user-two-directories", "duplicate-user-in-directory", "addon-username")
    manifest, data = build(tmp_path, faults=faults)
    users = rows(parse(data), "User")
    shared = manifest.fault("same-user-two-directories")["user"]
    twins = [u for u in users if u.get("userName") == shared]
    assert sorted(u.get("directoryId") for u in twins) == ["1", "2"]
    assert len({u.get("emailAddress") for u in twins}) == 1
    duplicate = manifest.fault("duplicate-user-in-directory")
    same = [u for u in users if u.get("lowerUserName") == duplicate["user"]]
    assert sorted(u.get("id") for u in same) == duplicate["ids"]
    assert {u.get("directoryId") for u in same} == {str(duplicate["directory_id"])}
    assert any(u.get("userName") == "addon_com.example.app" for u in users)


def test_structure_and_version_faults(tmp_path: Path) -> None:
    faults = ("nested-folder", "missing-activeobjects", "old-version", "baseurl-missing")
    manifest, data = build(tmp_path, faults=faults)
    with zipfile.ZipFile(manifest.zip_path) as archive:
        assert archive.namelist() == ["backup/entities.xml"]
    assert b"JIRA Build                                    : 6.4.14#64029-sha1:" in data
    assert b"Build #                                       : 64029\n" in data
    assert b"jira.baseurl" not in data
    parse(data)


def test_baseurl_mismatch(tmp_path: Path) -> None:
    manifest, data = build(tmp_path, faults=("baseurl-mismatch",))
    record = manifest.fault("baseurl-mismatch")
    assert f'value="{record["property"]}"'.encode() in data
    assert f"Base URL                                      : {record['header']}\n".encode() in data


def test_group_and_membership_faults(tmp_path: Path) -> None:
    faults = ("admin-groups-both", "membership-duplicate", "membership-dangling")
    manifest, data = build(tmp_path, faults=faults)
    root = parse(data)
    members = Counter(
        (m.get("parentName"), m.get("childName"), m.get("membershipType"))
        for m in rows(root, "Membership")
    )
    admins = manifest.fault("admin-groups-both")["members"]
    assert all(members["administrators", name, "GROUP_USER"] for name in admins["administrators"])
    duplicate = manifest.fault("membership-duplicate")
    assert members[duplicate["group"], duplicate["user"], "GROUP_USER"] == 2
    user_ids = {u.get("id") for u in rows(root, "User")}
    dangling = manifest.fault("membership-dangling")
    assert dangling["child_id"] not in user_ids
    assert any(m.get("id") == dangling["id"] for m in rows(root, "Membership"))


@pytest.mark.parametrize(
    ("fault", "length"),
    [
        ("long-summary", 300),
        ("long-description", LONG_TEXT_CHARS),
        ("long-comment", LONG_TEXT_CHARS),
        ("long-custom-text", LONG_TEXT_CHARS),
        ("long-worklog", LONG_TEXT_CHARS),
    ],
)
def test_long_text_fault(tmp_path: Path, fault: str, length: int) -> None:
    manifest, data = build(tmp_path, faults=(fault,))
    record = manifest.fault(fault)
    row = next(e for e in rows(parse(data), record["entity"]) if e.get("id") == record["id"])
    value = row.get(record["field"]) or row.findtext(record["field"])
    assert len(value) == record["length"] == length


def test_all_faults_combine(tmp_path: Path) -> None:
    """A truncated file has no trailer to mismatch; every other fault survives the cut."""
    manifest, data = build(tmp_path, faults=BACKUP_FAULTS)
    assert {record["fault"] for record in manifest.faults} == set(BACKUP_FAULTS) - {
        "trailer-mismatch"
    }
    for name in ("control-char", "fffe", "invalid-utf8"):
        record = manifest.fault(name)
        assert data[record["offset"]] in (0x01, 0xEF, 0xC3)


def test_unknown_fault_is_refused() -> None:
    with pytest.raises(ValueError, match="no-such-fault"):
        SynthSpec(faults=("no-such-fault",))


def test_too_few_users_for_the_user_faults_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too few"):
        write_backup(tmp_path / "b.zip", SynthSpec(users=5, faults=BACKUP_FAULTS))


def test_os_user_format(tmp_path: Path) -> None:
    manifest, data = build(tmp_path, os_user_format=True, faults=("email-missing",))
    root = parse(data)
    assert not rows(root, "User") and not rows(root, "Membership")
    assert len(rows(root, "OSUser")) == 20 and rows(root, "OSMembership")
    email_ids = {
        e.get("id")
        for e in rows(root, "OSPropertyEntry")
        if e.get("entityName") == "OSUser" and e.get("propertyKey") == "email"
    }
    emails = {e.get("value") for e in rows(root, "OSPropertyString") if e.get("id") in email_ids}
    assert len(emails) == 19
    assert all(u["email"] in emails for u in manifest.users if u["email"])


def test_activeobjects_xml(tmp_path: Path) -> None:
    manifest, _ = build(tmp_path)
    with zipfile.ZipFile(manifest.zip_path) as archive:
        root = parse(archive.read("activeobjects.xml"))
    assert root.tag == f"{AO_NS}backup"
    assert root.find(f"{AO_NS}database/{AO_NS}meta") is not None
    tables = {t.get("name") for t in root.iter(f"{AO_NS}table")}
    data = {d.get("tableName"): d for d in root.iter(f"{AO_NS}data")}
    assert tables == set(data)
    values = [value.tag for row in root.iter(f"{AO_NS}row") for value in row]
    assert {f"{AO_NS}{kind}" for kind in ("string", "integer", "boolean", "timestamp")} <= set(
        values
    )
    for block in data.values():
        width = len(block.findall(f"{AO_NS}column"))
        assert all(len(row) == width for row in block.findall(f"{AO_NS}row"))


def test_media_tree_bucketed(tmp_path: Path) -> None:
    manifest, _ = build(tmp_path)
    media = tmp_path / "media"
    assert write_media(media, manifest) == []
    attachments = list(iter_attachments(manifest.spec))
    assert len(attachments) == manifest.counts["FileAttachment"]
    for attachment in attachments:
        path = media / attachment.bucketed_dir() / str(attachment.id)
        assert path.stat().st_size == attachment.filesize
        thumb = path.parent / "thumbs" / f"_thumb_{attachment.id}.png"
        assert thumb.exists() == attachment.thumbnailable
    renamed = [a for a in attachments if a.project_key == "WEB"]
    assert renamed and all(
        a.bucketed_dir().startswith("data/attachments/SITE/10000/WEB-") for a in renamed
    )
    assert list((media / "data" / "avatars").glob("*_small_avatar.png"))
    assert list((media / "logos").iterdir())


def test_media_faults_and_legacy_layout(tmp_path: Path) -> None:
    manifest, _ = build(tmp_path)
    media = tmp_path / "media"
    faults = ("missing-attachment-file", "orphan-file", "size-mismatch", "stray-file")
    write_media(media, manifest, layout="legacy", faults=faults)
    assert not (media / manifest.fault("missing-attachment-file")["path"]).exists()
    assert (media / manifest.fault("orphan-file")["path"]).exists()
    mismatch = manifest.fault("size-mismatch")
    assert (media / mismatch["path"]).stat().st_size == mismatch["actual"] != mismatch["expected"]
    assert all((media / path).exists() for path in manifest.fault("stray-file")["paths"])
    first = next(iter_attachments(manifest.spec))
    assert (media / first.legacy_dir() / f"{first.id}_{first.filename}").exists()


def test_media_zip_with_wrapping_folder_and_sparse_media(tmp_path: Path) -> None:
    manifest, _ = build(tmp_path)
    records = write_media_zip(tmp_path / "media.zip", manifest, faults=("wrapping-folder",))
    assert records == [{"fault": "wrapping-folder", "prefix": "jira-home/"}]
    with zipfile.ZipFile(tmp_path / "media.zip") as archive:
        names = archive.namelist()
    assert names and all(name.startswith("jira-home/data/") or "logos/" in name for name in names)
    write_media(tmp_path / "sparse", manifest, sparse=True)
    first = next(iter_attachments(manifest.spec))
    path = tmp_path / "sparse" / first.bucketed_dir() / str(first.id)
    assert path.read_bytes() == bytes(first.filesize)


def test_target_size_scaling() -> None:
    spec = scale_to_megabytes(SynthSpec(), 0.5)
    assert abs(entities_size(spec) - 500_000) < 25_000


def test_cli_writes_backup_manifest_and_media(tmp_path: Path) -> None:
    out, manifest_path = tmp_path / "out.zip", tmp_path / "manifest.json"
    code = synth_command.main(
        [
            str(out),
            "--issues",
            "12",
            "--users",
            "8",
            "--fault",
            "control-char",
            "orphan-file",
            "--manifest",
            str(manifest_path),
            "--media-zip",
            str(tmp_path / "media.zip"),
            "--version",
            "8.5.0",
        ]
    )
    assert code == 0
    with zipfile.ZipFile(out) as archive:
        data = archive.read("entities.xml")
    assert b"8.5.0#805000-sha1:" in data
    text = manifest_path.read_text()
    assert '"fault": "control-char"' in text and '"fault": "orphan-file"' in text
    assert (tmp_path / "media.zip").exists()
