"""The plugin end to end, the way users run it: ``pytest --jira-backup=site-backup.zip``.

Every backup rule is driven both ways through pytester: broken by the synth
fault made for it (the failure must name the offender exactly as the synth
manifest records it), and passing on the clean default backup.  Then the
pytest integration: collection, selection, exit codes, YAML, JUnit, the JSON
report, bad input and the facts cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import junitparser
import pytest
from conftest import BackupFactory, JiraRun
from lxml import etree

from pytest_jiramigrate.rules import after_import, archive, content, groups, users
from pytest_jiramigrate.rules.base import Rule
from synth import (
    FORMER_USER,
    MISSING_FILTER,
    TOO_MANY_OPTIONS,
    Manifest,
    SynthSpec,
)

RULES: tuple[Rule, ...] = (
    *archive.RULES,
    *users.RULES,
    *groups.RULES,
    *content.RULES,
    *after_import.RULES,
)
#: after-import rules skipped as "not checked" until their setting is given
#: (target.importer_email, target.plan: free)
UNSET = ("importer-account", "free-plan-restrictions")
RULE_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
NODE = "site-backup.zip"
OUTCOMES = {"passed", "failed", "warning", "skipped", "error"}
CACHE_DIR = Path(".pytest_cache", "d", "jiramigrate")


# --------------------------------------------------------------------------- helpers


def read_report(pytester: pytest.Pytester, name: str = "report.json") -> dict[str, Any]:
    return json.loads((pytester.path / name).read_text(encoding="utf-8"))


def rule_entry(report: Mapping[str, Any], rule_id: str) -> dict[str, Any]:
    (entry,) = [entry for entry in report["rules"] if entry["id"] == rule_id]
    return entry


def assert_no_crash(result: pytest.RunResult) -> None:
    """Bad input must be reported as items or usage errors, never as a Python crash."""
    output = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in output
    assert "Traceback" not in output


def active_users(manifest: Manifest) -> int:
    return sum(1 for user in manifest.users if user["active"])


def licensed_users(manifest: Manifest) -> int:
    """Active direct members of the LicenseRoleGroup groups, read from entities.xml itself."""
    root = etree.fromstring(entities_bytes(manifest), etree.XMLParser(huge_tree=True))
    groups = {row.get("groupId").lower() for row in root.iter("LicenseRoleGroup")}
    members = {
        row.get("lowerChildName")
        for row in root.iter("Membership")
        if row.get("membershipType") == "GROUP_USER" and row.get("lowerParentName") in groups
    }
    return sum(
        1 for user in manifest.users if user["active"] and user["username"].lower() in members
    )


def entities_bytes(manifest: Manifest) -> bytes:
    with zipfile.ZipFile(manifest.zip_path) as backup:
        return backup.read(manifest.entities_member)


def cache_files(pytester: pytest.Pytester) -> list[Path]:
    directory = pytester.path / CACHE_DIR
    return sorted(directory.glob("*.sqlite")) if directory.is_dir() else []


# --------------------------------------------------------------------------- the rule matrix

Expected = Callable[[Manifest], list[str]]


@dataclass(frozen=True)
class Case:
    """A rule, what breaks it, and the offender texts its failure must show."""

    rule: str
    faults: tuple[str, ...]
    expected: Expected
    config: str | None = None
    label: str = ""

    @property
    def id(self) -> str:
        return f"{self.rule}-{self.label or '+'.join(self.faults)}"


def located_char(fault: str) -> Expected:
    """The line, column, row and character the manifest says the fault was written at."""

    def expected(manifest: Manifest) -> list[str]:
        record = manifest.fault(fault)
        texts = [
            f"entities.xml line {record['line']}, column {record['column']} "
            f"in {record['entity']} id={record['id']}"
        ]
        if "codepoint" in record:
            texts.append(f"U+{record['codepoint']:04X}")
        if "byte" in record:
            texts.append(f"{record['byte']:02x}")
        if record["entity"] != "ChangeItem":
            texts.append(f"({record['issue_key']})")
        return texts

    return expected


def user_with_email(fault: str) -> Expected:
    def expected(manifest: Manifest) -> list[str]:
        record = manifest.fault(fault)
        return [f"{record['user']} <{record['email']}>"]

    return expected


def truncation_line(manifest: Manifest) -> list[str]:
    """The cut is the last line of entities.xml, counted from the manifest's byte offset."""
    offset = manifest.fault("truncated")["offset"]
    line = entities_bytes(manifest)[:offset].count(b"\n") + 1
    return [f"entities.xml line {line}, column"]


def long_text(fault: str) -> Expected:
    """The issue and field holding the over-long text, as an administrator finds it."""

    def expected(manifest: Manifest) -> list[str]:
        record = manifest.fault(fault)
        key, row = record["issue_key"], record["id"]
        where = {
            "Issue": f"{key} {record['field']}",
            "Action": f"{key} comment {row}",
            "CustomFieldValue": f"{key} custom field",
            "Worklog": f"{key} worklog {row} comment",
        }[record["entity"]]
        return [f"{where}", f"{record['length']:,} characters"]

    return expected


def comment_counts(manifest: Manifest) -> list[str]:
    """Every issue with more than one comment, counted independently in entities.xml."""
    root = etree.fromstring(entities_bytes(manifest), etree.XMLParser(huge_tree=True))
    keys = {issue.get("id"): issue.get("key") for issue in root.iter("Issue")}
    comments = Counter(
        action.get("issue") for action in root.iter("Action") if action.get("type") == "comment"
    )
    offenders = [f"{keys[issue]}: {n} comments (limit 1)" for issue, n in comments.items() if n > 1]
    assert offenders, "the synthetic backup should have issues with several comments"
    return offenders


def needed_annual_tier(manifest: Manifest) -> list[str]:
    """The smallest annual tier band that holds the backup's users with product access."""
    tiers = sorted(int(t) for t in RULE_BY_ID["user-count-within-plan"].defaults()["annual_tiers"])
    index = next(i for i, tier in enumerate(tiers) if tier >= licensed_users(manifest))
    band = f"{tiers[index - 1] + 1 if index else 1}-{tiers[index]}"
    return [f"the annual tier for {band} users or above, but the target's tier is 10 users"]


#: One session lowers the limits of the rules that no synth fault breaks.
LOWERED_LIMITS = """\
target: {plan: free}
rules:
  large-migration-notice: {users: 5}
  site-guardrails: {max_issues: 10}
  per-issue-limits: {max_comments: 1}
report: {max_listed: 10000}
"""


