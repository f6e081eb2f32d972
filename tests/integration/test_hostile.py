"""Hostile and broken input, end to end through pytest.

Every input below is something a customer's backup, a Windows zip tool or an
attacker can hand the plugin.  Each run must end in a clear failed item (or a
usage error for a bad YAML file) that names what is wrong, never a traceback,
an ``INTERNALERROR`` or a hang, and the rules whose input is still readable
must keep running.  The inputs themselves must never be written to.

Outputs aimed at inputs, the gate failing closed, ``jiramigrate check`` and the
commands' argument checks are listed one case a line in tests/system/test_hostile_paths.py.
"""

from __future__ import annotations

import io
import json
import random
import signal
import sqlite3
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from synth import SynthSpec, scale_to_megabytes, write_backup, write_media

ENTITY_RULES = ("email-present", "email-unique", "membership-integrity", "summary-length")
NOT_RUN = ("skipped", "error")


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def good_members(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The members of a clean synthetic backup, to rebuild broken zips from."""
    path = tmp_path_factory.mktemp("good") / "site-backup.zip"
    write_backup(path, SynthSpec())
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def build_zip(
    path: Path,
    members: list[tuple[str, bytes]],
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data, compression)
    return path


def backup_with(
    path: Path, good: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED, **replace: bytes
) -> Path:
    """A backup whose ``entities``/``activeobjects`` members are replaced by the given bytes."""
    members = {
        "entities.xml": replace.get("entities", good["entities.xml"]),
        "activeobjects.xml": replace.get("activeobjects", good["activeobjects.xml"]),
    }
    return build_zip(path, list(members.items()), compression)


@pytest.fixture
def run(pytester: pytest.Pytester) -> Callable[..., tuple[pytest.RunResult, dict[str, Any]]]:
    """``run(backup, *args, config=None)``: pytest on it; the result and JSON report by rule."""

    def run_it(
        backup: Path | str, *args: str, config: str | None = None
    ) -> tuple[pytest.RunResult, dict[str, Any]]:
        if config is not None:
            (pytester.path / "jiramigrate.yaml").write_text(config, encoding="utf-8")
        report = pytester.path / "report.json"
        report.unlink(missing_ok=True)
        result = pytester.runpytest_inprocess(
            f"--jira-backup={backup}", f"--jira-report={report}", "-rs", *args
        )
        assert_clean(result)
        rules: dict[str, Any] = {}
        if report.exists():
            rules = {entry["id"]: entry for entry in json.loads(report.read_text())["rules"]}
        return result, rules

    return run_it


def assert_clean(result: pytest.RunResult) -> None:
    output = "\n".join(result.outlines + result.errlines)
    assert "Traceback" not in output, output
    assert "INTERNALERROR" not in output, output


def assert_not_run(rules: dict[str, Any], *ids: str) -> None:
    """A rule that could not read its input is never shown as passed."""
    for rule_id in ids:
        assert rules[rule_id]["outcome"] in NOT_RUN, rules[rule_id]
        assert rules[rule_id]["message"].startswith("not checked"), rules[rule_id]


def failed_message(rules: dict[str, Any], rule_id: str) -> str:
    """The summary of a failed rule and the detail of each of its findings, one a line."""
    entry = rules[rule_id]
    assert entry["outcome"] == "failed", entry
    return "\n".join([entry["message"], *(item["detail"] for item in entry["items"])])


def patch_headers(data: bytes, name: bytes, patch: Callable[[bytearray, int, bool], None]) -> bytes:
    """Apply ``patch(buffer, header_offset, is_central)`` to every header of member ``name``."""
    buffer = bytearray(data)
    for signature, central, name_at in ((b"PK\x03\x04", False, 30), (b"PK\x01\x02", True, 46)):
        start = 0
        while (found := buffer.find(signature, start)) >= 0:
            if buffer[found + name_at : found + name_at + len(name)] == name:
                patch(buffer, found, central)
            start = found + 4
    return bytes(buffer)


def set_method(method: int) -> Callable[[bytearray, int, bool], None]:
    def patch(buffer: bytearray, at: int, central: bool) -> None:
        struct.pack_into("<H", buffer, at + (10 if central else 8), method)

    return patch


def set_encrypted(buffer: bytearray, at: int, central: bool) -> None:
    flag_at = at + (8 if central else 6)
    (flags,) = struct.unpack_from("<H", buffer, flag_at)
    struct.pack_into("<H", buffer, flag_at, flags | 1)


def lie_about_size(buffer: bytearray, at: int, central: bool) -> None:
    if central:
        (size,) = struct.unpack_from("<I", buffer, at + 24)
        struct.pack_into("<I", buffer, at + 24, size // 2)


# --------------------------------------------------------------------------- the backup path


def test_missing_backup_path_fails_backup_archive(run: Any, tmp_path: Path) -> None:
    result, rules = run(tmp_path / "no-such-backup.zip")
    message = failed_message(rules, "backup-archive")
    assert "no-such-backup.zip" in message
    assert "does not exist" in message or "not found" in message.lower()
    assert_not_run(rules, *ENTITY_RULES, "xml-well-formed")
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_directory_as_backup_fails_backup_archive(run: Any, tmp_path: Path) -> None:
    (tmp_path / "backup-dir").mkdir()
    _, rules = run(tmp_path / "backup-dir")
    assert "director" in failed_message(rules, "backup-archive")
    assert_not_run(rules, *ENTITY_RULES)


def test_unreadable_backup_fails_backup_archive(
    run: Any, good_members: Any, tmp_path: Path, deny_read: Any
) -> None:
    path = backup_with(tmp_path / "locked.zip", good_members)
    deny_read(path)
    _, rules = run(path)
    assert "read" in failed_message(rules, "backup-archive").lower()
    assert_not_run(rules, *ENTITY_RULES)


def tar_gz_of(path: Path, entities: bytes) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("entities.xml")
        info.size = len(entities)
        archive.addfile(info, io.BytesIO(entities))
    return path


@pytest.mark.parametrize(
    ("name", "expected"),
    [("site-backup.tar.gz", "tar.gz"), ("entities.xml", "xml")],
)
def test_not_a_zip_fails_backup_archive(
    run: Any, good_members: Any, tmp_path: Path, name: str, expected: str
) -> None:
    path = tmp_path / name
    if name.endswith(".tar.gz"):
        tar_gz_of(path, good_members["entities.xml"])
    else:
        path.write_bytes(good_members["entities.xml"])
    _, rules = run(path)
    message = failed_message(rules, "backup-archive")
    assert "not a zip" in message.lower(), message
    assert expected in message.lower(), message
    assert_not_run(rules, *ENTITY_RULES)


# --------------------------------------------------------------------------- broken zips


def test_zero_byte_file_fails_backup_archive(run: Any, tmp_path: Path) -> None:
    path = tmp_path / "site-backup.zip"
    path.write_bytes(b"")
    _, rules = run(path)
    assert "holds no files" in failed_message(rules, "backup-archive")
    assert_not_run(rules, *ENTITY_RULES)


def test_zip_without_members_fails_the_layout_rules(run: Any, tmp_path: Path) -> None:
    path = build_zip(tmp_path / "site-backup.zip", [])
    _, rules = run(path)
    assert "entities.xml" in failed_message(rules, "entities-xml-at-root")
    assert "activeobjects.xml" in failed_message(rules, "activeobjects-xml-at-root")
    assert_not_run(rules, *ENTITY_RULES)


def test_truncated_zip_fails_backup_archive(run: Any, good_members: Any, tmp_path: Path):
    whole = backup_with(tmp_path / "whole.zip", good_members).read_bytes()
    path = tmp_path / "site-backup.zip"
    path.write_bytes(whole[: len(whole) // 2])
    _, rules = run(path)
    message = failed_message(rules, "backup-archive")
    assert "truncated" in message.lower() or "central directory" in message.lower(), message
    assert_not_run(rules, *ENTITY_RULES)


def test_bad_crc_in_entities_fails_and_activeobjects_still_read(
    run: Any, good_members: Any, tmp_path: Path
) -> None:
    data = backup_with(tmp_path / "whole.zip", good_members, zipfile.ZIP_STORED).read_bytes()
    marker = b"<entity-engine-xml"
    at = data.index(marker) + 1
    path = tmp_path / "site-backup.zip"
    path.write_bytes(data[:at] + b"E" + data[at + 1 :])  # same length, different CRC
    _, rules = run(path)
    assert "crc" in failed_message(rules, "backup-archive").lower()
    assert_not_run(rules, *ENTITY_RULES)


def test_central_directory_lying_about_size_fails(run: Any, good_members: Any, tmp_path: Path):
    data = backup_with(tmp_path / "whole.zip", good_members).read_bytes()
    path = tmp_path / "site-backup.zip"
    path.write_bytes(patch_headers(data, b"entities.xml", lie_about_size))
    _, rules = run(path)
    message = failed_message(rules, "backup-archive")
    assert "entities.xml" in message, message
    assert_not_run(rules, *ENTITY_RULES)


def test_encrypted_member_is_refused(run: Any, good_members: Any, tmp_path: Path) -> None:
    data = backup_with(tmp_path / "whole.zip", good_members).read_bytes()
    path = tmp_path / "site-backup.zip"
    path.write_bytes(patch_headers(data, b"entities.xml", set_encrypted))
    _, rules = run(path)
    message = failed_message(rules, "backup-archive")
    assert "password-protected" in message, message
    assert "re-zip without a password" in message, message
    assert_not_run(rules, *ENTITY_RULES)


def test_deflate64_member_is_refused_with_advice(run: Any, good_members: Any, tmp_path: Path):
    data = backup_with(tmp_path / "whole.zip", good_members).read_bytes()
    path = tmp_path / "site-backup.zip"
    path.write_bytes(patch_headers(data, b"entities.xml", set_method(9)))
    _, rules = run(path)
    message = failed_message(rules, "backup-archive")
    assert "deflate64" in message.lower(), message
    assert_not_run(rules, *ENTITY_RULES)
    assert rules["activeobjects-xml-at-root"]["outcome"] == "passed"


@pytest.mark.parametrize(
    ("method", "name"), [(zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "lzma")]
)
def test_bzip2_and_lzma_members_are_refused_as_cloud_cannot_read_them(
    run: Any, good_members: Any, tmp_path: Path, method: int, name: str
) -> None:
    path = backup_with(tmp_path / "site-backup.zip", good_members, method)
    _, rules = run(path)
    message = failed_message(rules, "backup-archive")
    assert name in message.lower(), message
    assert "re-zip" in message, message
    assert_not_run(rules, *ENTITY_RULES, "xml-well-formed")


def test_each_archive_problem_is_listed_once(run: Any, good_members: Any, tmp_path: Path):
    path = backup_with(tmp_path / "site-backup.zip", good_members, zipfile.ZIP_BZIP2)
    _, rules = run(path)
    assert rules["backup-archive"]["findings"] == 2, failed_message(rules, "backup-archive")


def test_zip_bomb_by_ratio_is_refused(run: Any, good_members: Any, tmp_path: Path) -> None:
    padding = b"<!--" + b" " * 3_000_000 + b"-->\n"
    entities = good_members["entities.xml"].replace(
        b"<entity-engine-xml", padding + b"<entity-engine-xml", 1
    )
    path = backup_with(tmp_path / "site-backup.zip", good_members, entities=entities)
    _, rules = run(path, config="archive:\n  max_ratio: 10\n")
    message = failed_message(rules, "backup-archive")
    assert "max_ratio" in message, message
    assert_not_run(rules, *ENTITY_RULES)


def test_zip_bomb_by_size_is_refused(run: Any, good_members: Any, tmp_path: Path) -> None:
    noise = bytes(range(256)) * 6000  # ~1.5 MB that deflates poorly: not a ratio bomb
    comment = b"<!-- " + noise.hex().encode()[:1_500_000] + b" -->\n"
    entities = good_members["entities.xml"].replace(
        b"<entity-engine-xml", comment + b"<entity-engine-xml", 1
    )
    path = backup_with(tmp_path / "site-backup.zip", good_members, entities=entities)
    _, rules = run(path, config="archive:\n  max_uncompressed: 1MB\n")
    message = failed_message(rules, "backup-archive")
    assert "max_uncompressed" in message, message
    assert_not_run(rules, *ENTITY_RULES)


@pytest.mark.parametrize(
    "hostile_name",
    ["../entities.xml", "/etc/entities.xml", "C:/entities.xml", "C:\\temp\\evil.xml"],
)
def test_unsafe_member_names_are_reported(
    run: Any, good_members: Any, tmp_path: Path, hostile_name: str
) -> None:
    members = [*good_members.items(), (hostile_name, b"<x/>")]
    path = build_zip(tmp_path / "site-backup.zip", members)
    _, rules = run(path)
    message = failed_message(rules, "backup-archive")
    assert "unsafe" in message.lower() or "path" in message.lower(), message
    for rule_id in ENTITY_RULES:
        assert rules[rule_id]["outcome"] == "passed", rules[rule_id]


def test_duplicate_member_names_are_reported(run: Any, good_members: Any, tmp_path: Path):
    members = [*good_members.items(), ("entities.xml", b"<entity-engine-xml/>")]
    with pytest.warns(UserWarning, match="Duplicate name"):
        path = build_zip(tmp_path / "site-backup.zip", members)
    _, rules = run(path)
    message = failed_message(rules, "backup-archive")
    assert "appears more than once" in message, message
    assert "entities.xml" in message


# --------------------------------------------------------------------------- broken entities.xml


def cut_inside(data: bytes, marker: bytes, into: int) -> bytes:
    """``data`` cut ``into`` bytes after the first ``marker``."""
    return data[: data.index(marker) + into]


def billion_laughs(entities: bytes) -> bytes:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    ]
    doctype = f"<!DOCTYPE entity-engine-xml [{''.join(levels)}]>\n".encode()
    return with_doctype(entities, doctype).replace(b'firstName="', b'firstName="&lol9;', 1)


def with_doctype(entities: bytes, doctype: bytes) -> bytes:
    return entities.replace(b"<entity-engine-xml", doctype + b"<entity-engine-xml", 1)


def deep_nesting(entities: bytes, depth: int) -> bytes:
    nested = b"<n>" * depth + b"x" + b"</n>" * depth
    row = b'<Issue id="999999" key="DEEP-1" summary="deep">' + nested + b"</Issue>\n"
    return entities.replace(b"</entity-engine-xml>", row + b"</entity-engine-xml>", 1)


def huge_text_node(entities: bytes) -> bytes:
    text = random.Random(0).randbytes(6 * 1024 * 1024).hex().encode()  # poorly compressible
    row = (
        b'<Issue id="999999" key="HUGE-1"><description><![CDATA['
        + text
        + b"]]></description></Issue>\n"
    )
    return entities.replace(b"</entity-engine-xml>", row + b"</entity-engine-xml>", 1)


BROKEN_ENTITIES: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda e: b"",
    "truncated-mid-element": lambda e: cut_inside(e, b'<Issue id="', 20),
    "truncated-mid-cdata": lambda e: cut_inside(e, b"<![CDATA[", 15),
    "latin1-declared-utf8": lambda e: e.replace(b'firstName="', b'firstName="Ren\xe9 ', 1),
    "utf16-bom": lambda e: e.decode("utf-8").encode("utf-16"),
    "deeper-than-libxml2-limit": lambda e: deep_nesting(e, 300),
}


@pytest.mark.parametrize("fault", sorted(BROKEN_ENTITIES))
def test_broken_entities_xml_fails_a_named_rule(
    run: Any, good_members: Any, tmp_path: Path, fault: str
) -> None:
    entities = BROKEN_ENTITIES[fault](good_members["entities.xml"])
    path = backup_with(tmp_path / "site-backup.zip", good_members, entities=entities)
    _, rules = run(path)
    failed = [rule_id for rule_id, entry in rules.items() if entry["outcome"] == "failed"]
    xml_rules = {"xml-well-formed", "xml-valid-characters", "backup-complete"}
    assert xml_rules & set(failed), {k: rules[k]["message"] for k in rules}
    assert rules["backup-archive"]["outcome"] == "passed"
    assert rules["activeobjects-xml-at-root"]["outcome"] == "passed"
    for rule_id in xml_rules & set(failed) - {"backup-complete"}:
        assert "entities.xml" in failed_message(rules, rule_id)


def test_billion_laughs_is_not_expanded(run: Any, good_members: Any, tmp_path: Path) -> None:
    entities = billion_laughs(good_members["entities.xml"])
    path = backup_with(tmp_path / "site-backup.zip", good_members, entities=entities)
    result, rules = run(path)
    assert "lollollol" not in result.stdout.str()
    assert "lollollol" not in json.dumps(rules)
    message = failed_message(rules, "xml-well-formed")
    assert "declares a DOCTYPE" in message, message
    assert "not expanded" in message, message


def test_backup_complete_does_not_blame_truncation_for_a_parse_stop(
    run: Any, good_members: Any, tmp_path: Path
) -> None:
    entities = billion_laughs(good_members["entities.xml"])
    path = backup_with(tmp_path / "site-backup.zip", good_members, entities=entities)
    _, rules = run(path)
    entry = rules["backup-complete"]
    details = [entry["message"], *(item["detail"] for item in entry["items"])]
    assert not [text for text in details if "cut short" in text or "without the trailer" in text]


def test_external_entity_is_never_read(
    pytester: pytest.Pytester, good_members: Any, tmp_path: Path
) -> None:
    marker = "XXE-MARKER-7f3a9c"
    secret = tmp_path / "secret.txt"
    secret.write_text(marker)
    doctype = f'<!DOCTYPE entity-engine-xml [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n'
    entities = with_doctype(good_members["entities.xml"], doctype.encode())
    entities = entities.replace(b'firstName="', b'firstName="&xxe;', 1)
    entities = entities.replace(b"<![CDATA[", b"<![CDATA[]]>&xxe;<![CDATA[", 1)
    path = backup_with(tmp_path / "site-backup.zip", good_members, entities=entities)
    report, junit = pytester.path / "report.json", pytester.path / "junit.xml"
    result = pytester.runpytest_inprocess(
        f"--jira-backup={path}", f"--jira-report={report}", f"--junitxml={junit}", "-rA", "-vv"
    )
    assert_clean(result)
    outputs = [result.stdout.str(), result.stderr.str(), report.read_text(), junit.read_text()]
    cache = pytester.path / ".pytest_cache"
    outputs += [p.read_bytes().decode("latin-1") for p in cache.rglob("*") if p.is_file()]
    assert not [text for text in outputs if marker in text]
    assert "FAILED site-backup.zip::xml-well-formed - " in result.stdout.str()
    rules = {entry["id"]: entry for entry in json.loads(report.read_text())["rules"]}
    assert "declares a DOCTYPE" in failed_message(rules, "xml-well-formed")


@pytest.mark.slow
def test_text_node_over_10mb_is_refused_in_words_an_admin_can_act_on(
    run: Any, good_members: Any, tmp_path: Path
) -> None:
    # libxml2's 10 MB limit for one text stays on: Jira's fields are far smaller, and it
    # bounds what a hostile file can make the parser hold
    entities = huge_text_node(good_members["entities.xml"])
    path = backup_with(tmp_path / "site-backup.zip", good_members, entities=entities)
    _, rules = run(path)
    message = failed_message(rules, "xml-well-formed")
    assert "longer than 10 MB" in message and "Issue id=999999" in message, message


def test_deep_nesting_finishes_with_a_located_failure(
    run: Any, good_members: Any, tmp_path: Path
) -> None:
    entities = deep_nesting(good_members["entities.xml"], 300)
    path = backup_with(tmp_path / "site-backup.zip", good_members, entities=entities)
    _, rules = run(path)
    message = failed_message(rules, "xml-well-formed")
    assert "entities.xml line " in message, message
    assert_not_run(rules, *ENTITY_RULES)


def test_parse_error_names_the_row_that_holds_it(
    run: Any, good_members: Any, tmp_path: Path
) -> None:
    entities = deep_nesting(good_members["entities.xml"], 300)
    path = backup_with(tmp_path / "site-backup.zip", good_members, entities=entities)
    _, rules = run(path)
    assert "Issue id=999999" in failed_message(rules, "xml-well-formed")


# --------------------------------------------------------------------------- activeobjects.xml


@pytest.mark.parametrize(
    "activeobjects", [None, b"<backup xmlns='http://www.atlassian.com/ao'><da"]
)
def test_activeobjects_fault_leaves_entity_rules_running(
    run: Any, good_members: Any, tmp_path: Path, activeobjects: bytes | None
) -> None:
    path = tmp_path / "site-backup.zip"
    if activeobjects is None:
        build_zip(path, [("entities.xml", good_members["entities.xml"])])
    else:
        backup_with(path, good_members, activeobjects=activeobjects)
    _, rules = run(path)
    if activeobjects is None:
        assert "activeobjects.xml" in failed_message(rules, "activeobjects-xml-at-root")
    else:
        assert "activeobjects.xml" in failed_message(rules, "xml-well-formed")
    for rule_id in (*ENTITY_RULES, "backup-complete", "jira-version-supported"):
        assert rules[rule_id]["outcome"] == "passed", rules[rule_id]


def test_entity_rules_still_fail_normally_beside_broken_activeobjects(
    run: Any, tmp_path: Path
) -> None:
    path = tmp_path / "site-backup.zip"
    write_backup(path, SynthSpec(faults=("email-duplicate", "missing-activeobjects")))
    _, rules = run(path)
    assert rules["email-unique"]["outcome"] == "failed"
    assert rules["activeobjects-xml-at-root"]["outcome"] == "failed"


# --------------------------------------------------------------------------- YAML


YAML_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 9)}]\n" for n in range(8)
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("archive:\n  max_ratio: [1\n", "jiramigrate.yaml:"),
        ("archive:\n  max_ratio: lots\n", "jiramigrate.yaml:2: archive.max_ratio"),
        ("archive:\n  max_ratios: 10\n", "jiramigrate.yaml:2: archive.max_ratios"),
        ("archive: 12\n", "jiramigrate.yaml:1: archive"),
        (YAML_BOMB, "jiramigrate.yaml:"),
    ],
    ids=["malformed", "wrong-type", "unknown-key", "not-a-mapping", "alias-bomb"],
)
def test_bad_yaml_is_a_usage_error_naming_file_line_and_key(
    pytester: pytest.Pytester, good_members: Any, tmp_path: Path, text: str, expected: str
) -> None:
    path = backup_with(tmp_path / "site-backup.zip", good_members)
    (pytester.path / "jiramigrate.yaml").write_text(text)
    result = pytester.runpytest_inprocess(f"--jira-backup={path}")
    assert_clean(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert expected in result.stderr.str(), result.stderr.str()


# --------------------------------------------------------------------------- media


def test_media_directory_with_symlink_loop_and_unreadable_file(run: Any, tmp_path: Path) -> None:
    backup = tmp_path / "site-backup.zip"
    manifest = write_backup(backup, SynthSpec())
    media = tmp_path / "media"
    write_media(media, manifest)
    (media / "data" / "loop").symlink_to(media / "data", target_is_directory=True)
    (media / "data" / "self").symlink_to(media / "data" / "self")
    locked = next(p for p in (media / "data" / "attachments").rglob("*") if p.is_file())
    locked.chmod(0)
    try:
        result, rules = run(backup, f"--jira-media={media}")
    finally:
        locked.chmod(0o644)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    media_rules = {k: v for k, v in rules.items() if v["target"] == "media"}
    assert "data/self: symlink loop" in failed_message(media_rules, "media-archive")
    assert media_rules["attachments-present"]["outcome"] == "passed"  # the locked file is listed
    for rule_id in ENTITY_RULES:
        assert rules[rule_id]["outcome"] == "passed", rules[rule_id]


def test_media_zip_with_dotdot_names(run: Any, tmp_path: Path) -> None:
    backup = tmp_path / "site-backup.zip"
    write_backup(backup, SynthSpec())
    media = build_zip(
        tmp_path / "media.zip",
        [("data/attachments/ABC/10000/ABC-1/10000", b"x"), ("../../escape.txt", b"evil")],
    )
    _, rules = run(backup, f"--jira-media={media}")
    media_rules = {k: v for k, v in rules.items() if v["target"] == "media.zip"}
    message = failed_message(media_rules, "media-archive")
    assert "'../../escape.txt' would be written outside the import folder" in message, message
    assert not (tmp_path.parent / "escape.txt").exists()


# --------------------------------------------------------------------------- nothing touched


def listing(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``root`` with its size, mtime and mode: a run must change none."""
    entries = {}
    for path in sorted(root.rglob("*")):
        stat = path.lstat()
        entries[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns, stat.st_mode)
    return entries


def test_inputs_are_byte_identical_after_a_run(run: Any, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    backup = inputs / "site-backup.zip"
    inputs.mkdir()
    manifest = write_backup(backup, SynthSpec(faults=("control-char", "email-duplicate")))
    write_media(inputs / "media", manifest, faults=("orphan-file",))
    before, content = listing(inputs), backup.read_bytes()
    _result, rules = run(backup, f"--jira-media={inputs / 'media'}")
    assert rules["email-unique"]["outcome"] == "failed"
    assert listing(inputs) == before
    assert backup.read_bytes() == content


def test_read_only_inputs_are_checked_and_left_alone(run: Any, tmp_path: Path) -> None:
    inputs = tmp_path / "read-only"
    backup = inputs / "site-backup.zip"
    inputs.mkdir()
    manifest = write_backup(backup, SynthSpec())
    write_media(inputs / "media", manifest)
    paths = [inputs, *inputs.rglob("*")]
    for path in paths:
        path.chmod(path.stat().st_mode & ~0o222)
    before = listing(inputs)
    try:
        _, rules = run(backup, f"--jira-media={inputs / 'media'}")
        after = listing(inputs)
    finally:
        for path in paths:
            path.chmod(path.stat().st_mode | 0o200)
    assert after == before  # as root chmod does not stop writes: the listing does
    for rule_id in ("backup-archive", "xml-well-formed", *ENTITY_RULES):
        assert rules[rule_id]["outcome"] == "passed", rules[rule_id]


# --------------------------------------------------------------------------- atomic outputs


def test_json_report_replaces_an_old_one_only_at_the_end(
    pytester: pytest.Pytester, good_members: Any, tmp_path: Path
) -> None:
    """A conftest looks at the report while the rules run: the old one must still be there."""
    report = pytester.path / "report.json"
    report.write_text("OLD")
    pytester.makeconftest(
        f"""
        from pathlib import Path

        def pytest_runtest_teardown(item):
            seen = Path({str(report)!r}).read_text()
            with open({str(pytester.path / "seen.txt")!r}, "a") as out:
                out.write(seen[:3] + "\\n")
        """
    )
    # inside the rootdir: conftest hooks only see items under the conftest's directory
    path = backup_with(pytester.path / "site-backup.zip", good_members)
    result = pytester.runpytest_inprocess(f"--jira-backup={path}", f"--jira-report={report}")
    assert_clean(result)
    seen = (pytester.path / "seen.txt").read_text().split()
    assert seen and set(seen) == {"OLD"}
    assert json.loads(report.read_text())["schema"] == "jiramigrate-report/1"
    assert sorted(p.name for p in pytester.path.iterdir() if "report" in p.name) == ["report.json"]


@pytest.fixture(scope="module")
def big_backup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backup with ~50 MB of entities.xml: its scan lasts long enough to interrupt."""
    path = tmp_path_factory.mktemp("big") / "site-backup.zip"
    write_backup(path, scale_to_megabytes(SynthSpec(), 50))
    return path


def wait_for_partial_store(cache: Path) -> None:
    """Wait (a minute at most) until a run's scan has begun writing its store under ``cache``."""
    deadline = time.monotonic() + 60
    while not list(cache.glob("*.partial")) and time.monotonic() < deadline:
        time.sleep(0.01)


def completed_stores(cache: Path) -> list[Path]:
    """Stores under ``cache`` (any name) whose meta says the scan completed."""
    complete = []
    for path in cache.rglob("*"):
        if not path.is_file() or path.suffix == ".json":
            continue
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                row = db.execute("SELECT value FROM meta WHERE key = 'complete'").fetchone()
        except sqlite3.DatabaseError:
            continue
        if row == ("1",):
            complete.append(path)
    return complete


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.slow
def test_interrupted_scan_leaves_nothing_that_looks_complete(
    big_backup: Path, tmp_path: Path, signum: int
) -> None:
    report = tmp_path / "report.json"
    command = [
        sys.executable, "-m", "pytest", "-p", "no:randomly", "-q",
        f"--jira-backup={big_backup}", f"--jira-report={report}", "--rootdir", str(tmp_path),
    ]  # fmt: skip
    cache = tmp_path / ".pytest_cache" / "d" / "jiramigrate"
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while not list(cache.glob("*.partial")) and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0].decode()
        time.sleep(0.01)
    process.send_signal(signum)
    output = process.communicate(timeout=60)[0].decode()
    assert "INTERNALERROR" not in output, output
    assert process.returncode != 0
    assert not report.exists() or json.loads(report.read_text())["rules"], output
    assert completed_stores(cache) == [], output

    rerun = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stdout
    assert json.loads(report.read_text())["schema"] == "jiramigrate-report/1"
    assert len(completed_stores(cache)) == 1


@pytest.mark.slow
def test_interrupted_scan_leaves_no_partial_files(big_backup: Path, tmp_path: Path) -> None:
    """Ctrl-C runs the ``finally`` that removes the partial store; SIGTERM is not asked of it."""
    command = [
        sys.executable, "-m", "pytest", "-p", "no:randomly", "-q",
        f"--jira-backup={big_backup}", "--rootdir", str(tmp_path),
    ]  # fmt: skip
    cache = tmp_path / ".pytest_cache" / "d" / "jiramigrate"
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL)
    wait_for_partial_store(cache)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    assert list(cache.glob("*.partial")) == []


