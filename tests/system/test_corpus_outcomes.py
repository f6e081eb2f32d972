"""The verdict of every rule on every real backup in shared/corpus (issue 11's done-when).

Each backup lists the rules that do not pass, with the outcome and the reason
checked by hand against the file (see corpus/README.md and
corpus/realworld/README.md); every rule it does not list must pass.  A
failure is only ever a reason Cloud's import shares: a version the import
does not support, a missing or misnamed file, XML that is not well-formed, or
e-mail addresses that the site-import guide says block the import.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from corpus_path import CORPUS, CORPUS_MISSING

from pytest_jiramigrate.config import load_config
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.rules import after_import, archive, content, groups, users
from pytest_jiramigrate.rules.base import Rule
from pytest_jiramigrate.rules.outcome import evaluate, unchecked_status
from pytest_jiramigrate.scan.backup import scan_backup

pytestmark = [pytest.mark.corpus, pytest.mark.skipif(not CORPUS.is_dir(), reason=CORPUS_MISSING)]

RULES: tuple[Rule, ...] = (
    *archive.RULES,
    *users.RULES,
    *groups.RULES,
    *content.RULES,
    *after_import.RULES,
)

TOO_OLD = "Jira before 7.0: Cloud's import cannot upgrade its data (Atlassian import docs)"
MAY_WORK = "Jira 7.0.0 is older than 7.6.0: the import may work but does not promise to"
NO_AO = "a bare entities.xml zipped for the corpus: there is no activeobjects.xml by construction"
EXAMPLE_COM = "users on @example.com, on which Cloud's import is known to fail (Atlassian KB)"
SMALL_SITE = "fewer than 1,000 users with product access: site import is offered to larger sites"
ADMINS_MERGE = "jira-administrators (ADMINISTER, SYSTEM_ADMIN) merges into Cloud's administrators"
SHARED_EMAIL = "two usernames share one address; the guide requires unique addresses"
LOCAL_DOMAIN = "moritz.schiller@beecom.local: .local is no top-level domain, reserved by RFC 6762"
NOT_CHECKED = "not checked: entities.xml is not well-formed, so its facts are incomplete"
NO_AO_DATA = "not checked: no activeobjects.xml, so no app tables or boards to read"
MAIL_HANDLER = "a POP mail handler would still read the server's mailbox"
ANONYMOUS = "an 'Anonymous Permission Scheme' grants browsing to Anyone (group grant, no group)"
PUBLIC_SHARES = "two filters and two dashboards shared with everyone (SharePermissions global)"
UNKNOWN_APP = "AO_98E482_REF_ENTITY: the tables of an app no PluginVersion row names"

#: rules that need a setting the default configuration leaves unset: skipped, never passed
UNSET: dict[str, tuple[str, str]] = {
    "importer-account": ("skipped", "not checked: set target.importer_email"),
    "free-plan-restrictions": ("skipped", "not checked: target.plan is standard"),
}
#: what the after-import rules find on a backup without activeobjects.xml
WITHOUT_AO: dict[str, tuple[str, str]] = {
    "app-data-not-migrated": ("skipped", NO_AO_DATA),
    "board-integrity": ("skipped", NO_AO_DATA),
    **UNSET,
}

#: backup -> {rule id: (outcome, why)}; every rule not listed passes
EXPECTED: dict[str, dict[str, tuple[str, str]]] = {
    "jira-4.4-misnamed-entities.zip": {
        "entities-xml-at-root": ("failed", "the entity file is WorkflowBasedPermissions.xml"),
        "activeobjects-xml-at-root": ("failed", "the zip holds the one misnamed XML file only"),
        "jira-version-supported": ("failed", TOO_OLD),
        "email-syntax": ("warning", "jturner@localhost is valid, but the KB's pattern wants a dot"),
        "email-tld": ("failed", "every address is jturner@localhost: no top-level domain"),
        "email-domain": ("failed", "localhost is reserved by RFC 6761"),
        "email-unique": ("failed", "eleven usernames share jturner@localhost"),
        "site-import-eligibility": ("warning", SMALL_SITE),
        "group-merge-escalation": ("warning", ADMINS_MERGE),
        **WITHOUT_AO,
    },
    "jira-5.0-activeobjects-baddata.zip": {
        "jira-version-supported": ("failed", TOO_OLD),
        "email-domain": ("failed", EXAMPLE_COM),
        "site-import-eligibility": ("warning", SMALL_SITE),
        "group-merge-escalation": ("warning", ADMINS_MERGE),
        "app-data-not-migrated": ("warning", UNKNOWN_APP),
        "public-access": ("warning", PUBLIC_SHARES),
        **UNSET,
    },
    "jira-5.0-activeobjects.zip": {
        "jira-version-supported": ("failed", TOO_OLD),
        "email-domain": ("failed", EXAMPLE_COM),
        "site-import-eligibility": ("warning", SMALL_SITE),
        "group-merge-escalation": ("warning", ADMINS_MERGE),
        "app-data-not-migrated": ("warning", UNKNOWN_APP),
        "public-access": ("warning", PUBLIC_SHARES),
        **UNSET,
    },
    "jira-6.4-test-dvcs.zip": {
        "jira-version-supported": ("failed", TOO_OLD),
        "email-domain": ("failed", EXAMPLE_COM),
        "site-import-eligibility": ("warning", SMALL_SITE),
        "group-merge-escalation": ("warning", ADMINS_MERGE),
        **UNSET,
    },
    "realworld/jrjc-4.2-jira-dump.zip": {
        "activeobjects-xml-at-root": ("failed", NO_AO),
        "jira-version-supported": ("failed", TOO_OLD),
        "email-domain": ("failed", EXAMPLE_COM),
        "email-unique": ("failed", SHARED_EMAIL),
        "site-import-eligibility": ("warning", SMALL_SITE),
        "group-merge-escalation": ("warning", ADMINS_MERGE),
        **WITHOUT_AO,
        "public-access": ("warning", "two anonymous schemes (ANNON, ANONEDIT) grant to Anyone"),
        "integrations": ("warning", MAIL_HANDLER),
    },
    "realworld/jrjc-5.0-jira-dump-with-filters.zip": {
        "activeobjects-xml-at-root": ("failed", NO_AO),
        "jira-version-supported": ("failed", TOO_OLD),
        "email-domain": ("failed", EXAMPLE_COM),
        "email-unique": ("failed", SHARED_EMAIL),
        "site-import-eligibility": ("warning", SMALL_SITE),
        "group-merge-escalation": ("warning", ADMINS_MERGE),
        **WITHOUT_AO,
        "public-access": ("warning", ANONYMOUS + "; and two filters shared with everyone"),
        "former-users": ("warning", "deleteduser logged work but has no user row"),
        "integrations": ("warning", MAIL_HANDLER),
    },
    "realworld/jrjc-5.0snap-export-for-history.zip": {
        "activeobjects-xml-at-root": ("failed", NO_AO),
        "xml-well-formed": ("failed", "not well-formed as committed: a bare '&' at line 1333"),
        "jira-version-supported": ("failed", TOO_OLD),
        **{
            rule.id: (unchecked_status(rule.severity), NOT_CHECKED)
            for rule in RULES
            if "entities" in rule.needs and rule.id != "jira-version-supported"
        },
    },
    "realworld/jrjc-7.0.0-jira-dump.zip": {
        "activeobjects-xml-at-root": ("failed", NO_AO),
        "jira-version-supported": ("warning", MAY_WORK),
        "email-domain": ("failed", EXAMPLE_COM),
        "email-unique": ("failed", SHARED_EMAIL),
        "site-import-eligibility": ("warning", SMALL_SITE),
        "group-merge-escalation": ("warning", ADMINS_MERGE),
        **WITHOUT_AO,
        "public-access": ("warning", ANONYMOUS),
        "integrations": ("warning", MAIL_HANDLER),
    },
    "realworld/jrjc-7.0.0-removed-user.zip": {
        "activeobjects-xml-at-root": ("failed", NO_AO),
        "jira-version-supported": ("warning", MAY_WORK),
        "email-domain": ("failed", EXAMPLE_COM),
        "email-unique": ("failed", SHARED_EMAIL),
        "site-import-eligibility": ("warning", SMALL_SITE),
        "group-merge-escalation": ("warning", ADMINS_MERGE),
        **WITHOUT_AO,
        "public-access": ("warning", ANONYMOUS),
        "former-users": ("warning", "removed_user, deleted, wrote a comment and a worklog"),
        "integrations": ("warning", MAIL_HANDLER),
    },
    "realworld/jrjc-7.12snap-issue-type-scheme.zip": {
        "activeobjects-xml-at-root": ("failed", NO_AO),
        "site-import-eligibility": ("warning", SMALL_SITE),
        "group-merge-escalation": ("warning", ADMINS_MERGE + "; jira-software-users merges too"),
        **WITHOUT_AO,
    },
    "realworld/jsu-6.0-test1.zip": {
        "activeobjects-xml-at-root": ("failed", NO_AO),
        "jira-version-supported": ("failed", TOO_OLD),
        "email-tld": ("failed", LOCAL_DOMAIN),
        "email-domain": ("failed", EXAMPLE_COM + "; and beecom.local"),
        "email-unique": ("failed", "four usernames share admin@example.com"),
        "site-import-eligibility": ("warning", SMALL_SITE),
        "group-merge-escalation": ("warning", ADMINS_MERGE),
        **WITHOUT_AO,
    },
    "realworld/jsu-6.3.11-test1.zip": {
        "jira-version-supported": ("failed", TOO_OLD),
        "email-tld": ("failed", LOCAL_DOMAIN),
        "email-domain": ("failed", EXAMPLE_COM + "; and beecom.local"),
        "email-unique": ("failed", "four usernames share admin@example.com"),
        "site-import-eligibility": ("warning", SMALL_SITE),
        "group-merge-escalation": ("warning", ADMINS_MERGE),
        "app-data-not-migrated": ("warning", "JSU's custom field types: a third-party app"),
        **UNSET,
    },
    **{
        f"realworld/zendesk-{version}-restoreData.zip": {
            "activeobjects-xml-at-root": ("failed", NO_AO),
            "jira-version-supported": ("failed", TOO_OLD),
            "site-import-eligibility": ("warning", SMALL_SITE),
            "group-merge-escalation": (
                "warning",
                ADMINS_MERGE + " (a pre-7.0 SchemePermissions grant)",
            ),
            **WITHOUT_AO,
        }
        for version in ("3.12", "3.13.2", "4.0", "4.1.1", "4.2.2", "4.3.2")
    },
}


def corpus_backups() -> list[str]:
    if not CORPUS.is_dir():
        return []
    found = [*CORPUS.glob("*.zip"), *(CORPUS / "realworld").glob("*.zip")]
    return sorted(str(path.relative_to(CORPUS)) for path in found)


def test_every_corpus_backup_has_its_expected_outcomes_listed() -> None:
    assert corpus_backups() == sorted(EXPECTED)
    known = {rule.id for rule in RULES}
    for name, listed in EXPECTED.items():
        assert set(listed) <= known, name
        for outcome, why in listed.values():
            assert outcome in ("failed", "warning", "error", "skipped") and why, name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_rule_on_the_real_backup(name: str, tmp_path: Path) -> None:
    backup = tmp_path / Path(name).name
    shutil.copyfile(CORPUS / name, backup)
    store = tmp_path / "facts.sqlite"
    scan_backup(backup, store, ArchiveLimits())
    facts = Facts.open(store)
    settings = load_config(None, RULES).rules
    try:
        seen = {
            rule.id: evaluate(rule, facts, settings[rule.id], backup.name).status for rule in RULES
        }
    finally:
        facts.db.close()
    expected = {rule.id: EXPECTED[name].get(rule.id, ("passed", ""))[0] for rule in RULES}
    assert seen == expected


def run_plugin(pytester: pytest.Pytester, name: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    """The plugin on a private copy of a corpus backup, as a user runs it."""
    backup = pytester.path / "backups" / Path(name).name
    backup.parent.mkdir(exist_ok=True)
    shutil.copyfile(CORPUS / name, backup)
    result = pytester.runpytest_inprocess(f"--jira-backup={backup}", "-rA", "--jira-report=r.json")
    report = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    return result, {rule["id"]: rule for rule in report["rules"]} | {"backup": report["backup"]}


def test_jira_3_12_without_header_or_trailer(pytester: pytest.Pytester) -> None:
    result, rules = run_plugin(pytester, "realworld/zendesk-3.12-restoreData.zip")

    assert rules["backup-complete"]["outcome"] == "passed"
    assert "no '___ Entities ___' trailer to compare with" in rules["backup-complete"]["message"]
    assert (
        "from build 300 in the jira.version.patched property"
        in (rules["jira-version-supported"]["message"])
    )
    assert rules["server-base-url"]["outcome"] == "passed"
    assert rules["backup"]["base_url"] == "http://localhost:1990"
    assert rules["xml-well-formed"]["message"].startswith(
        "entities.xml is well-formed; activeobjects.xml was not checked"
    )
    # the pre-7.0 SchemePermissions grants: jira-administrators holds ADMINISTER, SYSTEM_ADMIN
    (merged,) = rules["group-merge-escalation"]["items"]
    assert merged["detail"].startswith(
        "jira-administrators (becomes administrators; holds ADMINISTER, SYSTEM_ADMIN): "
    )
    result.stdout.fnmatch_lines(
        ["jiramigrate: zendesk-3.12-restoreData.zip (Jira earlier than 6.0): * users (* with"
         " product access, counted as members of the groups with the global USE permission)*"]
    )  # fmt: skip


@pytest.mark.parametrize(
    "name", ["realworld/zendesk-3.13.2-restoreData.zip", "realworld/zendesk-4.0-restoreData.zip"]
)
def test_a_header_without_base_url_passes_on_the_property(
    pytester: pytest.Pytester, name: str
) -> None:
    _, rules = run_plugin(pytester, name)

    base = rules["server-base-url"]
    assert base["outcome"] == "passed"
    assert "header has no Base URL line; the property is what counts" in base["message"]
    assert base["properties"] == {"jira_baseurl": rules["backup"]["base_url"]}


def test_jira_7_counts_the_license_role_groups(pytester: pytest.Pytester) -> None:
    _, rules = run_plugin(pytester, "realworld/jrjc-7.0.0-jira-dump.zip")

    eligibility = rules["site-import-eligibility"]
    assert eligibility["outcome"] == "warning"
    assert (
        "counted as members of the LicenseRoleGroup application-access groups"
        in (eligibility["message"])
    )
    assert rules["user-count-within-plan"]["properties"]["counting"] == (
        "members of the LicenseRoleGroup application-access groups"
    )