#: The Cloud admin of the importer-account case: the synthetic site's admin.
IMPORTER_CONFIG = f"target: {{importer_email: admin@{SynthSpec().email_domain}}}\n"
FREE_PLAN = "target: {plan: free}\n"


def after_import_cases() -> tuple[Case, ...]:
    """The after-import rules, each broken by its own synth fault."""
    return (
        Case(
            "app-data-not-migrated",
            ("app-data",),
            lambda m: [
                "{app} {version} ({plugin_key}, {prefix}): {table} (2 rows)".format(
                    **m.fault("app-data")
                ),
                "custom field {custom_field} (customfield_{custom_field_id}) is of type".format(
                    **m.fault("app-data")
                ),
            ],
        ),
        Case(
            "public-access",
            ("public-project",),
            lambda m: [
                "permission scheme {scheme} grants {permission} to Anyone (projects {p})".format(
                    p=", ".join(m.fault("public-project")["projects"]),
                    **m.fault("public-project"),
                ),
                "filter {filter} (owner {owner}) is shared with everyone".format(
                    **m.fault("public-project")
                ),
            ],
        ),
        Case(
            "former-users",
            ("former-user",),
            lambda m: [f"{FORMER_USER}: 1 component lead, 1 filter owner"],
        ),
        Case(
            "group-references",
            ("missing-group",),
            lambda m: [
                "{group} does not exist; named by project role {project} {role}".format(
                    **m.fault("missing-group")
                )
            ],
        ),
        Case(
            "board-integrity",
            ("board-missing-filter",),
            lambda m: [
                f"board {m.fault('board-missing-filter')['board']} (id 1) uses filter"
                f" {MISSING_FILTER}, which is not in the backup"
            ],
        ),
        Case(
            "cloud-data-limits",
            ("too-many-options",),
            lambda m: [f"Team (customfield_10001): {TOO_MANY_OPTIONS:,} options (limit 10,000)"],
        ),
        Case(
            "integrations",
            ("mail-integration",),
            lambda m: [
                "application link {application_link} ({url})".format(**m.fault("mail-integration")),
                "POP mail server {mail_server} ({host})".format(**m.fault("mail-integration")),
                "incoming mail handler {mail_handler} (".format(**m.fault("mail-integration")),
            ],
        ),
        Case(
            "importer-account",
            ("importer-in-backup",),
            lambda m: ["{user} <{email}> is in the backup".format(**m.fault("importer-in-backup"))],
            config=IMPORTER_CONFIG,
        ),
        Case(
            "free-plan-restrictions",
            ("free-plan-features",),
            lambda m: [
                "issue security scheme {security_scheme} is removed".format(
                    **m.fault("free-plan-features")
                ),
                "project role {project_role} is not available".format(
                    **m.fault("free-plan-features")
                ),
                "permission scheme {permission_scheme} is replaced by the default".format(
                    **m.fault("free-plan-features")
                ),
            ],
            config=FREE_PLAN,
        ),
    )


CASES: tuple[Case, ...] = (
    *after_import_cases(),
    Case(
        "entities-xml-at-root",
        ("nested-folder",),
        lambda m: [f"{m.fault('nested-folder')['member']}: entities.xml is inside the folder"],
    ),
    Case(
        "activeobjects-xml-at-root",
        ("nested-folder",),
        lambda m: [f"{m.activeobjects_member}: activeobjects.xml is inside the folder"],
    ),
    Case(
        "activeobjects-xml-at-root",
        ("missing-activeobjects",),
        lambda m: [] if m.activeobjects_member else ["the zip has no activeobjects.xml"],
    ),
    Case("xml-well-formed", ("truncated",), truncation_line),
    *(
        Case("xml-valid-characters", (fault,), located_char(fault))
        for fault in ("control-char", "control-char-changeitem", "fffe", "invalid-utf8", "char-ref")
    ),
    Case(
        "jira-version-supported",
        ("old-version",),
        lambda m: [f"Jira {m.fault('old-version')['version']} is older than"],
    ),
    Case(
        "backup-complete",
        ("trailer-mismatch",),
        lambda m: [
            "{entity}: {written} rows read, the trailer declares {declared}".format(
                **m.fault("trailer-mismatch")
            )
        ],
    ),
    Case(
        "email-present",
        ("email-missing",),
        lambda m: [f"{m.fault('email-missing')['user']} (directory"],
    ),
    Case("email-syntax", ("email-bad-syntax",), user_with_email("email-bad-syntax")),
    Case("email-tld", ("email-no-tld",), user_with_email("email-no-tld")),
    Case("email-tld", ("email-special-use",), user_with_email("email-special-use")),
    Case("email-domain", ("email-example",), user_with_email("email-example")),
    Case("email-domain", ("email-special-use",), user_with_email("email-special-use")),
    Case(
        "email-unique",
        ("email-duplicate",),
        lambda m: [
            f"{m.fault('email-duplicate')['email']}: ",
            *(f"{user} (" for user in m.fault("email-duplicate")["users"]),
        ],
    ),
    Case(
        "username-reserved-prefix",
        ("addon-username",),
        lambda m: [f"{m.fault('addon-username')['user']} <"],
    ),
    Case(
        "user-unique-in-directory",
        ("duplicate-user-in-directory",),
        lambda m: [
            "{user} appears {n} times".format(
                user=m.fault("duplicate-user-in-directory")["user"],
                n=len(m.fault("duplicate-user-in-directory")["usernames"]),
            ),
            ", ".join(m.fault("duplicate-user-in-directory")["usernames"]),
        ],
    ),
    Case(
        "user-count-within-plan",
        (),
        lambda m: [
            f"The backup has {licensed_users(m)} users with product access, counted as members"
            " of the LicenseRoleGroup application-access groups, more than the Free plan's limit"
            f" of {RULE_BY_ID['user-count-within-plan'].defaults()['free_limit']} users"
        ],
        config=LOWERED_LIMITS,
        label="free-plan",
    ),
    Case(
        "user-count-within-plan",
        (),
        needed_annual_tier,
        config="target: {plan: standard, billing: annual, user_tier: 10}\n",
        label="annual-tier-too-small",
    ),
    Case(
        "site-import-eligibility",
        (),
        lambda m: [
            f"The backup has {licensed_users(m)} users with product access",
            "not more than 1,000: since May 2022 Atlassian offers server-to-cloud site import",
        ],
    ),
    Case(
        "large-migration-notice",
        (),
        lambda m: [f"The backup has {active_users(m)} active users, more than 5"],
        config=LOWERED_LIMITS,
        label="users-5",
    ),
    Case(
        "group-admin-rename",
        ("admin-groups-both",),
        lambda m: [
            f"{user} from {group} gains the rights of {other}"
            for group, other in (
                ("administrators", "jira-administrators"),
                ("jira-administrators", "administrators"),
            )
            for user in m.fault("admin-groups-both")["members"][group]
        ],
    ),
    Case(
        "group-merge-escalation",
        ("admin-groups-both",),
        lambda m: [
            "jira-administrators (becomes administrators",
            ", ".join(m.fault("admin-groups-both")["members"]["jira-administrators"]),
        ],
    ),
    Case(
        "membership-integrity",
        ("membership-duplicate",),
        lambda m: [
            "membership {second} ({group} > {user}): duplicate of id {first}".format(
                first=m.fault("membership-duplicate")["ids"][0],
                second=m.fault("membership-duplicate")["ids"][1],
                **m.fault("membership-duplicate"),
            )
        ],
    ),
    Case(
        "membership-integrity",
        ("membership-dangling",),
        lambda m: [
            "membership {id} ({group} > {child_name}): childId {child_id} has no User row".format(
                **m.fault("membership-dangling")
            )
        ],
    ),
    *(
        Case("text-field-length", (fault,), long_text(fault))
        for fault in ("long-description", "long-comment", "long-custom-text", "long-worklog")
    ),
    Case(
        "summary-length",
        ("long-summary",),
        lambda m: ["{issue_key} summary: {length} characters".format(**m.fault("long-summary"))],
    ),
    Case(
        "per-issue-limits",
        (),
        comment_counts,
        config=LOWERED_LIMITS,
        label="max-comments-1",
    ),
    Case(
        "site-guardrails",
        (),
        lambda m: [f"{m.counts['Issue']} issues (guardrail 10)"],
        config=LOWERED_LIMITS,
        label="max-issues-10",
    ),
    Case(
        "server-base-url",
        ("baseurl-missing",),
        lambda m: ["the jira.baseurl property is not set"],
    ),
)