@pytest.mark.slow
def test_next_run_clears_the_partial_store_of_a_killed_run(
    big_backup: Path, tmp_path: Path
) -> None:
    command = [
        sys.executable, "-m", "pytest", "-p", "no:randomly", "-q",
        f"--jira-backup={big_backup}", "--rootdir", str(tmp_path),
    ]  # fmt: skip
    cache = tmp_path / ".pytest_cache" / "d" / "jiramigrate"
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL)
    wait_for_partial_store(cache)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    subprocess.run(command, cwd=tmp_path, capture_output=True, timeout=120, check=True)
    assert list(cache.glob("*.partial")) == []


def test_verbose_output_shows_the_backup_file_name_intact(
    pytester: pytest.Pytester, good_members: Any
) -> None:
    path = backup_with(pytester.path / "site-backup.zip", good_members)
    result = pytester.runpytest_inprocess(f"--jira-backup={path}", "-v")
    assert_clean(result)
    result.stdout.fnmatch_lines(["site-backup.zip::backup-archive PASSED*"])


def test_duplicated_entities_xml_is_not_checked_rather_than_passed(
    run: Any, good_members: Any, tmp_path: Path
) -> None:
    members = [*good_members.items(), ("entities.xml", b"<entity-engine-xml/>")]
    with pytest.warns(UserWarning, match="Duplicate name"):
        path = build_zip(tmp_path / "site-backup.zip", members)
    _, rules = run(path)
    assert_not_run(rules, *ENTITY_RULES)
