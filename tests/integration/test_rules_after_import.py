"""The after-import rules on real backups that hold their case (shared/corpus).

Each rule is broken by its synth fault in test_plugin.py's matrix; here the
real backups show the same findings on what Jira itself wrote, both ways:
the backup as committed, and a private copy changed to hold (or lose) the
case.  Expected offenders are read from the XML by hand, not from the facts.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from corpus_path import CORPUS

from pytest_jiramigrate.rules.after_import import ao_prefix

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="the real-backup corpus is absent")

REMOVED_USER = "realworld/jrjc-7.0.0-removed-user.zip"
FILTERS = "realworld/jrjc-5.0-jira-dump-with-filters.zip"
LDAP = "realworld/jsu-6.3.11-test1.zip"
BOARDS = "jira-6.4-test-dvcs.zip"


def entities(name: str) -> str:
    with zipfile.ZipFile(CORPUS / name) as backup:
        return backup.read("entities.xml").decode("utf-8")


def rows(text: str, entity: str) -> list[dict[str, str]]:
    """The attributes of each one-line ``entity`` row (enough for the rows read here)."""
    return [
        dict(re.findall(r'(\w+)="([^"]*)"', row))
        for row in re.findall(rf"^\s*<{entity} ([^>]*?)/?>", text, re.M)
    ]


def changed_copy(name: str, tmp_path: Path, change: Any) -> Path:
    """A private copy of a corpus zip whose entities.xml went through ``change``."""
    copy = tmp_path / Path(name).name
    with zipfile.ZipFile(CORPUS / name) as source, zipfile.ZipFile(copy, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "entities.xml":
                data = change(data.decode("utf-8")).encode("utf-8")
            target.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return copy


def run_rule(
    pytester: pytest.Pytester, backup: Path, rule_id: str, config: str | None = None
) -> dict[str, Any]:
    """Run one rule through pytest on ``backup``; its JSON report entry."""
    if config is not None:
        (pytester.path / "jiramigrate.yaml").write_text(config, encoding="utf-8")
    result = pytester.runpytest_inprocess(
        f"--jira-backup={backup}", "-k", rule_id, "-rA", "--jira-report=report.json"
    )
    output = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in output
    assert "Traceback" not in output
    report = json.loads((pytester.path / "report.json").read_text(encoding="utf-8"))
    (entry,) = [rule for rule in report["rules"] if rule["id"] == rule_id]
    return entry


def details(entry: dict[str, Any]) -> list[str]:
    return [item["detail"] for item in entry["items"]]


def test_the_app_table_prefix_is_atlassians_hash() -> None:
    """The issue's worked example: Jira Software's plugin key gives AO_60DB71."""
    assert ao_prefix("com.pyxis.greenhopper.jira") == "AO_60DB71"


def test_comments_and_worklogs_of_a_removed_user_are_former_user_work(
    pytester: pytest.Pytester,
) -> None:
    text = entities(REMOVED_USER)
    users = {row["lowerUserName"] for row in rows(text, "User")}
    comments = [row["author"] for row in rows(text, "Action") if row.get("type") == "comment"]
    worklogs = [row["author"] for row in rows(text, "Worklog") if "author" in row]
    removed = sorted({a for a in comments + worklogs if a.lower() not in users})
    assert removed, "the corpus README says this backup holds a removed user's work"
    entry = run_rule(pytester, CORPUS / REMOVED_USER, "former-users")
    assert entry["outcome"] == "warning"
    assert [item["user"] for item in entry["items"]] == removed
    for user in removed:
        (detail,) = [d for d in details(entry) if d.startswith(f"{user}: ")]
        assert f"{comments.count(user)} comment author" in detail
        assert f"{worklogs.count(user)} worklog author" in detail


def test_users_of_an_enabled_ldap_directory_are_imported(pytester: pytest.Pytester) -> None:
    entry = run_rule(pytester, CORPUS / LDAP, "former-users")
    assert entry["outcome"] == "passed"


def test_users_of_a_disabled_ldap_directory_are_former_users(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    text = entities(LDAP)
    (ldap,) = [row for row in rows(text, "Directory") if row["type"] == "CONNECTOR"]
    ldap_users = {
        row["lowerUserName"] for row in rows(text, "User") if row["directoryId"] == ldap["id"]
    }
    referenced = {
        row[kind] for row in rows(text, "Issue") for kind in ("reporter", "assignee") if kind in row
    }
    expected = sorted(ldap_users & referenced)
    assert expected, "jsu's LDAP directory holds an assignee"

    def disable(xml: str) -> str:
        row = re.search(rf'<Directory id="{ldap["id"]}"[^>]*>', xml)
        assert row is not None
        return xml.replace(row.group(0), row.group(0).replace('active="1"', 'active="0"'))

    entry = run_rule(pytester, changed_copy(LDAP, tmp_path, disable), "former-users")
    assert entry["outcome"] == "warning"
    assert [item["user"] for item in entry["items"]] == expected


def test_a_filter_shared_with_everyone_is_public(pytester: pytest.Pytester) -> None:
    text = entities(FILTERS)
    shared = {
        row["entityId"]
        for row in rows(text, "SharePermissions")
        if row["type"] == "global" and row["entityType"] == "SearchRequest"
    }
    names = sorted(row["name"] for row in rows(text, "SearchRequest") if row["id"] in shared)
    assert names
    entry = run_rule(pytester, CORPUS / FILTERS, "public-access")
    assert entry["outcome"] == "warning"
    for name in names:
        assert any(d.startswith(f"filter {name} ") for d in details(entry)), name


def test_the_system_dashboard_alone_is_not_public_access(pytester: pytest.Pytester) -> None:
    """Every backup shares the System Dashboard with everyone; that is Jira's design."""
    text = entities(LDAP)
    assert [row["type"] for row in rows(text, "SharePermissions")] == ["global"]
    assert run_rule(pytester, CORPUS / LDAP, "public-access")["outcome"] == "passed"


