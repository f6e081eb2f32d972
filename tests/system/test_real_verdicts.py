"""Verdicts that hold on backups as Jira really wrote them (issue 11), end to end.

Real backups lack what the synthetic default has: Jira 3.x wrote neither the
header comment nor the trailer, the header had no Base URL line before 4.1,
and a backup without activeobjects.xml must not be said to have one checked.
Each case rewrites a synthetic backup the way such a Jira wrote it and runs
the plugin on it through pytester.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import BackupFactory, JiraRun

from pytest_jiramigrate.facts import release_of_build

NODE = "site-backup.zip"
#: the build number property Jira keeps beside the header (712000 is Jira 7.12.0)
VERSION_PATCHED = (
    '    <OSPropertyEntry id="990001" entityName="jira.properties" entityId="1"'
    ' propertyKey="jira.version.patched" type="5"/>\n'
    '    <OSPropertyString id="990001" value="{build}"/>\n'
)


def rewrite_entities(source: Path, target: Path, *, header: bool, trailer: bool, build: str = "",
                     activeobjects: bool = True) -> Path:  # fmt: skip
    """A copy of ``source`` whose entities.xml lacks the header and/or trailer comment."""
    with zipfile.ZipFile(source) as backup:
        text = backup.read("entities.xml").decode("utf-8")
        ao = backup.read("activeobjects.xml") if "activeobjects.xml" in backup.namelist() else None
    if not header:
        text = re.sub(r"<!--.*?-->\n", "", text, count=1, flags=re.S)
    if not trailer:
        text = re.sub(r"<!--\s*___ Entities ___.*?-->\n?", "", text, flags=re.S)
    if build:
        text = re.sub(r"(<entity-engine-xml[^>]*>\n)", r"\1" + VERSION_PATCHED.format(build=build),
                      text, count=1)  # fmt: skip
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as backup:
        backup.writestr("entities.xml", text)
        if ao is not None and activeobjects:
            backup.writestr("activeobjects.xml", ao)
    return target


def report_of(pytester: pytest.Pytester) -> dict[str, Any]:
    return json.loads((pytester.path / "report.json").read_text(encoding="utf-8"))


def entry(report: dict[str, Any], rule_id: str) -> dict[str, Any]:
    (found,) = [rule for rule in report["rules"] if rule["id"] == rule_id]
    return found


def test_a_backup_without_header_or_trailer_is_complete_and_named_by_its_property(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    backup = rewrite_entities(
        synth_backup().path, tmp_path / NODE, header=False, trailer=False, build="712000"
    )

    result = run_jira(backup, "-rA", "--jira-report=report.json")

    result.stdout.fnmatch_lines(
        [
            f"PASSED {NODE}::jira-version-supported",
            f"PASSED {NODE}::backup-complete",
            f"PASSED {NODE}::server-base-url",
        ]
    )
    report = report_of(pytester)
    complete = entry(report, "backup-complete")
    assert complete["outcome"] == "passed"
    assert "no '___ Entities ___' trailer to compare with" in complete["message"]
    assert "root element closes" in complete["message"]
    version = entry(report, "jira-version-supported")
    assert version["outcome"] == "passed"
    assert (
        "Jira 7.12 (from build 712000 in the jira.version.patched property)" in (version["message"])
    )
    assert report["backup"]["jira_version"] == "7.12"
    base_url = entry(report, "server-base-url")
    assert "header has no Base URL line" in base_url["message"]
    assert report["backup"]["base_url"] == "https://jira.acmecorp.com"
    result.stdout.fnmatch_lines(["jiramigrate: site-backup.zip (Jira 7.12)*"])


def test_an_old_build_number_fails_the_version_and_says_where_it_came_from(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    backup = rewrite_entities(
        synth_backup().path, tmp_path / NODE, header=False, trailer=False, build="300"
    )

    result = run_jira(backup, "-rA", "--jira-report=report.json")

    result.stdout.fnmatch_lines([f"FAILED {NODE}::jira-version-supported - *"])
    message = entry(report_of(pytester), "jira-version-supported")["message"]
    assert "Jira earlier than 6.0 (from build 300 in the jira.version.patched property)" in message


def test_no_header_and_no_build_number_is_an_unknown_version(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    backup = rewrite_entities(synth_backup().path, tmp_path / NODE, header=False, trailer=True)

    result = run_jira(backup, "-rA", "--jira-report=report.json")

    result.stdout.fnmatch_lines(
        [f"PASSED {NODE}::backup-complete", f"FAILED {NODE}::jira-version-supported - *"]
    )
    (item,) = entry(report_of(pytester), "jira-version-supported")["items"]
    assert item["detail"] == (
        "neither the entities.xml header nor the jira.version.patched property names a Jira version"
    )


def test_a_cut_file_still_fails_xml_well_formed_and_leaves_backup_complete_unchecked(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    result = run_jira(synth_backup("truncated").path, "-rA", "--jira-report=report.json")

    result.stdout.fnmatch_lines([f"FAILED {NODE}::xml-well-formed - *"])
    complete = entry(report_of(pytester), "backup-complete")
    assert complete["outcome"] != "passed"
    assert complete["message"].startswith("not checked: entities.xml is not well-formed")


def test_xml_well_formed_never_claims_a_missing_activeobjects_xml(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    backup = rewrite_entities(
        synth_backup().path, tmp_path / NODE, header=True, trailer=True, activeobjects=False
    )

    result = run_jira(backup, "-rA", "--jira-report=report.json")

    result.stdout.fnmatch_lines([f"PASSED {NODE}::xml-well-formed"])
    message = entry(report_of(pytester), "xml-well-formed")["message"]
    assert message.startswith("entities.xml is well-formed; activeobjects.xml was not checked")
    assert "and activeobjects.xml are well-formed" not in message


def test_with_both_files_xml_well_formed_names_both(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    run_jira(synth_backup().path, "-rA", "--jira-report=report.json")

    message = entry(report_of(pytester), "xml-well-formed")["message"]
    assert message == "entities.xml and activeobjects.xml are well-formed."


def test_a_header_base_url_that_disagrees_is_a_warning_naming_both(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    backup = synth_backup("baseurl-mismatch")

    result = run_jira(backup.path, "-rA", "--jira-report=report.json")

    record = backup.manifest.fault("baseurl-mismatch")
    result.stdout.fnmatch_lines(
        [f"*{NODE}::server-base-url*JiraReadinessWarning*", f"PASSED {NODE}::server-base-url"]
    )
    report = report_of(pytester)
    found = entry(report, "server-base-url")
    assert found["outcome"] == "warning"
    assert (
        f"the jira.baseurl property is {record['property']} but the entities.xml header says"
        f" {record['header']}"
    ) in result.stdout.str()
    assert report["backup"]["base_url"] == record["property"]


def test_an_address_only_the_kb_pattern_refuses_is_a_warning_not_a_failure(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    source = synth_backup().path
    with zipfile.ZipFile(source) as backup:
        text = backup.read("entities.xml").decode("utf-8")
        ao = backup.read("activeobjects.xml")
    user = re.search(r'<User [^>]*userName="(\w+)"[^>]*emailAddress="(\w+)@', text)
    assert user is not None
    name, local = user.groups()
    text = text.replace(f'"{local}@', f'"{local}+jira@')
    target = tmp_path / NODE
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as backup:
        backup.writestr("entities.xml", text)
        backup.writestr("activeobjects.xml", ao)

    result = run_jira(target, "-rA", "--jira-report=report.json")

    result.stdout.fnmatch_lines(
        [f"*{NODE}::email-syntax*JiraReadinessWarning*", f"PASSED {NODE}::email-syntax"]
    )
    found = entry(report_of(pytester), "email-syntax")
    assert found["outcome"] == "warning"
    assert f"{name} <{local}+jira@acmecorp.com>" in result.stdout.str()
    assert "does not allow '+'" in result.stdout.str()


@pytest.mark.parametrize(
    ("build", "release"),
    [  # header version and jira.version.patched of the real backups in corpus/realworld
        (712000, (7, 12)),
        (70107, (7, 0)),
        (64014, (6, 4)),
        (6341, (6, 3)),
        (6095, (6, 0)),
        (805000, (8, 5)),
        (713, None),
        (300, None),
    ],
)
def test_release_of_build(build: int, release: tuple[int, int] | None) -> None:
    assert release_of_build(build) == release
