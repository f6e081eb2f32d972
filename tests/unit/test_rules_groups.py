"""Group and permission rules against small hand-built facts stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from factstore import Store, run, texts

from pytest_jiramigrate.rules import groups
from pytest_jiramigrate.rules.site import CloudSite


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    built = Store(tmp_path / "facts.sqlite")
    yield built
    built.db.close()


def test_catalogue_order_ids_and_group() -> None:
    assert [r.id for r in groups.RULES] == [
        "group-admin-rename",
        "group-merge-escalation",
        "membership-integrity",
    ]
    assert {r.group for r in groups.RULES} == {"groups"}
    assert [r.severity for r in groups.RULES] == ["warning", "warning", "error"]
    for each in groups.RULES:
        assert each.needs == ("entities",)
        assert "cwd_membership" in each.sql or "globalpermissionentry" in each.sql


# --- group-admin-rename ---------------------------------------------------------------


def test_admin_rename_names_who_gains_in_both_directions(store: Store) -> None:
    store.add("jira-administrators", "admin", "carol")
    store.add("Administrators", "admin", "Bob")
    store.permission("jira-administrators", "ADMINISTER")
    store.permission("jira-administrators", "SYSTEM_ADMIN")
    store.permission("administrators", "BULK_CHANGE")

    verdict = run(groups.group_admin_rename, store)

    assert texts(verdict) == [
        "Bob from Administrators gains the rights of jira-administrators"
        " (ADMINISTER, SYSTEM_ADMIN)",
        "carol from jira-administrators gains the rights of Administrators (BULK_CHANGE)",
    ]
    assert verdict.findings[0].fields["user"] == "Bob"
    assert verdict.findings[0].fields["from_group"] == "Administrators"
    assert verdict.observed == 2
    assert "2 users" in verdict.summary
    assert verdict.summary.count(".") == 1


def test_admin_rename_follows_child_groups_one_level(store: Store) -> None:
    store.add("jira-administrators", "admin")
    store.add("administrators", "admin")
    store.add("ops", "dave")
    store.nest("administrators", "ops")

    verdict = run(groups.group_admin_rename, store)

    assert texts(verdict) == [
        "dave (via child group ops) from administrators gains the rights of jira-administrators"
    ]


def test_admin_rename_passes_when_only_the_server_group_exists(store: Store) -> None:
    store.add("jira-administrators", "admin", "carol")
    store.add("jira-users", "bob")

    verdict = run(groups.group_admin_rename, store)

    assert verdict.findings == ()
    assert "jira-administrators" in verdict.summary


def test_admin_rename_passes_when_both_groups_hold_the_same_users(store: Store) -> None:
    store.add("jira-administrators", "admin", "carol")
    store.add("administrators", "CAROL", "admin")

    verdict = run(groups.group_admin_rename, store)

    assert verdict.findings == ()
    assert "same members" in verdict.summary


# --- group-merge-escalation ----------------------------------------------------------


def test_merge_reports_groups_named_like_cloud_groups(store: Store) -> None:
    store.add("site-admins", "alice", "bob")
    store.permission("site-admins", "ADMINISTER")
    store.add("jira-administrators", "admin")
    store.permission("jira-administrators", "ADMINISTER")
    store.permission("jira-administrators", "SYSTEM_ADMIN")
    store.add("Confluence-Users", "erin")
    store.add("devs", "frank")
    store.nest("confluence-users", "devs")
    store.add("jira-software-users")  # empty: nobody gains anything
    store.add("developers", "gina")  # not a Cloud group

    verdict = run(groups.group_merge_escalation, store)

    assert texts(verdict) == [
        "Confluence-Users: erin, frank (via child group devs)",
        "jira-administrators (becomes administrators; holds ADMINISTER, SYSTEM_ADMIN): admin",
        "site-admins (holds ADMINISTER): alice, bob",
    ]
    assert verdict.findings[0].fields["nested"] == {"frank": "devs"}
    assert verdict.findings[2].fields["admin_permissions"] == ["ADMINISTER"]
    assert verdict.summary == (
        "3 backup groups (2 holding ADMINISTER or SYSTEM_ADMIN) merge into same-named"
        " Cloud groups, giving 5 users those groups' access."
    )


def test_merge_of_one_group_is_said_in_the_singular(store: Store) -> None:
    store.add("site-admins", "alice")

    verdict = run(groups.group_merge_escalation, store)

    assert verdict.summary == (
        "1 backup group (0 holding ADMINISTER or SYSTEM_ADMIN) merges into a same-named"
        " Cloud group, giving 1 user that group's access."
    )


def test_merge_uses_the_configured_cloud_groups(store: Store) -> None:
    store.add("site-admins", "alice")
    store.add("helpdesk", "bob")

    verdict = run(groups.group_merge_escalation, store, CloudSite(cloud_groups=("HelpDesk",)))

    assert texts(verdict) == ["helpdesk: bob"]


def test_merge_passes_without_same_named_groups(store: Store) -> None:
    store.add("jira-users", "alice")
    store.add("developers", "bob")

    verdict = run(groups.group_merge_escalation, store)

    assert verdict.findings == ()
    assert "escalates no one" in verdict.summary


def test_overwrite_explains_that_cloud_users_are_deleted(store: Store) -> None:
    store.add("site-admins", "alice")
    store.user("bob")
    store.user("BOB", directory="2")  # the same user in a second directory

    verdict = run(groups.group_merge_escalation, store, CloudSite(users="overwrite"))

    assert len(verdict.findings) == 1
    assert "Confluence access only" in verdict.findings[0].text
    assert verdict.findings[0].fields == {"strategy": "overwrite", "backup_users": 2}
    assert "deletes every existing Cloud user" in verdict.summary
    assert "2 users" in verdict.summary


def test_overwrite_findings_do_not_depend_on_groups(store: Store) -> None:
    store.user("alice")

    verdict = run(groups.group_merge_escalation, store, CloudSite(users="overwrite"))

    assert len(verdict.findings) == 1


# --- membership-integrity ------------------------------------------------------------


def test_membership_integrity_passes_on_consistent_rows(store: Store) -> None:
    store.add("jira-users", "alice", "bob")
    store.nest("jira-users", "devs")

    verdict = run(groups.membership_integrity, store)

    assert verdict.findings == ()
    assert "3 memberships" in verdict.summary


def test_membership_integrity_reports_duplicates(store: Store) -> None:
    group_id = store.group("jira-users")
    user_id = store.user("alice")
    first = store.membership(group_id, "jira-users", user_id, "alice")
    second = store.membership(group_id, "jira-users", user_id, "alice")

    verdict = run(groups.membership_integrity, store)

    assert texts(verdict) == [f"membership {second} (jira-users > alice): duplicate of id {first}"]
    assert verdict.findings[0].fields["problems"] == [f"duplicate of id {first}"]
    assert verdict.summary.startswith("1 membership row of 2 is duplicated or points at")


def test_membership_integrity_reports_missing_and_renamed_rows(store: Store) -> None:
    group_id = store.group("jira-users")
    robert = store.user("robert")
    devs = store.group("devs")
    missing_parent = store.membership("123", "ghosts", robert, "robert")
    renamed_child = store.membership(group_id, "jira-users", robert, "bob")
    missing_child = store.membership(group_id, "jira-users", "456", "nobody")
    missing_group_child = store.membership(group_id, "jira-users", "789", "qa", "GROUP_GROUP")
    renamed_parent = store.membership(devs, "Developers", robert, "Robert")

    verdict = run(groups.membership_integrity, store)

    assert texts(verdict) == [
        f"membership {missing_parent} (ghosts > robert): parentId 123 has no Group row",
        f"membership {renamed_child} (jira-users > bob):"
        f" childName 'bob' but childId {robert} is 'robert'",
        f"membership {missing_child} (jira-users > nobody): childId 456 has no User row",
        f"membership {missing_group_child} (jira-users > qa): childId 789 has no Group row",
        f"membership {renamed_parent} (Developers > Robert):"
        f" parentName 'Developers' but parentId {devs} is 'devs'",
    ]
    assert verdict.observed == 5
    assert "5 membership rows of 5" in verdict.summary


def test_membership_integrity_reports_other_directories_and_types(store: Store) -> None:
    group_id = store.group("jira-users", directory="1")
    alice = store.user("alice", directory="2")
    crossed = store.membership(group_id, "jira-users", alice, "alice", directory="1")
    odd = store.membership(group_id, "jira-users", alice, "alice", kind="GROUP_ROLE")

    verdict = run(groups.membership_integrity, store)

    assert texts(verdict) == [
        f"membership {crossed} (jira-users > alice):"
        f" directoryId 1 but childId {alice} is in directory 2",
        f"membership {odd} (jira-users > alice):"
        " membershipType 'GROUP_ROLE' is neither GROUP_USER nor GROUP_GROUP",
    ]


def test_user_ids_do_not_satisfy_group_children(store: Store) -> None:
    """A GROUP_GROUP row whose childId is a user id points at no Group."""
    group_id = store.group("jira-users")
    alice = store.user("alice")
    wrong = store.membership(group_id, "jira-users", alice, "alice", kind="GROUP_GROUP")

    verdict = run(groups.membership_integrity, store)

    assert texts(verdict) == [
        f"membership {wrong} (jira-users > alice): childId {alice} has no Group row"
    ]


def test_merge_ignores_disabled_directories_and_users_not_imported(store: Store) -> None:
    store.db.execute("INSERT INTO directory VALUES ('1', 'Jira Internal', 1, 'INTERNAL', 0)")
    store.db.execute("INSERT INTO directory VALUES ('2', 'Old LDAP', 0, 'CONNECTOR', 1)")
    admins = store.group("site-admins")
    alice = store.user("alice")
    store.membership(admins, "site-admins", alice, "alice")
    store.membership(admins, "site-admins", "404", "ghost")  # no such user
    old_admins = store.group("site-admins", directory="2")
    mallory = store.user("mallory", directory="2")
    store.membership(old_admins, "site-admins", mallory, "mallory", directory="2")

    verdict = run(groups.group_merge_escalation, store)

    assert texts(verdict) == ["site-admins: alice"]
