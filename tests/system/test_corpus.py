"""Real backups written by Jira itself (shared/corpus): the plugin on what customers have.

The site zips go through pytester like a user's run.  The ~700 testkit XML
files are checked by calling the library directly (scan, facts, evaluate),
since 700 pytest sessions would take minutes for no extra coverage.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from corpus_path import CORPUS

from pytest_jiramigrate.config import load_config
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.rules import after_import, archive, content, groups, users
from pytest_jiramigrate.rules.base import Rule
from pytest_jiramigrate.rules.outcome import evaluate
from pytest_jiramigrate.scan.backup import scan_backup

RULES: tuple[Rule, ...] = (
    *archive.RULES,
    *users.RULES,
    *groups.RULES,
    *content.RULES,
    *after_import.RULES,
)
OUTCOMES = {"passed", "failed", "warning", "skipped", "error"}

#: every test here reads the corpus; tests/conftest.py skips them when it is absent
pytestmark = pytest.mark.corpus


def run_on(pytester: pytest.Pytester, name: str, *args: str) -> tuple[pytest.RunResult, Any]:
    """Run the plugin on a private copy of a corpus zip; return the result and JSON report."""
    backup = pytester.path / "backups" / name
    backup.parent.mkdir(exist_ok=True)
    shutil.copyfile(CORPUS / name, backup)
    result = pytester.runpytest_inprocess(
        f"--jira-backup={backup}", "-rA", "--jira-report=report.json", *args
    )
    output = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in output
    assert "Traceback" not in output
    report = json.loads((pytester.path / "report.json").read_text(encoding="utf-8"))
    return result, report


def entry(report: Any, rule_id: str) -> dict[str, Any]:
    (found,) = [rule for rule in report["rules"] if rule["id"] == rule_id]
    return found


def test_jira_6_4_dvcs_backup_is_too_old_and_uses_example_addresses(
    pytester: pytest.Pytester,
) -> None:
    name = "jira-6.4-test-dvcs.zip"
    with zipfile.ZipFile(CORPUS / name) as backup:
        text = backup.read("entities.xml").decode("utf-8")
    result, report = run_on(pytester, name)
    result.stdout.fnmatch_lines(
        [f"FAILED *{name}::jira-version-supported - *", f"FAILED *{name}::email-domain - *"]
    )
    assert report["backup"]["jira_version"].startswith("6.4")
    domain = entry(report, "email-domain")
    assert domain["items"]
    for item in domain["items"]:
        assert item["email"].lower().endswith("@example.com")
        assert f'"{item["email"]}"' in text or f">{item['email']}<" in text
        assert item["email"] in result.stdout.str()


def test_jira_4_4_misnamed_entities_file_is_named(pytester: pytest.Pytester) -> None:
    name = "jira-4.4-misnamed-entities.zip"
    with zipfile.ZipFile(CORPUS / name) as backup:
        (misnamed,) = [m for m in backup.namelist() if m.endswith(".xml")]
    assert misnamed != "entities.xml"
    result, report = run_on(pytester, name)
    result.stdout.fnmatch_lines([f"FAILED *{name}::entities-xml-at-root - *"])
    assert misnamed in result.stdout.str()
    assert any(
        misnamed in item["detail"] for item in entry(report, "entities-xml-at-root")["items"]
    )


@pytest.mark.parametrize(
    "name", ["jira-5.0-activeobjects.zip", "jira-5.0-activeobjects-baddata.zip"]
)
def test_jira_5_0_activeobjects_backups_run_without_internal_error(
    name: str, pytester: pytest.Pytester
) -> None:
    result, report = run_on(pytester, name)
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    assert {rule["id"] for rule in report["rules"]} == {rule.id for rule in RULES}
    for rule in report["rules"]:
        assert rule["outcome"] in OUTCOMES
        assert rule["outcome"] != "error" or rule["message"].startswith("not checked")


# --------------------------------------------------------------------------- the XML set


@pytest.fixture(scope="session")
def testkit_xml(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The testkit's entities.xml-format files, unpacked once per session."""
    root = tmp_path_factory.mktemp("testkit")
    with tarfile.open(CORPUS / "jira-testkit-xml.tar.xz") as archive_file:
        archive_file.extractall(root, filter="data")
    return sorted(root.rglob("*.xml"))


def site_backup(xml: Path, zip_path: Path) -> Path:
    """``xml`` wrapped as the entities.xml of a site backup zip (stored: zipping is not tested)."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as backup:
        backup.write(xml, "entities.xml")
    return zip_path


@contextmanager
def scanned(xml: Path, work: Path) -> Iterator[Facts]:
    """The facts of ``xml`` as a site backup; files are removed once the test is done with them."""
    backup = site_backup(xml, work / "site-backup.zip")
    store = work / "facts.sqlite"
    store.unlink(missing_ok=True)
    scan_backup(backup, store, ArchiveLimits())
    facts = Facts.open(store)
    try:
        yield facts
    finally:
        facts.db.close()


@pytest.mark.slow
def test_every_testkit_file_scans_and_checks_without_internal_error(
    testkit_xml: list[Path], tmp_path: Path
) -> None:
    assert len(testkit_xml) > 600
    settings = load_config(None, RULES).rules
    crashes: list[str] = []
    not_failed_old_versions: list[str] = []
    versions = 0
    for xml in testkit_xml:
        with scanned(xml, tmp_path) as facts:
            for rule in RULES:
                outcome = evaluate(rule, facts, settings[rule.id], "site-backup.zip")
                assert outcome.status in OUTCOMES
                if outcome.status == "error" and not outcome.reason.startswith("not checked"):
                    crashes.append(f"{xml.name}: {rule.id}: {outcome.reason}")
                if rule.id == "jira-version-supported" and facts.meta.get("jira_version"):
                    versions += 1
                    if outcome.status != "failed":
                        not_failed_old_versions.append(f"{xml.name}: {outcome.status}")
    assert crashes == []
    assert versions > 600
    assert not_failed_old_versions == []


def test_pre_4_3_osuser_files_yield_users_with_their_email(
    testkit_xml: list[Path], tmp_path: Path
) -> None:
    osuser_files = [xml for xml in testkit_xml if b"<OSUser " in xml.read_bytes()]
    assert len(osuser_files) >= 20
    for xml in osuser_files:
        with scanned(xml, tmp_path) as facts:
            users_found = facts.query("SELECT user_name, email FROM user WHERE source = 'OSUser'")
            assert users_found, xml.name
            with_email = [row for row in users_found if row["email"]]
            assert with_email, xml.name
            text = xml.read_text(encoding="utf-8", errors="replace")
            for row in with_email:
                assert row["email"] in text, (xml.name, row["user_name"])


def test_jira_6_4_dvcs_backup_groups_and_base_url(pytester: pytest.Pytester) -> None:
    """The real file holds the cases: jira-administrators (ADMINISTER, SYSTEM_ADMIN) merges
    into Cloud's administrators, and both base URLs name the same server."""
    _, report = run_on(pytester, "jira-6.4-test-dvcs.zip")
    merge = entry(report, "group-merge-escalation")
    assert merge["outcome"] == "warning"
    assert [item["detail"] for item in merge["items"]] == [
        "jira-administrators (becomes administrators; holds ADMINISTER, SYSTEM_ADMIN): admin"
    ]
    base = entry(report, "server-base-url")
    assert base["outcome"] == "passed"
    assert base["properties"] == {
        "jira_baseurl": "http://localhost:2990/jira",
        "header_base_url": "http://localhost:2990/jira",
    }
    assert entry(report, "membership-integrity")["outcome"] == "passed"
