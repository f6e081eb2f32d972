"""The media inventory (scan/media.py) and the media rules (rules/media.py)."""

from __future__ import annotations

import shutil
import sqlite3
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_jiramigrate import facts as facts_store
from pytest_jiramigrate.config import load_config
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.core.sizes import format_size
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.rules import media as rules
from pytest_jiramigrate.rules.base import Rule, RuleSettings, Verdict
from pytest_jiramigrate.rules.outcome import evaluate
from pytest_jiramigrate.rules.site import CloudSite
from pytest_jiramigrate.scan.media import bucket_of, classify, scan_media

LEGACY_FOLDER = "xml/TestBrowseZipAttachmentEntries/attachments"

#: a correct media tree: two projects, a thumbnail, an avatar and a logo
GOOD_TREE: dict[str, bytes] = {
    "data/attachments/ABC/10000/ABC-1/10100": b"hello",
    "data/attachments/ABC/10000/ABC-1/thumbs/_thumb_10100.png": b"png",
    "data/attachments/ABC/20000/ABC-10001/10101": b"x" * 20,
    "data/attachments/XYZ/10000/XYZ-7/10102": b"y" * 7,
    "data/avatars/10010_48x48project.png": b"avatar",
    "logos/jira-logo-scaled.png": b"logo",
}