def test_the_matrix_breaks_every_backup_rule() -> None:
    """backup-archive is broken by non-zip input, see the bad-input tests below."""
    assert {case.rule for case in CASES} | {"backup-archive"} == set(RULE_BY_ID)


@dataclass(frozen=True)
class Run:
    """What one pytester session on a faulty backup printed, returned and reported."""

    stdout: pytest.LineMatcher
    ret: int
    report: dict[str, Any]
    outcomes: dict[str, int]


@pytest.fixture(scope="module")
def fault_runs() -> dict[tuple[tuple[str, ...], str | None], Run]:
    """Sessions already run, by (faults, config): one session per fault serves all its rules."""
    return {}


@pytest.fixture
def run_case(
    synth_backup: BackupFactory,
    run_jira: JiraRun,
    pytester: pytest.Pytester,
    fault_runs: dict[tuple[tuple[str, ...], str | None], Run],
) -> Callable[[Case], Run]:
    def run(case: Case) -> Run:
        key = (case.faults, case.config)
        if key not in fault_runs:
            backup = synth_backup(*case.faults)
            result = run_jira(backup.path, "-rA", "--jira-report=report.json", config=case.config)
            assert_no_crash(result)
            fault_runs[key] = Run(
                pytest.LineMatcher(result.stdout.lines),
                result.ret,
                read_report(pytester),
                result.parseoutcomes(),
            )
        return fault_runs[key]

    return run


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_rule_fails_on_its_fault_and_names_the_offender(
    case: Case, synth_backup: BackupFactory, run_case: Callable[[Case], Run]
) -> None:
    expected = case.expected(synth_backup(*case.faults).manifest)
    assert expected
    run = run_case(case)
    node = f"{NODE}::{case.rule}"
    entry = rule_entry(run.report, case.rule)
    if RULE_BY_ID[case.rule].severity == "error":
        run.stdout.fnmatch_lines([f"FAILED {node} - *"])
        assert entry["outcome"] == "failed"
        assert run.ret == pytest.ExitCode.TESTS_FAILED
    else:
        run.stdout.fnmatch_lines([f"*{node}*JiraReadinessWarning*", f"PASSED {node}"])
        assert entry["outcome"] == "warning"
    assert entry["findings"] == len(entry["items"]) >= 1
    reported = Counter(rule["outcome"] for rule in run.report["rules"])
    assert run.outcomes.get("failed", 0) == reported["failed"]
    assert run.outcomes["passed"] == reported["passed"] + reported["warning"]
    output = run.stdout.str()
    for text in expected:
        assert text in output
        assert any(text in item["detail"] for item in entry["items"]), text


def test_jira_strict_fails_every_warning_rule(
    synth_backup: BackupFactory, run_jira: JiraRun
) -> None:
    warning_rules = [
        rule.id for rule in RULES if rule.severity == "warning" and rule not in after_import.RULES
    ]
    assert warning_rules
    backup = synth_backup("admin-groups-both")
    strict = run_jira(backup.path, "-rA", "--jira-strict", config=LOWERED_LIMITS)
    strict.stdout.fnmatch_lines([f"FAILED {NODE}::{rule_id} - *" for rule_id in warning_rules])


def test_jira_strict_fails_every_after_import_rule_on_its_faults(
    synth_backup: BackupFactory, run_jira: JiraRun
) -> None:
    cases = after_import_cases()
    faults = tuple(fault for case in cases for fault in case.faults)
    config = f"target: {{plan: free, importer_email: admin@{SynthSpec().email_domain}}}\n"
    strict = run_jira(synth_backup(*faults).path, "-rA", "--jira-strict", config=config)
    assert_no_crash(strict)
    strict.stdout.fnmatch_lines([f"FAILED {NODE}::{case.rule} - *" for case in cases])
    assert strict.ret == pytest.ExitCode.TESTS_FAILED