def test_an_incoming_mail_handler_is_an_integration(pytester: pytest.Pytester) -> None:
    text = entities(REMOVED_USER)
    handlers = sorted(
        row["name"] for row in rows(text, "ServiceConfig") if "MailFetcher" in row["clazz"]
    )
    assert handlers
    entry = run_rule(pytester, CORPUS / REMOVED_USER, "integrations")
    assert entry["outcome"] == "warning"
    for name in handlers:
        assert any(d.startswith(f"incoming mail handler {name} (") for d in details(entry))


def test_a_board_with_its_filter_is_whole_and_without_it_broken(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    assert run_rule(pytester, CORPUS / BOARDS, "board-integrity")["outcome"] == "passed"
    text = entities(BOARDS)
    (search,) = rows(text, "SearchRequest")

    def drop_filter(xml: str) -> str:
        return re.sub(r"^\s*<SearchRequest [^\n]*\n", "", xml, flags=re.M)

    entry = run_rule(pytester, changed_copy(BOARDS, tmp_path, drop_filter), "board-integrity")
    assert entry["outcome"] == "warning"
    (detail,) = details(entry)
    assert detail.endswith(f"uses filter {search['id']}, which is not in the backup")


def test_a_pre_7_grant_to_anyone_is_named_by_its_permission_key(
    pytester: pytest.Pytester,
) -> None:
    """Before Jira 7.0 a grant holds a number; 10 is Browse projects."""
    text = entities(FILTERS)
    schemes = {row["id"]: row["name"] for row in rows(text, "PermissionScheme")}
    anyone = sorted(
        schemes[row["scheme"]]
        for row in rows(text, "SchemePermissions")
        if row.get("type") == "group" and not row.get("parameter") and row.get("permission") == "10"
    )
    assert anyone
    found = details(run_rule(pytester, CORPUS / FILTERS, "public-access"))
    for name in anyone:
        (detail,) = [d for d in found if d.startswith(f"permission scheme {name} grants ")]
        granted = detail.removeprefix(f"permission scheme {name} grants ").split(" to Anyone")[0]
        assert "BROWSE_PROJECTS" in granted.split(",")
