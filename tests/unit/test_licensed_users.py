"""Who takes a seat in Cloud: licensed users, and the site-import eligibility rule.

Cloud bills users with product access (Atlassian, "Manage users and user
tiers"): from Jira 7 the active members, direct or through nested groups, of
the groups in LicenseRoleGroup; before 7.0 the members of the groups with the
global USE permission; all active users only when the backup names neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BackupFactory, JiraRun

from pytest_jiramigrate import facts as facts_store
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.rules.base import RuleSettings, Verdict
from pytest_jiramigrate.rules.site import CloudSite
from pytest_jiramigrate.rules.users import (
    licensed_users,
    site_import_eligibility,
    user_count_within_plan,
)

NODE = "site-backup.zip"
LICENSE_ROLES = "members of the LicenseRoleGroup application-access groups"
USE_GROUPS = "members of the groups with the global USE permission"
ALL_ACTIVE = "all active users, as the backup names no access groups"


class Site:
    """A facts store of users in one directory, their groups, and who grants access."""

    def __init__(self, path: Path) -> None:
        self.db = facts_store.create(path)
        self.db.execute("INSERT INTO directory VALUES ('1', 'Internal', 1, 'INTERNAL', 0)")
        self.next_id = 100

    def users(self, *names: str, active: int = 1) -> Site:
        for name in names:
            self.next_id += 1
            self.db.execute(
                "INSERT INTO user (id, directory_id, user_name, lower_user_name, active, email,"
                " source) VALUES (?, '1', ?, ?, ?, ?, 'User')",
                (str(self.next_id), name, name.lower(), active, f"{name}@acme.com"),
            )
        return self

    def member(self, group: str, child: str, kind: str = "GROUP_USER") -> Site:
        self.next_id += 1
        self.db.execute(
            "INSERT INTO membership VALUES (?, NULL, NULL, ?, ?, ?, ?, ?, '1', 1)",
            (str(self.next_id), kind, group, group.lower(), child, child.lower()),
        )
        return self

    def license_role(self, group: str) -> Site:
        self.db.execute(
            "INSERT INTO license_role_group VALUES ('1', 'jira-software', ?, 1)", (group,)
        )
        return self

    def global_permission(self, permission: str, group: str) -> Site:
        self.db.execute("INSERT INTO global_permission VALUES ('1', ?, ?)", (permission, group))
        return self

    def facts(self) -> Facts:
        return Facts(self.db)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = Site(tmp_path / "facts.sqlite")
    yield built
    built.db.close()


def run_eligibility(facts: Facts, **limits: int) -> Verdict:
    rule = site_import_eligibility
    settings = RuleSettings(rule.severity, 0, {**rule.defaults(), **limits}, CloudSite())
    return rule.check(facts, settings)


def test_jira_7_counts_active_members_of_license_role_groups_and_nested_groups(
    site: Site,
) -> None:
    site.users("ann", "bob", "cy", "dee").users("gone", active=0)
    site.license_role("jira-software-users")
    site.member("jira-software-users", "ann").member("jira-software-users", "gone")
    site.member("jira-software-users", "Contractors", "GROUP_GROUP")
    site.member("contractors", "bob")  # nested: bob gets access through Contractors
    site.member("jira-servicedesk-agents", "cy")  # a group that grants nothing here
    site.global_permission("USE", "jira-servicedesk-agents")  # ignored: LicenseRoleGroup wins

    licensed = licensed_users(site.facts())

    assert (licensed.count, licensed.counting) == (2, LICENSE_ROLES)


def test_before_jira_7_counts_members_of_groups_with_global_use(site: Site) -> None:
    site.users("ann", "bob", "cy")
    site.global_permission("USE", "jira-users").global_permission("ADMINISTER", "admins")
    site.member("jira-users", "ann").member("admins", "bob")

    licensed = licensed_users(site.facts())

    assert (licensed.count, licensed.counting) == (1, USE_GROUPS)


def test_without_access_groups_every_active_user_counts(site: Site) -> None:
    site.users("ann", "bob").users("gone", active=0)

    licensed = licensed_users(site.facts())

    assert (licensed.count, licensed.counting) == (2, ALL_ACTIVE)


def test_user_count_within_plan_uses_the_licensed_count(site: Site) -> None:
    site.users(*(f"user{n}" for n in range(12)))
    site.license_role("jira-users")
    for n in range(3):
        site.member("jira-users", f"user{n}")
    rule = user_count_within_plan
    settings = RuleSettings(rule.severity, 0, rule.defaults(), CloudSite(plan="free"))

    verdict = rule.check(site.facts(), settings)

    assert verdict.findings == ()
    assert verdict.observed == 3
    assert verdict.summary == (
        f"The backup has 3 users with product access, counted as {LICENSE_ROLES},"
        " within the Free plan's 10 users."
    )


def test_site_import_eligibility_warns_at_1000_users_or_fewer(site: Site) -> None:
    site.users("ann")

    verdict = run_eligibility(site.facts())

    (finding,) = verdict.findings
    assert finding.text == (
        f"The backup has 1 user with product access, counted as {ALL_ACTIVE}, not more than"
        " 1,000: since May 2022 Atlassian offers server-to-cloud site import only for"
        " migrations of more than 1,000 users; use the Jira Cloud Migration Assistant or ask"
        " Atlassian support"
    )
    assert finding.fields == {"licensed_users": 1, "counting": ALL_ACTIVE, "limit": 1000}
    assert site_import_eligibility.severity == "warning"
    assert "Use Jira Site Import to migrate from server to cloud" in site_import_eligibility.why


def test_site_import_eligibility_passes_above_the_threshold(site: Site) -> None:
    site.users("ann", "bob", "cy")

    verdict = run_eligibility(site.facts(), more_than=2)

    assert verdict.findings == ()
    assert verdict.summary.startswith("The backup has 3 users with product access")
    assert "Atlassian offers site import for a migration of this size" in verdict.summary


def test_site_import_eligibility_end_to_end(synth_backup: BackupFactory, run_jira: JiraRun) -> None:
    backup = synth_backup()

    warned = run_jira(backup.path, "-rA")
    eligible = run_jira(
        backup.path, "-rA", config="rules:\n  site-import-eligibility: {more_than: 1}\n"
    )

    warned.stdout.fnmatch_lines(
        [
            "*users (* with product access, counted as members of the LicenseRoleGroup*",
            f"*{NODE}::site-import-eligibility*JiraReadinessWarning*not more than 1,000*",
            f"PASSED {NODE}::site-import-eligibility",
        ]
    )
    assert warned.ret == pytest.ExitCode.OK
    eligible.stdout.fnmatch_lines([f"PASSED {NODE}::site-import-eligibility"])
    assert "site-import-eligibility:0: JiraReadinessWarning" not in eligible.stdout.str()