def test_an_unset_importer_email_is_not_checked_and_does_not_fail_the_gate(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    result = run_jira(synth_backup("importer-in-backup").path, "-rA", "--jira-report=report.json")
    entry = rule_entry(read_report(pytester), "importer-account")
    assert (entry["outcome"], entry["message"]) == (
        "skipped",
        "not checked: set target.importer_email",
    )
    assert result.ret == pytest.ExitCode.OK
    # made an error, the rule that could not run is an error in the report, never a pass
    made_error = "rules:\n  importer-account: {severity: error}\n"
    run_jira(
        synth_backup("importer-in-backup").path, "--jira-report=report.json", config=made_error
    )
    assert rule_entry(read_report(pytester), "importer-account")["outcome"] == "error"


def test_the_clean_backup_passes_every_rule(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    backup = synth_backup()
    result = run_jira(backup.path, "-v", "-rA", "--jira-report=report.json")
    result.assert_outcomes(passed=len(RULES) - len(UNSET), skipped=len(UNSET), warnings=2)
    result.stdout.fnmatch_lines(
        [f"jiramigrate: site-backup.zip (Jira {backup.manifest.jira_version})*"]
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [f"PASSED {NODE}::{rule.id}" for rule in RULES if rule.id not in UNSET], consecutive=True
    )
    outcomes = {entry["id"]: entry["outcome"] for entry in read_report(pytester)["rules"]}
    # the default site has jira-administrators, which merges into Cloud's administrators
    # group, and 18 users with product access, too few for Atlassian to offer site
    # import: two true advisories, from the two warning-severity rules that speak up.
    assert {rule for rule, outcome in outcomes.items() if outcome != "passed"} == {
        "group-merge-escalation",
        "site-import-eligibility",
        *UNSET,
    }
    assert {outcomes[rule] for rule in UNSET} == {"skipped"}
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] *: not checked: set target.importer_email",
            "SKIPPED [[]1[]] *: not checked: target.plan is standard*",
        ]
    )


def test_same_user_in_two_directories_is_not_a_duplicate_email(
    synth_backup: BackupFactory, run_jira: JiraRun
) -> None:
    """The same person in two directories is one Cloud account, not two sharing an address."""
    result = run_jira(synth_backup("same-user-two-directories").path, "-rA")
    result.stdout.fnmatch_lines([f"PASSED {NODE}::email-unique"])
    assert result.ret == pytest.ExitCode.OK


def test_truncation_is_attributed_to_the_row_that_was_cut(
    synth_backup: BackupFactory, run_case: Callable[[Case], Run]
) -> None:
    record = synth_backup("truncated").manifest.fault("truncated")
    run = run_case(Case("xml-well-formed", ("truncated",), truncation_line))
    assert f"in {record['entity']} id={record['id']}" in run.stdout.str()


#: over libxml2's 10 MB limit for one value (it needs XML_PARSE_HUGE, which the scan keeps off)
HUGE_VALUE = 12_000_000


@pytest.mark.parametrize(
    ("where", "entity", "attribute"),
    [
        (0.0, "User", "displayName"),
        (0.5, "OSPropertyString", "value"),
        (1.0, "User", "displayName"),
    ],
    ids=["first-row", "middle", "last-row"],
)
def test_a_value_over_10_mb_is_attributed_to_the_row_that_holds_it(
    where: float,
    entity: str,
    attribute: str,
    synth_backup: BackupFactory,
    run_jira: JiraRun,
    pytester: pytest.Pytester,
    tmp_path: Path,
) -> None:
    """libxml2 reads a start tag whole before it refuses it, then parses on to the end of
    what it was fed and names that line: rows later (a Worklog near the end of the file),
    and another row in the fast scan than in the reference scan. The finding names the
    row that holds the value, before the first row, in the middle and before the last."""
    backup = synth_backup()
    lines = entities_bytes(backup.manifest).split(b"\n")
    starts = [
        index for index, text in enumerate(lines) if text[:5] == b"    <" and text[5:6].isalpha()
    ]
    at = starts[round(where * (len(starts) - 1))]  # the huge row goes before this row
    value = "x" * HUGE_VALUE
    huge = f'    <{entity} id="99999" {attribute}="{value}" active="1"/>'.encode()
    path = tmp_path / "site-backup.zip"
    with zipfile.ZipFile(backup.path) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            if info.filename == backup.manifest.entities_member:  # stored: its run of "x"
                edited = b"\n".join([*lines[:at], huge, *lines[at:]])  # would look like a bomb
                target.writestr(info.filename, edited, zipfile.ZIP_STORED)
            else:
                target.writestr(info, source.read(info))
    line = at + 1

    result = run_jira(path, "-rA", "--jira-report=report.json")
    assert_no_crash(result)
    result.stdout.fnmatch_lines([f"FAILED {NODE}::xml-well-formed - *"])
    entry = rule_entry(read_report(pytester), "xml-well-formed")
    (item,) = entry["items"]
    assert item["detail"] == (
        f"entities.xml line {line}, column 1 in {entity} id=99999: the start tag of the "
        f"{entity} row id=99999 at line {line} is longer than 10 MB, libxml2's limit (its "
        f"{attribute} attribute has {HUGE_VALUE:,} characters), so nothing after it could be "
        "checked: shorten or remove that value in Jira's database, then take a new backup "
        "(libxml2: Resource limit exceeded: Buffer size limit exceeded, try XML_PARSE_HUGE)"
    )
    assert f"entities.xml is not well-formed at line {line}: facts after it" in result.stdout.str()


# --------------------------------------------------------------------------- collection


