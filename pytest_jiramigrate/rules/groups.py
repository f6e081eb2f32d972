"""Group and permission rules: what the import does to groups, and memberships it rejects.

Cloud's import renames ``jira-administrators`` to ``administrators``, merges
backup groups into same-named Cloud groups when users are merged (or deletes
every Cloud user when they are overwritten), and fails on memberships that
do not point at the rows they name.

Users are the ones the import creates (:func:`users.counted_users`: one per
username, none from disabled directories); a group is identified by its
lower-case name across enabled directories, and memberships of disabled
directories are ignored.  A membership is counted in whichever enabled
directory it is, whether or not that directory's copy of the user is
shadowed: Jira can aggregate memberships across directories, and a warning
that lists one user too many is safer than one that misses an escalation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_jiramigrate.facts import Facts, Mask
from pytest_jiramigrate.rules.base import (
    Finding,
    Rule,
    RuleSettings,
    Verdict,
    passed,
    plural,
    rule,
)
from pytest_jiramigrate.rules.users import counted_users

SERVER_ADMIN_GROUP = "jira-administrators"
CLOUD_ADMIN_GROUP = "administrators"
#: global permissions that make a group's members Jira (system) administrators
ADMIN_PERMISSIONS: tuple[str, ...] = ("ADMINISTER", "SYSTEM_ADMIN")
GROUP_USER = "GROUP_USER"
GROUP_GROUP = "GROUP_GROUP"


@dataclass(frozen=True)
class Member:
    """A user in a group: directly, or through one child group (``via``)."""

    name: str
    lower_name: str
    via: str | None = None

    def describe(self) -> str:
        return self.name if self.via is None else f"{self.name} (via child group {self.via})"


def cloud_name(lower_group: str) -> str:
    """The lower-case name a backup group has after import (the admin group is renamed)."""
    return CLOUD_ADMIN_GROUP if lower_group == SERVER_ADMIN_GROUP else lower_group


def backup_groups(facts: Facts) -> dict[str, str]:
    """Every group the import brings: lower-case name -> name as written (one per lower name).

    Groups of disabled directories are left out, as Jira ignores those directories.
    """
    rows = facts.query(
        "SELECT coalesce(g.lower_name, lower(g.name)) AS lower_name, min(g.name) AS name"
        " FROM grp AS g LEFT JOIN directory AS d ON d.id = g.directory_id"
        " WHERE coalesce(d.active, 1) != 0 GROUP BY 1 ORDER BY 1"
    )
    return {row["lower_name"]: row["name"] for row in rows}


#: Memberships of enabled directories (and of pre-4.3 backups, which have none).
_LIVE_MEMBERSHIPS = """
WITH live AS (
    SELECT coalesce(m.lower_parent_name, lower(m.parent_name)) AS lower_parent,
           m.child_name, coalesce(m.lower_child_name, lower(m.child_name)) AS lower_child,
           m.membership_type
    FROM membership AS m LEFT JOIN directory AS d ON d.id = m.directory_id
    WHERE coalesce(d.active, 1) != 0)
