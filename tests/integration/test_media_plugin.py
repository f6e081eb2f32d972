"""Media targets through the plugin, as users run it: directories and zips, with and without
the backup, single and chunked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synth import SynthSpec, write_backup, write_media, write_media_zip

MEDIA_RULES = (
    "media-archive",
    "media-structure",
    "attachment-paths",
    "media-chunk-size",
    "attachments-present",
    "attachments-orphaned",
    "attachment-size-limit",
    "storage-within-plan",
)


def outcomes(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, str]]:
    """Run pytest and return the JSON report's outcome per node id."""
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--jira-report=r.json", *args)
    assert "INTERNALERROR" not in result.stdout.str()
    assert "Traceback" not in result.stdout.str()
    report = json.loads((pytester.path / "r.json").read_text())
    return result, {f"{r['target']}::{r['id']}": r["outcome"] for r in report["rules"]}


@pytest.fixture
def backup(pytester: pytest.Pytester):
    path = pytester.path / "site-backup.zip"
    return path, write_backup(path, SynthSpec())


def test_clean_media_directory_passes_every_media_rule(pytester, backup) -> None:
    path, manifest = backup
    write_media(pytester.path / "media", manifest)
    result, seen = outcomes(pytester, f"--jira-backup={path}", "--jira-media=media")
    for rule in MEDIA_RULES:
        assert seen[f"media::{rule}"] in ("passed", "warning"), rule
    assert result.ret == 0


def test_passed_media_rules_say_what_they_checked(pytester, backup) -> None:
    """A pass reads as a sentence in every report, never as an empty message."""
    path, manifest = backup
    write_media(pytester.path / "media", manifest)
    outcomes(pytester, f"--jira-backup={path}", "--jira-media=media")
    report = json.loads((pytester.path / "r.json").read_text())
    messages = {r["id"]: r["message"] for r in report["rules"] if r["target"] == "media"}
    assert messages["media-archive"] == "No problem in the media directory media."
    assert messages["media-structure"] == "No layout fault in the media directory media."
    assert messages["attachments-present"] == (
        "No attachment of the backup missing or different in the media."
    )
    assert all(messages[rule] for rule in MEDIA_RULES), messages


def test_missing_and_orphaned_files_in_a_zip_are_named(pytester, backup) -> None:
    path, manifest = backup
    faults = write_media_zip(
        pytester.path / "media.zip", manifest, faults=["missing-attachment-file", "orphan-file"]
    )
    result, seen = outcomes(pytester, f"--jira-backup={path}", "--jira-media", "media.zip", "-rA")
    assert seen["media.zip::attachments-present"] == "failed"
    assert seen["media.zip::attachments-orphaned"] == "warning"
    missing = next(f for f in faults if f["fault"] == "missing-attachment-file")
    result.stdout.fnmatch_lines([f"*{missing['attachment_id']}*"])
    assert result.ret == 1


def test_media_without_backup_runs_the_rules_that_need_none(pytester, backup) -> None:
    _path, manifest = backup
    write_media(pytester.path / "media", manifest, faults=["stray-file"])
    result, seen = outcomes(pytester, "--jira-media=media", "-rA")
    assert seen["media::media-structure"] == "failed"
    assert seen["media::media-archive"] == "passed"
    assert seen["media::attachments-present"] == "error"  # "not checked": no backup given
    result.stdout.fnmatch_lines(["*SKIPPED*not checked*no --jira-backup was given*"])


def test_each_chunk_is_its_own_node(pytester, backup) -> None:
    path, manifest = backup
    write_media_zip(pytester.path / "one.zip", manifest)
    write_media_zip(pytester.path / "two.zip", manifest, faults=["wrapping-folder"])
    result, seen = outcomes(
        pytester, f"--jira-backup={path}", "--jira-media=one.zip", "--jira-media=two.zip"
    )
    assert seen["one.zip::media-structure"] == "passed"
    assert seen["two.zip::media-structure"] == "failed"
    result.stdout.fnmatch_lines(["*jira-home*"])


def test_lowered_chunk_limit_in_yaml_fails_the_zip(pytester, backup) -> None:
    path, manifest = backup
    write_media_zip(pytester.path / "media.zip", manifest)
    pytester.makefile(".yaml", jiramigrate="rules:\n  media-chunk-size:\n    max_zip: 1KB\n")
    _result, seen = outcomes(pytester, f"--jira-backup={path}", "--jira-media=media.zip")
    assert seen["media.zip::media-chunk-size"] == "failed"


def test_media_ini_key_lists_one_target_per_line(pytester, backup) -> None:
    path, manifest = backup
    write_media(pytester.path / "media", manifest)
    write_media_zip(pytester.path / "more.zip", manifest)
    pytester.makeini(
        f"[pytest]\njira_backup = {Path(path).name}\njira_media =\n    media\n    more.zip\n"
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["media::media-archive", "more.zip::media-archive"])
