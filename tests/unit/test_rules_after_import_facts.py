"""The after-import rules against small hand-built facts stores: the edge cases
the synthetic and real backups do not hold."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from factstore import Store, run, texts

from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.rules import after_import
from pytest_jiramigrate.rules.base import RuleSettings
from pytest_jiramigrate.rules.outcome import evaluate
from pytest_jiramigrate.rules.site import CloudSite
from synth import SynthSpec, write_backup


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    built = Store(tmp_path / "facts.sqlite")
    for source in ("archive", "entities", "activeobjects"):
        built.db.execute("INSERT INTO source VALUES (?, NULL)", (source,))
    yield built
    built.db.close()


def test_catalogue_ids_group_and_default_severity() -> None:
    assert [rule.id for rule in after_import.RULES] == [
        "app-data-not-migrated",
        "public-access",
        "former-users",
        "group-references",
        "board-integrity",
        "cloud-data-limits",
        "integrations",
        "importer-account",
        "free-plan-restrictions",
    ]
    for rule in after_import.RULES:
        assert (rule.group, rule.severity) == ("after-import", "warning")
        assert rule.sql and "Atlassian" in rule.why


def test_a_renamed_user_referenced_by_key_is_not_a_former_user(store: Store) -> None:
    store.user("will.renamed")
    store.db.execute("INSERT INTO app_user VALUES ('1', 'will', 'will.renamed')")
    store.db.execute("INSERT INTO user_ref VALUES ('issue reporter', 'will', 3, '10000')")
    store.db.execute("INSERT INTO user_ref VALUES ('issue assignee', 'JIRAUSER1', 1, '10000')")
    verdict = run(after_import.former_users, store)
    assert texts(verdict) == ["JIRAUSER1: 1 issue assignee"]


def test_a_user_only_in_a_disabled_directory_is_a_former_user(store: Store) -> None:
    store.db.execute("INSERT INTO directory VALUES ('2', 'Old LDAP', 0, 'CONNECTOR', 1)")
    store.user("gone", directory="2")
    store.db.execute("INSERT INTO board VALUES ('1', 'Team board', 'gone', '10000')")
    assert texts(run(after_import.former_users, store)) == ["gone: 1 board owner"]


def test_a_group_only_in_a_disabled_directory_is_missing(store: Store) -> None:
    store.db.execute("INSERT INTO directory VALUES ('2', 'Old LDAP', 0, 'CONNECTOR', 1)")
    store.group("ldap-devs", directory="2")
    store.group("jira-users")
    store.db.execute(
        "INSERT INTO share_permission VALUES ('1', '10100', 'SearchRequest', 'group',"
        " 'ldap-devs', NULL)"
    )
    store.db.execute(
        "INSERT INTO license_role_group VALUES ('1', 'jira-software', 'JIRA-USERS', 1)"
    )
    assert texts(run(after_import.group_references, store)) == [
        "ldap-devs does not exist; named by share searchrequest 10100"
    ]


def test_an_unknown_app_prefix_is_named_as_unknown(store: Store) -> None:
    store.db.execute("INSERT INTO ao_table VALUES ('AO_ABCDEF_THING', 3, 5)")
    store.db.execute("INSERT INTO ao_table VALUES ('AO_123456_EMPTY', 3, 0)")
    store.db.execute(
        "INSERT INTO ao_table VALUES (?, 3, 9)",
        (after_import.ao_prefix("com.pyxis.greenhopper.jira") + "_RAPIDVIEW",),
    )
    assert texts(run(after_import.app_data_not_migrated, store)) == [
        "unknown app AO_ABCDEF (no plugin in the backup has this table prefix):"
        " AO_ABCDEF_THING (5 rows)"
    ]


def test_a_limit_of_zero_is_not_checked(store: Store) -> None:
    store.db.execute("INSERT INTO project VALUES ('1', 'Web', 'WEB', 'WEB', 'admin', 'software')")
    for number in range(3):
        store.db.execute("INSERT INTO component VALUES (?, '1', ?, NULL)", (str(number), "c"))
    rule = after_import.cloud_data_limits
    settings = RuleSettings(
        "warning", 0, {**rule.defaults(), "max_components_per_project": 2}, CloudSite()
    )
    assert texts(rule.check(Facts(store.db), settings)) == ["WEB: 3 components (limit 2)"]
    assert texts(run(rule, store)) == []


def test_a_missing_setting_is_not_checked_and_never_passed(store: Store) -> None:
    rule = after_import.importer_account
    warning = RuleSettings("warning", 0, {}, CloudSite())
    outcome = evaluate(rule, Facts(store.db), warning, "site-backup.zip")
    assert (outcome.status, outcome.reason) == ("skipped", "not checked: set target.importer_email")
    error = RuleSettings("error", 0, {}, CloudSite())
    assert evaluate(rule, Facts(store.db), error, "site-backup.zip").status == "error"


def test_the_importer_loses_admin_with_overwrite(store: Store) -> None:
    store.add("jira-administrators", "Carol")
    target = CloudSite(importer_email="CAROL@acme.com", users="overwrite")
    (text,) = texts(run(after_import.importer_account, store, target))
    assert text.startswith("Carol <CAROL@acme.com> is in the backup")
    assert "(jira-administrators)" in text
    assert text.endswith("the importer can lose administration")


def test_more_than_three_agents_on_the_free_plan(store: Store) -> None:
    store.add("service-desk-agents", "a1", "a2", "a3", "a4")
    store.db.execute(
        "INSERT INTO license_role_group VALUES ('1', 'jira-servicedesk', 'service-desk-agents', 1)"
    )
    target = CloudSite(plan="free")
    assert texts(run(after_import.free_plan_restrictions, store, target)) == [
        "4 Service Management agents, 3 allowed: a1, a2, a3, a4"
    ]


def test_a_global_grant_to_anyone_is_public_access(store: Store) -> None:
    """global_permission holds the pre-7.0 grants too, by number: 1 is USE (Jira access)."""
    store.db.execute("INSERT INTO global_permission VALUES ('1', '1', NULL)")
    store.db.execute("INSERT INTO global_permission VALUES ('2', 'ADMINISTER', 'jira-admins')")
    # a pre-7.0 row without a scheme is read through global_permission only, never twice
    store.db.execute("INSERT INTO scheme_permission VALUES ('1', NULL, '1', 'group', NULL)")
    assert texts(run(after_import.public_access, store)) == [
        "global permission USE is granted to Anyone"
    ]


def test_redaction_masks_former_users_owners_and_the_importer(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """A former user has no user row, and the importer's address is the config's: both
    are personal data that --jira-redact must mask like the backup's own users."""
    backup = tmp_path / "site-backup.zip"
    manifest = write_backup(
        backup, SynthSpec(faults=("former-user", "public-project", "importer-in-backup"))
    )
    importer = manifest.fault("importer-in-backup")["email"]
    (pytester.path / "jiramigrate.yaml").write_text(f"target: {{importer_email: {importer}}}\n")
    result = pytester.runpytest_inprocess(
        f"--jira-backup={backup}", "--jira-redact", "-rA", "--jira-report=report.json"
    )
    report = (pytester.path / "report.json").read_text(encoding="utf-8")
    former = manifest.fault("former-user")["user"]
    owner = manifest.fault("public-project")["owner"]
    for text in (result.stdout.str(), report):
        assert former not in text
        assert importer not in text
        assert f"(owner {owner})" not in text
    assert "1 component lead, 1 filter owner" in result.stdout.str()