def write_tree(root: Path, files: Mapping[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def zip_tree(files: Mapping[str, bytes], path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def new_store(tmp_path: Path) -> sqlite3.Connection:
    return facts_store.create(tmp_path / "facts.sqlite")


def scanned(tmp_path: Path, *targets: Path, db: sqlite3.Connection | None = None) -> Facts:
    """A store holding every target, named after its file or folder."""
    db = db or new_store(tmp_path)
    for target in targets:
        scan_media(target, db, target.name, ArchiveLimits())
    return Facts(db)


def add_backup(db: sqlite3.Connection) -> None:
    """The backup side of GOOD_TREE: projects, issues, FileAttachment rows."""
    db.executemany(
        "INSERT INTO project (id, name, key, original_key) VALUES (?, ?, ?, ?)",
        [("1", "Alpha", "ABC", "ABC"), ("2", "Xylo", "XYZ", "XYZ")],
    )
    db.executemany(
        "INSERT INTO issue (id, key, number, project_id) VALUES (?, ?, ?, ?)",
        [("11", "ABC-1", 1, "1"), ("12", "ABC-10001", 10001, "1"), ("13", "XYZ-7", 7, "2")],
    )
    db.executemany(
        "INSERT INTO attachment (id, issue_id, filename, filesize) VALUES (?, ?, ?, ?)",
        [("10100", "11", "hello.txt", 5), ("10101", "12", "x.bin", 20), ("10102", "13", "y", 7)],
    )
    db.execute("INSERT OR REPLACE INTO source VALUES ('entities', NULL)")


def check(rule: Rule, facts: Facts, target: str, plan: str = "standard", **limits: Any) -> Verdict:
    settings = RuleSettings(
        severity=rule.severity,
        max_findings=0,
        limits={**rule.defaults(), **limits},
        site=CloudSite(plan=plan),  # type: ignore[arg-type]
        subject=target,
    )
    return rule.check(facts, settings)


def texts(verdict: Verdict) -> list[str]:
    return [finding.text for finding in verdict.findings]


def patch_member(path: Path, name: str, *, method: int | None = None, flags: int = 0) -> None:
    """Rewrite one member's compression method / flag bits in both of its headers."""
    data = bytearray(path.read_bytes())
    encoded = name.encode()
    for signature, method_at, name_at in ((b"PK\x03\x04", 8, 30), (b"PK\x01\x02", 10, 46)):
        start = data.find(signature)
        while start != -1:
            if data[start + name_at : start + name_at + len(encoded)] == encoded:
                if method is not None:
                    data[start + method_at : start + method_at + 2] = method.to_bytes(2, "little")
                flag_at = method_at - 2
                current = int.from_bytes(data[flag_at + start : flag_at + start + 2], "little")
                data[start + flag_at : start + flag_at + 2] = (current | flags).to_bytes(
                    2, "little"
                )
            start = data.find(signature, start + 4)
    path.write_bytes(bytes(data))


@pytest.fixture(scope="session")
def legacy_attachments(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    """The corpus' real pre-7 attachment folders, extracted once per session."""
    where = tmp_path_factory.mktemp("corpus")
    with tarfile.open(corpus / "jira-testkit-xml.tar.xz") as archive:
        members = [m for m in archive.getmembers() if m.name.startswith(LEGACY_FOLDER)]
        archive.extractall(where, members=members, filter="data")
    return where / LEGACY_FOLDER


# --------------------------------------------------------------------------- scan


@pytest.mark.parametrize(
    ("number", "bucket"), [(1, 10000), (9999, 10000), (10000, 10000), (10001, 20000)]
)
def test_bucket_holds_ten_thousand_issues(number: int, bucket: int) -> None:
    assert bucket_of(number) == bucket


@pytest.mark.parametrize(
    ("path", "kind", "attachment_id"),
    [
        ("data/attachments/ABC/10000/ABC-1/10100", "attachment", "10100"),
        ("data/attachments/ABC/10000/ABC-1/thumbs/_thumb_10100.png", "thumbnail", "10100"),
        ("data/attachments/HSP/HSP-1/10000", "legacy-attachment", "10000"),
        ("data/attachments/HSP/HSP-1/10001_idea.png", "legacy-attachment", "10001"),
        ("data/attachments/HSP/HSP-1/10001_thumb_idea.png", "legacy-thumbnail", "10001"),
        ("data/attachments/HSP/HSP-1/thumbs/_thumb_10001.png", "legacy-thumbnail", "10001"),
        ("data/attachments/ABC/notes.txt", "misplaced", None),
        ("data/avatars/10010_48x48project.png", "avatar", None),
        ("logos/logo.png", "logo", None),
        ("attachments/ABC/10000/ABC-1/10100", "stray", None),
        ("dbconfig.xml", "stray", None),
    ],
)
def test_classify_names_the_layout(path: str, kind: str, attachment_id: str | None) -> None:
    found = classify(path)
    assert (found.kind, found.attachment_id) == (kind, attachment_id)


def test_scan_directory_records_every_file_by_stat(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "media", GOOD_TREE)
    facts = scanned(tmp_path, root)
    rows = facts.query("SELECT path, size, kind FROM media_file ORDER BY path")
    assert [(r["path"], r["size"]) for r in rows] == sorted(
        (name, len(data)) for name, data in GOOD_TREE.items()
    )
    target = facts.query("SELECT * FROM media_target")[0]
    assert (target["kind"], target["files"]) == ("dir", len(GOOD_TREE))
    assert target["total_bytes"] == sum(len(d) for d in GOOD_TREE.values())
    assert facts.missing("media:media") is None


def test_scan_zip_matches_the_directory_scan(tmp_path: Path) -> None:
    archive = zip_tree(GOOD_TREE, tmp_path / "media.zip")
    facts = scanned(tmp_path, archive)
    rows = facts.query("SELECT path, kind FROM media_file ORDER BY path")
    assert [r["path"] for r in rows] == sorted(GOOD_TREE)
    target = facts.query("SELECT kind, zip_bytes FROM media_target")[0]
    assert (target["kind"], target["zip_bytes"]) == ("zip", archive.stat().st_size)


def test_rescanning_a_target_replaces_its_rows(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "media", GOOD_TREE)
    db = new_store(tmp_path)
    scanned(tmp_path, root, db=db)
    facts = scanned(tmp_path, root, db=db)
    assert facts.scalar("SELECT count(*) FROM media_file") == len(GOOD_TREE)


def test_scan_of_a_file_that_is_not_a_zip_marks_the_source_missing(tmp_path: Path) -> None:
    bogus = tmp_path / "media.zip"
    bogus.write_text("not a zip")
    facts = scanned(tmp_path, bogus)
    assert "not a zip" in (facts.missing("media:media.zip") or "")


def test_scan_never_follows_symlinks(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "media", GOOD_TREE)
    outside = write_tree(tmp_path / "elsewhere", {"secret.txt": b"s"})
    links = root / "data/attachments/ABC/10000/ABC-1"
    (links / "out").symlink_to(outside / "secret.txt")
    (links / "loop").symlink_to(links / "loop")
    (links / "gone").symlink_to(tmp_path / "missing")
    (links / "inside").symlink_to(links / "10100")
    facts = scanned(tmp_path, root)
    problems = {r["path"]: r["kind"] for r in facts.query("SELECT * FROM media_problem")}
    prefix = "data/attachments/ABC/10000/ABC-1/"
    assert problems == {
        prefix + "out": "symlink-outside",
        prefix + "loop": "symlink-loop",
        prefix + "gone": "symlink-dangling",
    }
    assert facts.scalar("SELECT count(*) FROM media_file") == len(GOOD_TREE)


def test_scan_reports_unreadable_directories(tmp_path: Path, deny_read: Any) -> None:
    root = write_tree(tmp_path / "media", GOOD_TREE)
    deny_read(root / "data/attachments/XYZ")
    facts = scanned(tmp_path, root)
    kinds = [r["kind"] for r in facts.query("SELECT kind FROM media_problem")]
    assert kinds == ["unreadable-dir"]


# --------------------------------------------------------------------------- catalogue


def test_rules_catalogue_is_the_public_one() -> None:
    assert [r.id for r in rules.RULES] == [
        "media-archive",
        "media-structure",
        "attachment-paths",
        "media-chunk-size",
        "attachments-present",
        "attachments-orphaned",
        "attachment-size-limit",
        "storage-within-plan",
    ]
    assert {(r.kind, r.group) for r in rules.RULES} == {("media", "media")}
    # media-archive reads no source: an unreadable target fails it (the gate fails closed)
    assert all("media" in r.needs for r in rules.RULES if r.id != "media-archive")
    assert rules.media_archive.needs == ()


def test_each_check_is_given_its_target(tmp_path: Path) -> None:
    """The subject reaches the check explicitly: two targets in one store, each item reads
    its own inventory and its own availability (no state shared between items)."""
    good = write_tree(tmp_path / "good", GOOD_TREE)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    facts = scanned(tmp_path, good, broken)
    settings = load_config(None, rules.RULES).rules
    on_good = evaluate(rules.media_structure, facts, settings["media-structure"], "good")
    on_broken = evaluate(rules.media_structure, facts, settings["media-structure"], "broken.zip")
    assert (on_good.status, on_good.subject) == ("passed", "good")
    assert on_broken.status == "error" and on_broken.reason.startswith("not checked: ")
    assert on_broken.subject == "broken.zip"


# --------------------------------------------------------------------------- media-archive


@pytest.mark.parametrize("as_zip", [False, True])
def test_media_archive_passes_a_clean_target(tmp_path: Path, as_zip: bool) -> None:
    path = (
        zip_tree(GOOD_TREE, tmp_path / "m.zip") if as_zip else write_tree(tmp_path / "m", GOOD_TREE)
    )
    verdict = check(rules.media_archive, scanned(tmp_path, path), path.name)
    assert not verdict.findings


def test_media_archive_names_unsafe_zip_members(tmp_path: Path) -> None:
    files = {**GOOD_TREE, "../evil.sh": b"x", "data/attachments/ABC/10000/ABC-1/10103": b"z"}
    archive = zip_tree(files, tmp_path / "media.zip")
    patch_member(archive, "data/attachments/ABC/10000/ABC-1/10103", method=9)
    patch_member(archive, "data/attachments/XYZ/10000/XYZ-7/10102", flags=0x1)
    verdict = check(rules.media_archive, scanned(tmp_path, archive), "media.zip")
    found = {f.fields["path"]: (f.fields["problem"], f.text) for f in verdict.findings}
    assert found["../evil.sh"][0] == "unsafe-name"
    deflate64 = found["data/attachments/ABC/10000/ABC-1/10103"]
    assert deflate64[0] == "unsupported-compression"
    assert "re-zip with standard deflate" in deflate64[1]
    assert found["data/attachments/XYZ/10000/XYZ-7/10102"][0] == "encrypted"
    assert verdict.summary == "3 problems in the media zip media.zip."


def test_media_archive_reports_links_out_of_a_directory(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "media", GOOD_TREE)
    (root / "logos/escape").symlink_to("/etc/passwd")
    (root / "logos/loop").symlink_to(root / "logos/loop")
    verdict = check(rules.media_archive, scanned(tmp_path, root), "media")
    assert sorted(f.fields["path"] for f in verdict.findings) == ["logos/escape", "logos/loop"]
    assert any("'/etc/passwd'" in text for text in texts(verdict))


# --------------------------------------------------------------------------- media-structure


@pytest.mark.parametrize("as_zip", [False, True])
def test_media_structure_passes_the_documented_root(tmp_path: Path, as_zip: bool) -> None:
    path = (
        zip_tree(GOOD_TREE, tmp_path / "m.zip") if as_zip else write_tree(tmp_path / "m", GOOD_TREE)
    )
    verdict = check(rules.media_structure, scanned(tmp_path, path), path.name)
    assert not verdict.findings


def test_media_structure_names_a_wrapping_folder(tmp_path: Path) -> None:
    wrapped = {f"jira-home/{name}": data for name, data in GOOD_TREE.items()}
    archive = zip_tree(wrapped, tmp_path / "media.zip")
    verdict = check(rules.media_structure, scanned(tmp_path, archive), "media.zip")
    assert texts(verdict) == ["everything is inside 'jira-home/': zip from inside it"]


def test_media_structure_names_a_zip_of_attachments_alone(tmp_path: Path) -> None:
    alone = {n.removeprefix("data/"): d for n, d in GOOD_TREE.items() if "attachments" in n}
    archive = zip_tree(alone, tmp_path / "media.zip")
    verdict = check(rules.media_structure, scanned(tmp_path, archive), "media.zip")
    assert texts(verdict) == [
        "the zip holds attachments/ at its root: Cloud expects data/attachments/"
    ]


def test_media_structure_lists_stray_files(tmp_path: Path) -> None:
    strays = {
        "notes.txt": b"n",
        "data/dbconfig.xml": b"d",
        "data/plugins/installed/a.jar": b"j",
        "caches/a": b"1",
        "caches/b": b"2",
    }
    root = write_tree(tmp_path / "media", {**GOOD_TREE, **strays})
    verdict = check(rules.media_structure, scanned(tmp_path, root), "media")
    assert texts(verdict) == [
        "stray folder caches/ (2 files): not under data/attachments, data/avatars and logos",
        "stray folder data/plugins/ (1 file): not under data/attachments, data/avatars and logos",
        "stray file data/dbconfig.xml: not under data/attachments, data/avatars and logos",
        "stray file notes.txt: not under data/attachments, data/avatars and logos",
    ]


def test_media_structure_fails_an_empty_target(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    verdict = check(rules.media_structure, scanned(tmp_path, tmp_path / "empty"), "empty")
    assert texts(verdict) == ["the directory holds no files"]


# --------------------------------------------------------------------------- attachment-paths


@pytest.mark.parametrize("with_backup", [False, True])
def test_attachment_paths_pass_the_bucketed_layout(tmp_path: Path, with_backup: bool) -> None:
    db = new_store(tmp_path)
    if with_backup:
        add_backup(db)
    facts = scanned(tmp_path, zip_tree(GOOD_TREE, tmp_path / "m.zip"), db=db)
    assert not check(rules.attachment_paths, facts, "m.zip").findings


def test_attachment_paths_give_the_right_bucket(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "media", {"data/attachments/ABC/10000/ABC-10001/10101": b"x"})
    verdict = check(rules.attachment_paths, scanned(tmp_path, root), "media")
    assert texts(verdict) == [
        "data/attachments/ABC/10000/ABC-10001/10101: issue ABC-10001 belongs in bucket 20000: "
        "move to data/attachments/ABC/20000/ABC-10001/10101"
    ]


def test_attachment_paths_flag_the_corpus_legacy_layout(
    tmp_path: Path, legacy_attachments: Path
) -> None:
    root = tmp_path / "media"
    shutil.copytree(legacy_attachments, root / "data/attachments")
    verdict = check(rules.attachment_paths, scanned(tmp_path, root), "media")
    files = sorted(
        p.relative_to(legacy_attachments).as_posix()
        for p in legacy_attachments.rglob("*")
        if p.is_file()
    )
    assert len(verdict.findings) == len(files) > 0
    assert all("legacy pre-7 layout" in text for text in texts(verdict))
    by_path = {f.fields["path"]: f.fields["expected"] for f in verdict.findings}
    assert by_path["data/attachments/HSP/HSP-1/10001_idea.png"] == (
        "data/attachments/HSP/10000/HSP-1/10001"
    )
    assert by_path["data/attachments/HSP/HSP-1/10001_thumb_idea.png"] == (
        "data/attachments/HSP/10000/HSP-1/thumbs/_thumb_10001.png"
    )


def test_attachment_paths_check_folders_against_the_backup(tmp_path: Path) -> None:
    db = new_store(tmp_path)
    add_backup(db)
    db.execute("UPDATE project SET key = 'NEW', original_key = 'ABC' WHERE id = '1'")
    db.execute("INSERT INTO issue (id, key, number, project_id) VALUES ('14', 'XYZ-8', 8, '2')")
    db.execute("INSERT INTO moved_issue_key VALUES ('1', 'ABC-9', '14')")
    db.execute("UPDATE issue SET key = 'NEW-1' WHERE id = '11'")
    tree = {
        "data/attachments/NEW/10000/NEW-1/10100": b"renamed project's new key",
        "data/attachments/ABC/10000/ABC-9/10103": b"moved issue",
        "data/attachments/ABC/10000/ABC-77/10104": b"no such issue",
    }
    facts = scanned(tmp_path, write_tree(tmp_path / "media", tree), db=db)
    assert texts(check(rules.attachment_paths, facts, "media")) == [
        "data/attachments/ABC/10000/ABC-77/10104: no issue ABC-77 in the backup",
        "data/attachments/ABC/10000/ABC-9/10103: moved issue: file should be under the new key "
        "XYZ-8: move to data/attachments/XYZ/10000/XYZ-8/10103",
        "data/attachments/NEW/10000/NEW-1/10100: project folder must be the project's original "
        "key ABC: move to data/attachments/ABC/10000/NEW-1/10100",
    ]


# --------------------------------------------------------------------------- media-chunk-size


def test_media_chunk_size_splits_a_large_directory(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "media", GOOD_TREE)
    facts = scanned(tmp_path, root)
    assert not check(rules.media_chunk_size, facts, "media", max_zip=1000).findings
    verdict = check(rules.media_chunk_size, facts, "media", max_zip=10)
    assert "split into 2-5 GB chunks with `jiramigrate split-media`" in texts(verdict)[0]
    assert (verdict.observed, verdict.limit) == (sum(map(len, GOOD_TREE.values())), 10)


def test_media_chunk_size_fails_a_large_zip(tmp_path: Path) -> None:
    archive = zip_tree(GOOD_TREE, tmp_path / "media.zip")
    verdict = check(rules.media_chunk_size, scanned(tmp_path, archive), "media.zip", max_zip=100)
    assert verdict.observed == archive.stat().st_size
    assert texts(verdict) == [
        f"media.zip is {format_size(archive.stat().st_size)}, over 100 B: split into 2-5 GB chunks"
    ]


def test_media_chunk_size_bounds_each_chunk(tmp_path: Path) -> None:
    first = zip_tree(dict(list(GOOD_TREE.items())[:3]), tmp_path / "media-1.zip")
    second = zip_tree(dict(list(GOOD_TREE.items())[3:]), tmp_path / "media-2.zip")
    facts = scanned(tmp_path, first, second)
    size = second.stat().st_size
    verdict = check(rules.media_chunk_size, facts, "media-2.zip", max_chunk=size - 1)
    assert "split it again" in texts(verdict)[0]
    small = check(rules.media_chunk_size, facts, "media-2.zip", min_chunk=size + 1)
    assert not small.findings
    assert small.properties == {"undersized_chunks": "media-2.zip"}
    assert small.advisories[0].text.startswith(f"chunk media-2.zip is {format_size(size)}, under")
    (tmp_path / "alone").mkdir()
    alone = scanned(tmp_path / "alone", second)
    assert check(rules.media_chunk_size, alone, "media-2.zip", min_chunk=size + 1).advisories == ()


# --------------------------------------------------------------------------- attachments


def test_attachments_present_across_chunks(tmp_path: Path) -> None:
    db = new_store(tmp_path)
    add_backup(db)
    first = zip_tree(dict(list(GOOD_TREE.items())[:2]), tmp_path / "media-1.zip")
    second = zip_tree(dict(list(GOOD_TREE.items())[2:]), tmp_path / "media-2.zip")
    facts = scanned(tmp_path, first, second, db=db)
    assert not check(rules.attachments_present, facts, "media-1.zip").findings


def test_attachments_present_names_missing_and_resized_files(tmp_path: Path) -> None:
    db = new_store(tmp_path)
    add_backup(db)
    tree = dict(GOOD_TREE)
    del tree["data/attachments/XYZ/10000/XYZ-7/10102"]
    tree["data/attachments/ABC/10000/ABC-1/10100"] = b"hello, changed"
    facts = scanned(tmp_path, write_tree(tmp_path / "media", tree), db=db)
    verdict = check(rules.attachments_present, facts, "media")
    assert texts(verdict) == [
        "attachment 10100 (hello.txt) of ABC-1: data/attachments/ABC/10000/ABC-1/10100 is "
        "14 bytes, the backup says 5",
        "attachment 10102 (y) of XYZ-7: no file at data/attachments/XYZ/10000/XYZ-7/10102",
    ]
    assert verdict.findings[1].fields == {
        "attachment": "10102",
        "issue": "XYZ-7",
        "filename": "y",
        "expected": "data/attachments/XYZ/10000/XYZ-7/10102",
    }


def test_attachments_orphaned_warns_about_files_without_rows(tmp_path: Path) -> None:
    db = new_store(tmp_path)
    add_backup(db)
    orphan = "data/attachments/ABC/10000/ABC-1/10999"
    facts = scanned(tmp_path, write_tree(tmp_path / "m", {**GOOD_TREE, orphan: b"o"}), db=db)
    assert rules.attachments_orphaned.severity == "warning"
    verdict = check(rules.attachments_orphaned, facts, "m")
    assert texts(verdict) == [f"{orphan}: no attachment 10999 in the backup"]
    db.execute("INSERT INTO attachment (id, issue_id) VALUES ('10999', '11')")
    assert not check(rules.attachments_orphaned, facts, "m").findings


def test_attachment_size_limit_names_large_files_and_rows(tmp_path: Path) -> None:
    db = new_store(tmp_path)
    add_backup(db)
    db.execute(
        "INSERT INTO attachment (id, issue_id, filename, filesize) "
        "VALUES ('10200', '13', 'huge.iso', 30)"
    )
    facts = scanned(tmp_path, zip_tree(GOOD_TREE, tmp_path / "m.zip"), db=db)
    assert not check(rules.attachment_size_limit, facts, "m.zip").findings
    verdict = check(rules.attachment_size_limit, facts, "m.zip", max_size=10)
    assert texts(verdict) == [
        "data/attachments/ABC/20000/ABC-10001/10101 is 20 B, over 10 B",
        "attachment 10200 (huge.iso) is 30 B in the backup, over 10 B",
    ]


def test_storage_within_plan_uses_the_target_plan(tmp_path: Path) -> None:
    facts = scanned(tmp_path, write_tree(tmp_path / "m", GOOD_TREE))
    attachment_bytes = 5 + 3 + 20 + 7
    assert not check(rules.storage_within_plan, facts, "m", plan="free").findings
    verdict = check(rules.storage_within_plan, facts, "m", plan="free", free_storage=30)
    assert verdict.observed == attachment_bytes
    assert texts(verdict) == ["attachments total 35 B, over the Free plan's 30 B of storage"]
    assert check(rules.storage_within_plan, facts, "m", standard_storage=30).findings
    premium = check(rules.storage_within_plan, facts, "m", plan="premium", free_storage=1)
    assert not premium.findings
    assert premium.summary == "The Premium plan has unlimited storage."


def test_attachment_paths_name_files_outside_any_layout(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "media", {**GOOD_TREE, "data/attachments/ABC/notes.txt": b"n"})
    assert texts(check(rules.attachment_paths, scanned(tmp_path, root), "media")) == [
        "data/attachments/ABC/notes.txt: not in the "
        "<PROJECT_KEY>/<BUCKET>/<ISSUE_KEY>/<ATTACHMENT_ID> layout"
    ]


def test_attachments_present_points_at_a_legacy_copy(tmp_path: Path) -> None:
    db = new_store(tmp_path)
    add_backup(db)
    tree = dict(GOOD_TREE)
    del tree["data/attachments/XYZ/10000/XYZ-7/10102"]
    tree["data/attachments/XYZ/XYZ-7/10102_y"] = b"y" * 7
    facts = scanned(tmp_path, write_tree(tmp_path / "media", tree), db=db)
    assert texts(check(rules.attachments_present, facts, "media")) == [
        "attachment 10102 (y) of XYZ-7: no file at data/attachments/XYZ/10000/XYZ-7/10102 "
        "(found at data/attachments/XYZ/XYZ-7/10102_y)"
    ]