"""


def imported_user_names(facts: Facts) -> dict[str, str]:
    """Lower-case username -> username, as findings show it (``facts.mask``), of every user
    the import creates (``counted_users``)."""
    mask = facts.mask
    return {user.lower_user_name: mask.user(user.user_name) for user in counted_users(facts)}


def group_members(facts: Facts, lower_group: str, users: Mapping[str, str]) -> list[Member]:
    """The imported users of a group: direct members, then members of its direct child groups.

    ``users`` maps the lower-case names of imported users to their names
    (:func:`imported_user_names`); a membership naming anyone else gives no
    one access.  Nested groups are followed one level only; a direct
    membership wins over a nested one.  Sorted by lower-case username.
    """
    direct = facts.query(
        _LIVE_MEMBERSHIPS + "SELECT DISTINCT lower_child AS lower_user, NULL AS via FROM live"
        " WHERE lower_parent = ? AND membership_type = ?",
        (lower_group, GROUP_USER),
    )
    nested = facts.query(
        _LIVE_MEMBERSHIPS
        + "SELECT DISTINCT inner_m.lower_child AS lower_user, outer_m.child_name AS via"
        " FROM live AS outer_m JOIN live AS inner_m ON inner_m.lower_parent = outer_m.lower_child"
        " WHERE outer_m.lower_parent = ? AND outer_m.membership_type = ?"
        " AND inner_m.membership_type = ? ORDER BY via",
        (lower_group, GROUP_GROUP, GROUP_USER),
    )
    members: dict[str, Member] = {}
    for row in [*direct, *nested]:
        lower_user = row["lower_user"]
        if lower_user in users:
            members.setdefault(lower_user, Member(users[lower_user], lower_user, row["via"]))
    return [members[key] for key in sorted(members)]


def global_permissions(facts: Facts, lower_group: str) -> list[str]:
    """The global permissions (``ADMINISTER``, ``USE``, ...) granted to a group, sorted."""
    rows = facts.query(
        "SELECT DISTINCT permission FROM global_permission WHERE lower(group_name) = ?"
        " ORDER BY permission",
        (lower_group,),
    )
    return [row["permission"] for row in rows]


def _gains(
    members: Iterable[Member], already: set[str], from_group: str, to_group: str, rights: list[str]
) -> list[Finding]:
    """Findings for members of ``from_group`` who are not yet in ``to_group``."""
    granted = f" ({', '.join(rights)})" if rights else ""
    return [
        Finding(
            text=f"{member.describe()} from {from_group} gains the rights of {to_group}{granted}",
            fields={
                "user": member.name,
                "from_group": from_group,
                "via": member.via,
                "gains_group": to_group,
                "gains_permissions": rights,
            },
        )
        for member in members
        if member.lower_name not in already
    ]


@rule(
    id="group-admin-rename",
    title="jira-administrators and administrators merge into Cloud's administrators group",
    why="""
        During the import Jira Cloud renames the server group jira-administrators to
        administrators. When the backup also has an administrators group, the two become
        one group and every member gets the rights of both: members of administrators
        become Jira administrators, members of jira-administrators get whatever the
        server's administrators group was granted. (Atlassian, "Use Jira Site Import to
        migrate from server to cloud", step 6.)
    """,
    fix="""
        On the server, decide who must be a Jira administrator in Cloud. Remove the listed
        users from the group they should not carry over, or rename the server's
        administrators group (for example to server-administrators) so nothing merges,
        then take a new backup.
    """,
    severity="warning",
    sql="""
        -- users in exactly one of the two groups (each gains the other group's rights)
        SELECT lower_child_name, min(lower_parent_name) AS only_in
        FROM cwd_membership
        WHERE membership_type = 'GROUP_USER'
          AND lower_parent_name IN ('jira-administrators', 'administrators')
        GROUP BY lower_child_name
        HAVING count(DISTINCT lower_parent_name) = 1;
        -- what each group grants
        SELECT group_id, permission FROM globalpermissionentry
        WHERE lower(group_id) IN ('jira-administrators', 'administrators');
    """,
    group="groups",
)
def group_admin_rename(facts: Facts, settings: RuleSettings) -> Verdict:
    groups = backup_groups(facts)
    if SERVER_ADMIN_GROUP not in groups or CLOUD_ADMIN_GROUP not in groups:
        if SERVER_ADMIN_GROUP in groups or CLOUD_ADMIN_GROUP in groups:
            present, absent = (
                (SERVER_ADMIN_GROUP, CLOUD_ADMIN_GROUP)
                if SERVER_ADMIN_GROUP in groups
                else (CLOUD_ADMIN_GROUP, SERVER_ADMIN_GROUP)
            )
            what = f"{present} but no {absent} group"
        else:
            what = f"neither {SERVER_ADMIN_GROUP} nor {CLOUD_ADMIN_GROUP}"
        return passed(f"The backup has {what}, so Cloud's admin-group rename merges no members.")
    users = imported_user_names(facts)
    server_admins = group_members(facts, SERVER_ADMIN_GROUP, users)
    cloud_admins = group_members(facts, CLOUD_ADMIN_GROUP, users)
    findings = [
        *_gains(
            cloud_admins,
            {m.lower_name for m in server_admins},
            groups[CLOUD_ADMIN_GROUP],
            groups[SERVER_ADMIN_GROUP],
            global_permissions(facts, SERVER_ADMIN_GROUP),
        ),
        *_gains(
            server_admins,
            {m.lower_name for m in cloud_admins},
            groups[SERVER_ADMIN_GROUP],
            groups[CLOUD_ADMIN_GROUP],
            global_permissions(facts, CLOUD_ADMIN_GROUP),
        ),
    ]
    if not findings:
        return passed(
            "jira-administrators and administrators both exist with the same members,"
            " so merging them into Cloud's administrators group changes no one's rights."
        )
    return Verdict(
        findings=findings,
        summary=(
            "jira-administrators and administrators both exist and merge into Cloud's"
            f" administrators group, giving {plural(len(findings), 'user')} rights"
            " they did not have."
        ),
        observed=len(findings),
    )


def _merged_group_finding(
    facts: Facts, lower_group: str, name: str, members: list[Member]
) -> Finding:
    """One merged group, its admin permissions and the users who gain the Cloud group's access."""
    notes = []
    target = cloud_name(lower_group)
    if target != lower_group:
        notes.append(f"becomes {target}")
    admin_rights = [p for p in global_permissions(facts, lower_group) if p in ADMIN_PERMISSIONS]
    if admin_rights:
        notes.append(f"holds {', '.join(admin_rights)}")
    label = f"{name} ({'; '.join(notes)})" if notes else name
    return Finding(
        text=f"{label}: {', '.join(member.describe() for member in members)}",
        fields={
            "group": name,
            "cloud_group": target,
            "admin_permissions": admin_rights,
            "members": [member.name for member in members],
            "nested": {member.name: member.via for member in members if member.via},
        },
    )


def _overwrite_verdict(facts: Facts) -> Verdict:
    users = len(counted_users(facts))
    text = (
        "Overwriting users deletes every existing Cloud user, including users with"
        f" Confluence access only, and replaces them with the backup's {plural(users, 'user')}."
    )
    return Verdict(
        findings=[Finding(text=text, fields={"strategy": "overwrite", "backup_users": users})],
        summary=(
            "The overwrite users strategy deletes every existing Cloud user, including"
            f" Confluence-only users, and replaces them with the backup's {plural(users, 'user')}."
        ),
        observed=users,
    )


@rule(
    id="group-merge-escalation",
    title="Merging users merges same-named groups and can escalate permissions",
    why="""
        With the merge users strategy, a backup group with the same name as a group on the
        Cloud site (in Jira or Confluence) is merged into it: its users receive the Cloud
        group's permissions, and the Cloud group's existing members receive what the
        server granted the group (ADMINISTER or SYSTEM_ADMIN make them Jira administrators).
        jira-administrators is renamed to administrators first. Users of child groups are
        followed one level deep. With the overwrite strategy every existing Cloud user,
        including Confluence-only users, is deleted and replaced by the backup's users.
        (Atlassian, "Use Jira Site Import to migrate from server to cloud", step 4.)
    """,
    fix="""
        On the server, rename each listed group that must not merge (for example
        site-admins to server-site-admins) or remove the users who must not gain the Cloud
        group's access, then take a new backup. For overwrite, confirm that losing every
        current Cloud user is intended, or choose merge.
    """,
    severity="warning",
    sql="""
        -- members of backup groups named like a Cloud group (adjust the list to your site)
        SELECT m.parent_name, m.membership_type, m.child_name
        FROM cwd_membership m
        WHERE m.lower_parent_name IN ('site-admins', 'system-administrators',
              'atlassian-addons', 'atlassian-addons-admin', 'administrators',
              'jira-administrators', 'jira-software-users', 'jira-core-users',
              'jira-servicemanagement-users', 'jira-work-management-users', 'confluence-users')
        ORDER BY m.lower_parent_name, m.lower_child_name;
        -- which of them make their members administrators
        SELECT group_id, permission FROM globalpermissionentry
        WHERE permission IN ('ADMINISTER', 'SYSTEM_ADMIN');
    """,
    group="groups",
)
def group_merge_escalation(facts: Facts, settings: RuleSettings) -> Verdict:
    if settings.site.users == "overwrite":
        return _overwrite_verdict(facts)
    cloud_groups = {group.lower() for group in settings.site.cloud_groups}
    findings = []
    gaining: set[str] = set()
    admin_groups = 0
    users = imported_user_names(facts)
    for lower_group, name in backup_groups(facts).items():
        if cloud_name(lower_group) not in cloud_groups:
            continue
        members = group_members(facts, lower_group, users)
        if not members:
            continue
        finding = _merged_group_finding(facts, lower_group, name, members)
        findings.append(finding)
        gaining.update(member.lower_name for member in members)
        admin_groups += bool(finding.fields["admin_permissions"])
    if not findings:
        return passed(
            "No backup group with members shares a name with the"
            f" {plural(len(cloud_groups), 'Cloud group')}, so merging users escalates no one."
        )
    return Verdict(
        findings=findings,
        summary=(
            f"{plural(len(findings), 'backup group')} ({admin_groups:,} holding ADMINISTER or"
            " SYSTEM_ADMIN) "
            + (
                "merges into a same-named Cloud group, giving"
                f" {plural(len(gaining), 'user')} that group's access."
                if len(findings) == 1
                else "merge into same-named Cloud groups, giving"
                f" {plural(len(gaining), 'user')} those groups' access."
            )
        ),
        observed=len(findings),
    )


#: Membership rows that may break the import, with the Group/User row each id points at
#: (``*_found`` is NULL when there is none).  Duplicates are ranked on narrow rows first,
#: so that only suspect rows are sorted; ``membership_problems`` says what is wrong.
_SUSPECT_MEMBERSHIPS = """
WITH ranked AS (
    SELECT rowid AS rid, first_value(id) OVER same_key AS first_id,
           row_number() OVER same_key AS nth
    FROM membership
    WHERE parent_id IS NOT NULL OR child_id IS NOT NULL
    WINDOW same_key AS (PARTITION BY parent_id, child_id, membership_type
                        ORDER BY CAST(id AS INTEGER), id)
),
grp_by_id AS (
    SELECT id, 1 AS found, min(name) AS name,
           min(coalesce(lower_name, lower(name))) AS lower_name,
           min(directory_id) AS directory_id
    FROM grp GROUP BY id
),
user_by_id AS (
    SELECT id, 1 AS found, min(user_name) AS name,
           min(coalesce(lower_user_name, lower(user_name))) AS lower_name,
           min(directory_id) AS directory_id
    FROM user GROUP BY id
),
targets AS (
    SELECT m.id, m.parent_id, m.child_id, m.membership_type, m.parent_name, m.child_name,
           m.directory_id, m.line, r.first_id, r.nth,
           coalesce(m.lower_parent_name, lower(m.parent_name)) AS lower_parent,
           coalesce(m.lower_child_name, lower(m.child_name)) AS lower_child,
           p.found AS parent_found, p.name AS parent_row_name,
           p.lower_name AS parent_row_lower, p.directory_id AS parent_row_directory,
           coalesce(cu.found, cg.found) AS child_found,
           coalesce(cu.name, cg.name) AS child_row_name,
           coalesce(cu.lower_name, cg.lower_name) AS child_row_lower,
           coalesce(cu.directory_id, cg.directory_id) AS child_row_directory
    FROM ranked AS r
    JOIN membership AS m ON m.rowid = r.rid
    LEFT JOIN grp_by_id AS p ON p.id = m.parent_id
    LEFT JOIN user_by_id AS cu ON cu.id = m.child_id AND m.membership_type = 'GROUP_USER'
    LEFT JOIN grp_by_id AS cg ON cg.id = m.child_id AND m.membership_type = 'GROUP_GROUP'
)
SELECT * FROM targets
WHERE nth > 1
   OR membership_type IS NULL OR membership_type NOT IN ('GROUP_USER', 'GROUP_GROUP')
   OR parent_found IS NULL OR parent_row_lower IS NOT lower_parent
   OR parent_row_directory IS NOT directory_id
   OR child_found IS NULL OR child_row_lower IS NOT lower_child
   OR child_row_directory IS NOT directory_id
ORDER BY CAST(id AS INTEGER), id
"""


def _side_problems(row: Mapping[str, Any], side: str, kind: str) -> list[str]:
    """What is wrong with one end (``parent`` or ``child``) of a membership row."""
    row_id, name = row[f"{side}_id"], row[f"{side}_name"]
    if not row[f"{side}_found"]:
        return [f"{side}Id {row_id} has no {kind} row"]
    problems = []
    if row[f"{side}_row_lower"] != row[f"lower_{side}"]:
        problems.append(f"{side}Name '{name}' but {side}Id {row_id} is '{row[f'{side}_row_name']}'")
    if row[f"{side}_row_directory"] != row["directory_id"]:
        problems.append(
            f"directoryId {row['directory_id']} but {side}Id {row_id} is in directory"
            f" {row[f'{side}_row_directory']}"
        )
    return problems


def _shown_names(row: dict[str, Any], mask: Mask) -> dict[str, Any]:
    """The row with the names a finding shows of a user child masked; the lower-case names
    the problems are found with stay as they are."""
    if row["membership_type"] != GROUP_USER:
        return row
    for column in ("child_name", "child_row_name"):
        if row.get(column):
            row[column] = mask.user(row[column])
    return row


def membership_problems(row: Mapping[str, Any]) -> list[str]:
    """Every reason one membership row (from ``_SUSPECT_MEMBERSHIPS``) breaks the import."""
    problems = []
    if row["nth"] != 1:
        problems.append(f"duplicate of id {row['first_id']}")
    kind = row["membership_type"]
    if kind not in (GROUP_USER, GROUP_GROUP):
        problems.append(f"membershipType '{kind}' is neither {GROUP_USER} nor {GROUP_GROUP}")
    problems += _side_problems(row, "parent", "Group")
    if kind in (GROUP_USER, GROUP_GROUP):
        problems += _side_problems(row, "child", "User" if kind == GROUP_USER else "Group")
    return problems


@rule(
    id="membership-integrity",
    title="Every group membership is unique and points at the group and user it names",
    why="""
        Cloud's import loads cwd_membership by id and fails when a row is duplicated on
        (parentId, childId, membershipType), or when parentId/childId point at a missing row,
        at a group or user with another name, or into another directory. Backups from Jira
        Data Center 8.22 and newer can contain such rows. (Atlassian KB "restoring Jira 8.22
        and newer backup to Cloud".)
    """,
    fix="""
        On the server (after a database backup, with Jira stopped), delete duplicated
        cwd_membership rows, delete or correct rows whose parent_id/child_id point at a
        missing or differently named cwd_group/cwd_user row, restart Jira, let it
        re-synchronise the directories, and take a new backup.
    """,
    sql="""
        -- duplicates
        SELECT parent_id, child_id, membership_type, count(*), min(id)
        FROM cwd_membership GROUP BY parent_id, child_id, membership_type
        HAVING count(*) > 1;
        -- parent missing, renamed or in another directory
        SELECT m.* FROM cwd_membership m LEFT JOIN cwd_group g ON g.id = m.parent_id
        WHERE g.id IS NULL OR g.lower_group_name <> m.lower_parent_name
           OR g.directory_id <> m.directory_id;
        -- user child missing, renamed or in another directory
        SELECT m.* FROM cwd_membership m LEFT JOIN cwd_user u ON u.id = m.child_id
        WHERE m.membership_type = 'GROUP_USER'
          AND (u.id IS NULL OR u.lower_user_name <> m.lower_child_name
               OR u.directory_id <> m.directory_id);
        -- group child missing, renamed or in another directory
        SELECT m.* FROM cwd_membership m LEFT JOIN cwd_group g ON g.id = m.child_id
        WHERE m.membership_type = 'GROUP_GROUP'
          AND (g.id IS NULL OR g.lower_group_name <> m.lower_child_name
               OR g.directory_id <> m.directory_id);
    """,
    group="groups",
)
def membership_integrity(facts: Facts, settings: RuleSettings) -> Verdict:
    findings = []
    checked = facts.scalar("SELECT count(*) FROM membership") or 0
    for row in facts.rows(_SUSPECT_MEMBERSHIPS):
        values = _shown_names(dict(row), facts.mask)
        problems = membership_problems(values)
        if problems:
            findings.append(
                Finding(
                    text=f"membership {values['id']} ({values['parent_name']} >"
                    f" {values['child_name']}): {'; '.join(problems)}",
                    fields={
                        "id": values["id"],
                        "entity": "Membership",
                        "line": values["line"],
                        "parent_id": values["parent_id"],
                        "parent_name": values["parent_name"],
                        "child_id": values["child_id"],
                        "child_name": values["child_name"],
                        "membership_type": values["membership_type"],
                        "directory_id": values["directory_id"],
                        "problems": problems,
                    },
                )
            )
    if not findings:
        return passed(
            f"All {plural(checked, 'membership')} are unique and point at the groups and"
            " users they name."
        )
    return Verdict(
        findings=findings,
        summary=(
            f"{plural(len(findings), 'membership row')} of {checked:,}"
            f" {'is duplicated or points' if len(findings) == 1 else 'are duplicated or point'}"
            " at missing or differently named groups and users, which fails Cloud's import."
        ),
        observed=len(findings),
    )


RULES: tuple[Rule, ...] = (group_admin_rename, group_merge_escalation, membership_integrity)