def test_a_backup_outside_the_rootdir_is_collected_by_its_file_name(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    backup = synth_backup()
    assert not backup.path.is_relative_to(pytester.path)
    result = run_jira(backup.path, "--collect-only", "-q")
    result.stdout.fnmatch_lines([f"{NODE}::{rule.id}" for rule in RULES], consecutive=True)


def test_a_backup_path_with_a_space(
    synth_backup: BackupFactory, tmp_path: Path, pytester: pytest.Pytester
) -> None:
    path = tmp_path / "my backups" / "site backup.zip"
    path.parent.mkdir()
    shutil.copy2(synth_backup().path, path)
    result = pytester.runpytest_inprocess("--jira-backup", str(path), "-rA")
    result.stdout.fnmatch_lines(["PASSED *site backup.zip::email-unique"])
    result.assert_outcomes(passed=len(RULES) - len(UNSET), skipped=len(UNSET), warnings=2)


def test_a_backup_path_as_a_separate_argument_keeps_the_project_config(
    synth_backup: BackupFactory, tmp_path: Path, pytester: pytest.Pytester
) -> None:
    (pytester.path / "jiramigrate.yaml").write_text("rules:\n  email-domain:\n    severity: off\n")
    # pytest may pick the backup's folder as rootdir (it parses its arguments before the plugin
    # is loaded); the project's jiramigrate.yaml, where pytest was started, still counts
    result = pytester.runpytest_inprocess("--jira-backup", str(synth_backup().path))
    result.assert_outcomes(passed=len(RULES) - 1 - len(UNSET), skipped=1 + len(UNSET), warnings=2)


def test_a_directory_without_tests_exits_0_on_a_clean_backup(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    assert not list(pytester.path.iterdir())
    result = run_jira(synth_backup().path)
    assert result.ret == pytest.ExitCode.OK


@pytest.mark.parametrize(
    ("ini_name", "section"), [("pytest.ini", "[pytest]"), ("tox.ini", "[pytest]")]
)
def test_the_ini_key_is_relative_to_the_ini_file(
    ini_name: str,
    section: str,
    synth_backup: BackupFactory,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (pytester.path / "backups").mkdir()
    shutil.copy2(synth_backup().path, pytester.path / "backups" / "site.zip")
    (pytester.path / ini_name).write_text(f"{section}\njira_backup = backups/site.zip\n")
    (pytester.path / "elsewhere").mkdir()
    monkeypatch.chdir(pytester.path / "elsewhere")
    result = pytester.runpytest_inprocess("-rA")
    result.stdout.fnmatch_lines(["PASSED *site.zip::email-unique"])
    result.assert_outcomes(passed=len(RULES) - len(UNSET), skipped=len(UNSET), warnings=2)


def test_without_the_option_a_normal_suite_runs_unchanged(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_one():\n    pass\n\ndef test_two():\n    assert 1 == 2\n")
    result = pytester.runpytest_inprocess("-rA")
    result.assert_outcomes(passed=1, failed=1)
    assert "jiramigrate:" not in result.stdout.str()
    assert not (pytester.path / CACHE_DIR).exists()


def test_unconfigure_unregisters_what_configure_registered(
    synth_backup: BackupFactory, pytester: pytest.Pytester
) -> None:
    """The run's hooks, the built-in rules and the run's state are gone once pytest ends,
    so a second session in the same process (pytester, an IDE) starts clean."""
    from pytest_jiramigrate.run.options import OPTIONS_KEY
    from pytest_jiramigrate.run.session import SESSION_KEY

    recorder = pytester.inline_run(f"--jira-backup={synth_backup().path}", "--jira-strict")
    assert recorder.ret == pytest.ExitCode.TESTS_FAILED  # strict: the clean backup's warning
    config = recorder.getcall("pytest_unconfigure").config
    for name in ("jiramigrate-run", "jiramigrate-builtin-rules"):
        assert config.pluginmanager.get_plugin(name) is None, name
    assert SESSION_KEY not in config.stash
    # the options were parsed once, into one frozen object
    assert config.stash[OPTIONS_KEY].strict is True
    assert config.stash[OPTIONS_KEY].backup == synth_backup().path


def test_tests_and_rules_run_side_by_side(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    pytester.makepyfile("def test_one():\n    pass\n")
    result = run_jira(synth_backup().path)
    result.assert_outcomes(passed=len(RULES) + 1 - len(UNSET), skipped=len(UNSET), warnings=2)


def test_k_selects_rules_by_id(synth_backup: BackupFactory, run_jira: JiraRun) -> None:
    result = run_jira(synth_backup().path, "-k", "email", "-rA")
    emails = [rule.id for rule in RULES if "email" in rule.id]
    result.assert_outcomes(passed=len(emails), deselected=len(RULES) - len(emails))
    result.stdout.fnmatch_lines([f"PASSED {NODE}::{rule_id}" for rule_id in emails])


def test_lf_reruns_only_the_failed_rules(synth_backup: BackupFactory, run_jira: JiraRun) -> None:
    backup = synth_backup("email-no-tld")
    first = run_jira(backup.path)
    failed = first.parseoutcomes()["failed"]
    assert failed >= 1
    again = run_jira(backup.path, "--lf", "-rA")
    again.assert_outcomes(failed=failed, deselected=len(RULES) - failed)
    again.stdout.fnmatch_lines([f"FAILED {NODE}::email-tld - *"])


def test_x_stops_after_the_first_failure(synth_backup: BackupFactory, run_jira: JiraRun) -> None:
    result = run_jira(synth_backup("email-no-tld").path, "-x")
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1
    # email-syntax only warns: the address is valid by the RFCs; email-tld fails it
    assert outcomes["passed"] == [r.id for r in RULES].index("email-tld")


def test_q_and_v_output_shapes(synth_backup: BackupFactory, run_jira: JiraRun) -> None:
    backup = synth_backup("old-version")
    verbose = run_jira(backup.path, "-v")
    verbose.stdout.re_match_lines(
        [rf".*::{rule.id} (PASSED|FAILED|SKIPPED \(.*\)) +\[ *\d+%\]$" for rule in RULES],
        consecutive=True,
    )
    verbose.stdout.fnmatch_lines(
        ["*jiramigrate readiness*", "FAILED*jira-version-supported*1 finding *"]
    )
    quiet = run_jira(backup.path, "-q")
    assert "::backup-archive PASSED" not in quiet.stdout.str()
    quiet.stdout.re_match_lines([r"^[.Fs]*F[.Fs]* +\[100%\]$"])
    quiet.stdout.fnmatch_lines([f"FAILED {NODE}::jira-version-supported - *", "1 failed*"])


def test_v_lines_show_the_node_id(synth_backup: BackupFactory, run_jira: JiraRun) -> None:
    result = run_jira(synth_backup().path, "-v")
    result.stdout.fnmatch_lines(
        [f"{NODE}::{rule.id} {'SKIPPED' if rule.id in UNSET else 'PASSED'}*" for rule in RULES]
    )


def test_collect_only_lists_items_without_scanning(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    result = run_jira(synth_backup().path, "--collect-only", "-q")
    result.stdout.fnmatch_lines([f"{NODE}::{rule.id}" for rule in RULES])
    assert "jiramigrate: site-backup.zip (Jira" not in result.stdout.str()
    assert cache_files(pytester) == []


# --------------------------------------------------------------------------- exit codes and YAML


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        pytest.param("rules: [unclosed\n", "jiramigrate.yaml:*", id="malformed"),
        pytest.param(
            "rules:\n  email-uniq:\n    severity: off\n",
            "*jiramigrate.yaml:2: rules.email-uniq: unknown rule id (did you mean 'email-unique'?)",
            id="unknown-key",
        ),
        pytest.param(
            "report:\n  max_listed: lots\n",
            "*jiramigrate.yaml:2: report.max_listed: *",
            id="wrong-type",
        ),
    ],
)
def test_a_bad_yaml_is_a_usage_error(
    yaml_text: str, expected: str, synth_backup: BackupFactory, run_jira: JiraRun
) -> None:
    result = run_jira(synth_backup().path, config=yaml_text)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{expected}"])
    assert_no_crash(result)
    assert f"{NODE}::" not in result.stdout.str()


def test_yaml_severity_and_max_findings_decide_the_outcome(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    """email-no-tld breaks three rules; the YAML turns each into a different outcome."""
    backup = synth_backup("email-no-tld")
    config = (
        "rules:\n"
        "  email-syntax: {severity: off}\n"
        "  email-tld: {severity: warning}\n"
        "  email-domain: {max_findings: 1}\n"
    )
    result = run_jira(backup.path, "-rA", "--jira-report=report.json", config=config)
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=len(RULES) - 1 - len(UNSET), skipped=1 + len(UNSET), warnings=3)
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] *: severity is off in the config"])
    result.stdout.fnmatch_lines([f"*{NODE}::email-tld*JiraReadinessWarning*"])
    assert backup.manifest.fault("email-no-tld")["email"] in result.stdout.str()
    report = read_report(pytester)
    assert rule_entry(report, "email-syntax")["outcome"] == "skipped"
    assert rule_entry(report, "email-tld")["outcome"] == "warning"
    domain = rule_entry(report, "email-domain")
    assert (domain["outcome"], domain["findings"], domain["threshold"]) == ("passed", 1, 1)


def test_a_skip_is_reported_at_the_backup_not_the_plugin_source(
    synth_backup: BackupFactory, run_jira: JiraRun
) -> None:
    config = "rules:\n  email-domain:\n    severity: off\n"
    result = run_jira(synth_backup().path, "-rs", config=config)
    result.stdout.fnmatch_lines(
        ["SKIPPED [[]1[]] *site-backup.zip*: severity is off in the config"]
    )


def test_jira_config_option_is_honoured(
    synth_backup: BackupFactory, run_jira: JiraRun, tmp_path: Path
) -> None:
    gate = tmp_path / "gate.yaml"
    gate.write_text("rules:\n  email-domain:\n    severity: off\n")
    result = run_jira(synth_backup("email-example").path, f"--jira-config={gate}")
    result.stdout.fnmatch_lines([f"jiramigrate: config {gate}"])
    result.assert_outcomes(passed=len(RULES) - 1 - len(UNSET), skipped=1 + len(UNSET), warnings=2)


def test_max_listed_caps_the_offenders_shown(
    synth_backup: BackupFactory, run_jira: JiraRun
) -> None:
    backup = synth_backup(email_domain="example.com")
    offenders = sum(1 for user in backup.manifest.users if user["email"])
    result = run_jira(backup.path, config="report: {max_listed: 2}\n")
    lines = result.stdout.str().splitlines()
    start = lines.index(f"Offenders ({offenders}, allowed 0):")
    assert [line.startswith("  - ") for line in lines[start + 1 : start + 4]] == [
        True,
        True,
        False,
    ]
    assert lines[start + 3].startswith(f"  ... and {offenders - 2} more")


# --------------------------------------------------------------------------- JUnit and JSON


def junit_properties(case: ET.Element) -> dict[str, str]:
    return {prop.get("name", ""): prop.get("value", "") for prop in case.iter("property")}


def test_junit_xml_carries_rule_properties_and_summaries(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    backup = synth_backup("email-example")
    result = run_jira(
        backup.path,
        "--junitxml=out.xml",
        "--jira-report=report.json",
        # every rule runs: the importer is a Cloud admin who is not in the backup
        config="target: {plan: free, importer_email: cloud-admin@elsewhere.org}\n",
    )
    report = read_report(pytester)
    cases = {
        case.get("name"): case for case in ET.parse(pytester.path / "out.xml").iter("testcase")
    }
    assert set(cases) == set(RULE_BY_ID)
    for rule_id, case in cases.items():
        properties = junit_properties(case)
        assert {"rule", "severity", "findings", "threshold"} <= set(properties)
        assert properties["rule"] == rule_id
        assert properties["findings"] == str(rule_entry(report, rule_id)["findings"])
    for rule_id in ("user-count-within-plan", "backup-complete"):
        assert {"observed", "limit"} <= set(junit_properties(cases[rule_id]))
    assert {"jira_baseurl", "header_base_url"} <= set(junit_properties(cases["server-base-url"]))
    failures = {
        name: case.find("failure")
        for name, case in cases.items()
        if case.find("failure") is not None
    }
    assert set(failures) == {"email-domain", "user-count-within-plan"}
    for name, failure in failures.items():
        assert failure.get("message") == rule_entry(report, name)["message"]
    assert result.ret == pytest.ExitCode.TESTS_FAILED

    xml = junitparser.JUnitXml.fromfile(str(pytester.path / "out.xml"))
    parsed = {case.name: case for suite in xml for case in suite}
    assert set(parsed) == set(RULE_BY_ID)
    assert {name for name, case in parsed.items() if not case.is_passed} == set(failures)
    (failure,) = parsed["email-domain"].result
    assert failure.message == rule_entry(report, "email-domain")["message"]
    assert {
        prop.name: prop.value
        for group in parsed["user-count-within-plan"].iterchildren(junitparser.Properties)
        for prop in group
    } == junit_properties(cases["user-count-within-plan"])


def test_json_report(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    backup = synth_backup("email-example")
    (pytester.path / "out").mkdir()
    run_jira(backup.path, "--jira-report=out/report.json", config="report: {max_listed: 7}\n")
    report = read_report(pytester, "out/report.json")
    assert report["schema"] == "jiramigrate-report/1"
    assert report["backup"]["sha256"] == hashlib.sha256(backup.path.read_bytes()).hexdigest()
    assert report["backup"]["jira_version"] == backup.manifest.jira_version
    assert report["backup"]["counts"]
    assert report["config"]["report"]["max_listed"] == 7
    assert report["config"]["rules"]["summary-length"]["limits"]["max_chars"] == 255
    assert [entry["id"] for entry in report["rules"]] == [rule.id for rule in RULES]
    for entry in report["rules"]:
        rule = RULE_BY_ID[entry["id"]]
        assert entry["target"] == NODE
        assert entry["severity"] == rule.severity
        assert entry["outcome"] in OUTCOMES
        assert entry["threshold"] == 0
        assert entry["findings"] == len(entry["items"])
        assert entry["message"]
    domain = rule_entry(report, "email-domain")
    assert domain["outcome"] == "failed"
    (item,) = domain["items"]
    record = backup.manifest.fault("email-example")
    assert (item["user"], item["email"]) == (record["user"], record["email"])


# --------------------------------------------------------------------------- bad input


def broken_zip(directory: Path, clean: Path) -> Path:
    path = directory / "cut.zip"
    path.write_bytes(clean.read_bytes()[: clean.stat().st_size // 2])
    return path


BAD_INPUTS: dict[str, Callable[[Path, Path], Path]] = {
    "missing": lambda directory, clean: directory / "no-such-backup.zip",
    "directory": lambda directory, clean: directory,
    "not-a-zip": lambda directory, clean: (
        (directory / "notes.zip").write_text("hello") and directory / "notes.zip"
    ),
    "truncated-zip": broken_zip,
}


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_unreadable_input_fails_backup_archive_and_skips_the_rest(
    kind: str,
    synth_backup: BackupFactory,
    run_jira: JiraRun,
    tmp_path: Path,
    pytester: pytest.Pytester,
) -> None:
    path = BAD_INPUTS[kind](tmp_path, synth_backup().path)
    result = run_jira(path, "-rA", "--jira-report=report.json")
    assert_no_crash(result)
    result.assert_outcomes(failed=1, skipped=len(RULES) - 1)
    result.stdout.fnmatch_lines([f"FAILED *{path.name}::backup-archive - *"])
    result.stdout.fnmatch_lines(
        ["SKIPPED [[]*[]] *: not checked: the backup archive is unreadable*"]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    for entry in read_report(pytester)["rules"]:
        assert entry["outcome"] != "passed"


def test_a_nested_entities_xml_fails_its_layout_rule(
    synth_backup: BackupFactory, run_jira: JiraRun
) -> None:
    result = run_jira(synth_backup("nested-folder").path, "-rA")
    assert_no_crash(result)
    result.stdout.fnmatch_lines([f"FAILED {NODE}::entities-xml-at-root - *"])


def test_a_cut_entities_xml_skips_the_rules_that_need_it(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    result = run_jira(synth_backup("truncated").path, "-rA", "--jira-report=report.json")
    assert_no_crash(result)
    entities_rules = [rule.id for rule in RULES if "entities" in rule.needs]
    report = read_report(pytester)
    for rule_id in entities_rules:
        entry = rule_entry(report, rule_id)
        assert entry["outcome"] != "passed"
        assert entry["message"].startswith("not checked: entities.xml is not well-formed")
    result.stdout.fnmatch_lines(
        ["SKIPPED [[]*[]] *: not checked: entities.xml is not well-formed*"]
    )
    # xml-well-formed fails; backup-complete needs the whole parse, so it is not checked
    result.assert_outcomes(
        failed=1, passed=len(RULES) - 1 - len(entities_rules), skipped=len(entities_rules)
    )


# --------------------------------------------------------------------------- the facts cache


def test_a_changed_threshold_reuses_the_cached_scan(
    backup_copy: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    path = backup_copy("email-example").path
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    assert run_jira(path).ret == pytest.ExitCode.TESTS_FAILED
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before
    (store,) = cache_files(pytester)
    scanned = store.stat().st_mtime_ns
    relaxed = run_jira(path, config="rules:\n  email-domain:\n    max_findings: 1\n")
    assert relaxed.ret == pytest.ExitCode.OK
    assert cache_files(pytester) == [store]
    assert store.stat().st_mtime_ns == scanned


def test_rescan_and_touching_the_backup_make_a_new_scan(
    backup_copy: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    path = backup_copy().path
    run_jira(path)
    (store,) = cache_files(pytester)
    before = store.stat()
    assert run_jira(path, "--jira-rescan").ret == pytest.ExitCode.OK
    rescanned = store.stat()
    assert (rescanned.st_ino, rescanned.st_mtime_ns) != (before.st_ino, before.st_mtime_ns)

    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    run_jira(path)
    assert len(cache_files(pytester)) == 2
    assert store in cache_files(pytester)
    assert store.stat().st_mtime_ns == rescanned.st_mtime_ns


def test_without_the_cacheprovider_no_facts_store_is_left_behind(
    synth_backup: BackupFactory,
    run_jira: JiraRun,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    assert run_jira(synth_backup().path, "-p", "no:cacheprovider").ret == pytest.ExitCode.OK
    assert list(scratch.iterdir()) == []


def test_a_corrupt_cache_file_is_ignored_and_rebuilt(
    backup_copy: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    path = backup_copy("email-example").path
    run_jira(path)
    (store,) = cache_files(pytester)
    store.write_bytes(b"this is not a facts store" * 100)
    result = run_jira(path, "-rA")
    assert_no_crash(result)
    result.stdout.fnmatch_lines([f"FAILED {NODE}::email-domain - *"])
    assert store.read_bytes().startswith(b"SQLite format 3\x00")


# --------------------------------------------------------------------------- cache hygiene

DAY = 86_400


def copies(backup: Path, count: int) -> list[Path]:
    """``count`` copies of ``backup`` under other names: each has a store of its own."""
    made = []
    for number in range(count):
        path = backup.with_name(f"copy-{number}.zip")
        shutil.copy2(backup, path)
        made.append(path)
    return made


def store_of(pytester: pytest.Pytester, backup: Path) -> Path:
    """The cached store scanned from ``backup``, found by the path recorded in its meta."""
    (store,) = [
        s for s in cache_files(pytester) if stored_meta(s).get("backup_name") == backup.name
    ]
    return store


def stored_meta(store: Path) -> dict[str, str]:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT key, value FROM meta").fetchall())
    finally:
        db.close()


def set_last_use(store: Path, when: float) -> None:
    """Make ``store`` look last scanned and last used at ``when``."""
    for path in (store, store.with_name(f"{store.name}.lock")):
        if path.exists():
            os.utime(path, (when, when))


def test_the_store_of_a_deleted_backup_is_evicted_by_the_next_run(
    backup_copy: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    first, second = copies(backup_copy().path, 2)
    run_jira(first)
    gone = store_of(pytester, first)
    first.unlink()
    assert run_jira(second).ret == pytest.ExitCode.OK
    assert cache_files(pytester) == [store_of(pytester, second)]
    assert not gone.with_name(f"{gone.name}.lock").exists()


def test_a_store_unused_for_longer_than_jira_cache_days_is_evicted(
    backup_copy: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    old, recent, current = copies(backup_copy().path, 3)
    for path in (old, recent, current):
        run_jira(path)
    now = time.time()
    set_last_use(store_of(pytester, old), now - 3 * DAY)
    set_last_use(store_of(pytester, recent), now - 1 * DAY)
    pytester.makeini("[pytest]\njira_cache_days = 2\n")
    assert run_jira(current).ret == pytest.ExitCode.OK
    assert {stored_meta(s)["backup_name"] for s in cache_files(pytester)} == {
        recent.name,
        current.name,
    }


def test_a_store_is_kept_30_days_by_default(
    backup_copy: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    old, kept, current = copies(backup_copy().path, 3)
    for path in (old, kept, current):
        run_jira(path)
    now = time.time()
    set_last_use(store_of(pytester, old), now - 31 * DAY)
    set_last_use(store_of(pytester, kept), now - 29 * DAY)
    run_jira(current)
    assert {stored_meta(s)["backup_name"] for s in cache_files(pytester)} == {
        kept.name,
        current.name,
    }


def test_reusing_a_store_counts_as_a_use(
    backup_copy: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    """Last use is the lock file's time: the store's own must stay its scan time."""
    reused, unused, current = copies(backup_copy().path, 3)
    for path in (reused, unused):
        run_jira(path)
    for path in (reused, unused):
        set_last_use(store_of(pytester, path), time.time() - 31 * DAY)
    store = store_of(pytester, reused)
    scanned = store.stat().st_mtime_ns
    run_jira(reused)
    assert store.stat().st_mtime_ns == scanned
    run_jira(current)
    assert {stored_meta(s)["backup_name"] for s in cache_files(pytester)} == {
        reused.name,
        current.name,
    }


def test_the_size_bound_evicts_the_least_recently_used_store_never_the_current_one(
    backup_copy: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    current, older, newer = copies(backup_copy().path, 3)
    for path in (current, older, newer):
        run_jira(path)
    stores = {path: store_of(pytester, path) for path in (current, older, newer)}
    now = time.time()
    set_last_use(stores[current], now - 3 * 3600)  # the least recently used, until reused
    set_last_use(stores[older], now - 2 * 3600)
    set_last_use(stores[newer], now - 1 * 3600)
    total = sum(store.stat().st_size for store in stores.values())
    pytester.makeini(f"[pytest]\njira_cache_max_mb = {(total - 1) / 1e6!r}\n")
    assert run_jira(current).ret == pytest.ExitCode.OK
    assert cache_files(pytester) == sorted([stores[current], stores[newer]])

    pytester.makeini("[pytest]\njira_cache_max_mb = 0.000001\n")  # less than one store
    set_last_use(stores[current], now - 3 * 3600)
    assert run_jira(current).ret == pytest.ExitCode.OK
    assert cache_files(pytester) == [stores[current]]


def test_a_store_whose_scan_lock_is_held_is_not_evicted(
    backup_copy: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    fcntl = pytest.importorskip("fcntl")
    held, current = copies(backup_copy().path, 2)
    run_jira(held)
    store = store_of(pytester, held)
    held.unlink()
    with store.with_name(f"{store.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process scanning it
        run_jira(current)
        assert store in cache_files(pytester)
    run_jira(current)
    assert store not in cache_files(pytester)


@pytest.mark.parametrize("key", ["jira_cache_days", "jira_cache_max_mb"])
def test_a_cache_limit_that_is_not_a_number_is_a_usage_error(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester, key: str
) -> None:
    pytester.makeini(f"[pytest]\n{key} = soon\n")
    result = run_jira(synth_backup().path)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*the {key} ini key must be a number, 0 or more; got 'soon'*"])


def test_a_store_whose_recorded_sha256_differs_from_the_backup_is_rescanned(
    backup_copy: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    """The key trusts size, times and inode; the bytes' sha256 decides (here the
    store's record is changed, as a restored mtime on a reused inode cannot be made
    reliably: the change time moves)."""
    path = backup_copy("email-example").path
    run_jira(path)
    (store,) = cache_files(pytester)
    real = stored_meta(store)["sha256"]
    db = sqlite3.connect(store, isolation_level=None)
    db.execute("UPDATE meta SET value = ? WHERE key = 'sha256'", ("0" * 64,))
    db.close()
    result = run_jira(path, "-rA")
    assert_no_crash(result)
    result.stdout.fnmatch_lines(
        [
            "*the sha256 of *site-backup.zip differs from the one its cached facts were "
            "scanned from; scanning it again*",
            f"FAILED {NODE}::email-domain - *",
        ]
    )
    assert cache_files(pytester) == [store]
    assert stored_meta(store)["sha256"] == real == hashlib.sha256(path.read_bytes()).hexdigest()
    rerun = run_jira(path)
    assert "scanning it again" not in rerun.stdout.str()


def test_eviction_never_fails_a_run_and_removes_orphan_lock_files(
    backup_copy: BackupFactory,
    run_jira: JiraRun,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stuck, current = copies(backup_copy().path, 2)
    run_jira(stuck)
    store = store_of(pytester, stuck)
    stuck.unlink()
    directory = pytester.path / CACHE_DIR
    orphan = directory / f"backup-{'0' * 32}.sqlite.lock"  # a scan that never finished
    orphan.touch()
    os.utime(orphan, (0, 0))

    real_unlink = Path.unlink

    def refuse(path: Path, missing_ok: bool = False) -> None:
        if path == store:
            raise PermissionError(13, "Permission denied", str(path))
        real_unlink(path, missing_ok=missing_ok)

    with monkeypatch.context() as refusing:  # not undo(): pytester's chdir must stay
        refusing.setattr(Path, "unlink", refuse)
        assert run_jira(current).ret == pytest.ExitCode.OK
    assert store.exists() and store.with_name(f"{store.name}.lock").exists()
    assert not orphan.exists()
    run_jira(current)
    assert not store.exists()
