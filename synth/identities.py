"""Rows of users, groups, memberships and permissions (both the 4.3+ and the OS formats)."""

from __future__ import annotations

import base64
import random

from synth.rowsource import RowSource
from synth.xmlrows import Rows, xml_row


def _uuid(rng: random.Random) -> str:
    hexa = f"{rng.getrandbits(128):032x}"
    return f"{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"


class IdentityRows(RowSource):
    """Rows of users, groups, memberships and permissions (both the 4.3+ and the OS formats)."""

    # users, groups, permissions ----------------------------------------------

    def directory_rows(self) -> Rows:
        created = self.plan.when(0, -100_000)
        for number in range(1, self.plan.directories + 1):
            internal = number == 1
            name = "JIRA Internal Directory" if internal else "Corporate LDAP"
            if number > 2:
                name = f"Corporate LDAP {number - 1}"
            yield xml_row(
                "Directory",
                (
                    ("id", number),
                    ("directoryName", name),
                    ("lowerDirectoryName", name.lower()),
                    ("createdDate", created),
                    ("updatedDate", created),
                    ("active", 1),
                    ("description", "JIRA default internal directory" if internal else None),
                    (
                        "implementationClass",
                        "com.atlassian.crowd.directory.InternalDirectory"
                        if internal
                        else "com.atlassian.crowd.directory.OpenLDAP",
                    ),
                    ("type", "INTERNAL" if internal else "CONNECTOR"),
                    ("position", number - 1),
                ),
            )

    def user_rows(self) -> Rows:
        rng = self.rng("User")
        for index, user in enumerate(self.plan.users):
            created = self.plan.when(index, -50_000)
            display = f"{user.first} {user.last}"
            credential = (
                "{PKCS5S2}" + base64.b64encode(rng.randbytes(48)).decode()
                if user.directory_id == 1
                else "nopass"
            )
            yield xml_row(
                "User",
                (
                    ("id", user.id),
                    ("directoryId", user.directory_id),
                    ("userName", user.username),
                    ("lowerUserName", user.username.lower()),
                    ("active", 1 if user.active else 0),
                    ("createdDate", created),
                    ("updatedDate", created),
                    ("firstName", user.first),
                    ("lowerFirstName", user.first.lower()),
                    ("lastName", user.last),
                    ("lowerLastName", user.last.lower()),
                    ("displayName", display),
                    ("lowerDisplayName", display.lower()),
                    ("emailAddress", user.email),
                    ("lowerEmailAddress", user.email.lower() if user.email else None),
                    ("credential", credential),
                    ("externalId", _uuid(rng)),
                ),
            )

    def application_users(self) -> Rows:
        seen: set[str] = set()
        for user in self.plan.users:
            lower = user.username.lower()
            if lower in seen:
                continue
            seen.add(lower)
            yield xml_row(
                "ApplicationUser",
                (("id", user.id), ("userKey", user.key), ("lowerUserName", lower)),
            )

    def group_rows(self) -> Rows:
        created = self.plan.when(0, -100_000)
        for group in self.plan.groups:
            yield xml_row(
                "Group",
                (
                    ("id", group.id),
                    ("groupName", group.name),
                    ("lowerGroupName", group.name.lower()),
                    ("active", 1),
                    ("local", 0),
                    ("createdDate", created),
                    ("updatedDate", created),
                    ("description", ""),
                    ("type", "GROUP"),
                    ("directoryId", group.directory_id),
                ),
            )

    def membership_rows(self) -> Rows:
        next_id = 10000
        rows: list[tuple[int, str, int, str, int]] = [
            (group.id, group.name, user.id, user.username, user.directory_id)
            for group, user in self.plan.memberships
        ]
        if self.spec.has("membership-dangling"):
            rows.append((self.plan.groups[1].id, self.plan.groups[1].name, 99999, "ghost.user", 1))
        duplicate_of = len(rows) // 2 if self.spec.has("membership-duplicate") else -1
        for index, (group_id, group_name, user_id, username, directory) in enumerate(rows):
            copies = 2 if index == duplicate_of else 1
            ids = []
            for _ in range(copies):
                ids.append(str(next_id))
                yield xml_row(
                    "Membership",
                    (
                        ("id", next_id),
                        ("parentId", group_id),
                        ("childId", user_id),
                        ("membershipType", "GROUP_USER"),
                        ("parentName", group_name),
                        ("lowerParentName", group_name.lower()),
                        ("childName", username),
                        ("lowerChildName", username.lower()),
                        ("directoryId", directory),
                    ),
                )
                next_id += 1
            if index == duplicate_of:
                self.plan.user_faults.append(
                    {
                        "fault": "membership-duplicate",
                        "ids": ids,
                        "group": group_name,
                        "user": username,
                        "parent_id": str(group_id),
                        "child_id": str(user_id),
                    }
                )
            if user_id == 99999:
                self.plan.user_faults.append(
                    {
                        "fault": "membership-dangling",
                        "id": ids[0],
                        "group": group_name,
                        "child_id": str(user_id),
                        "child_name": username,
                    }
                )

    def os_users(self) -> Rows:
        rng = self.rng("OSUser")
        for user in self.plan.users:
            hashed = base64.b64encode(rng.randbytes(64)).decode()
            yield xml_row(
                "OSUser", (("id", user.id), ("name", user.username), ("passwordHash", hashed))
            )

    def os_groups(self) -> Rows:
        for group in self.plan.groups:
            if group.directory_id == 1:
                yield xml_row("OSGroup", (("id", group.id), ("name", group.name)))

    def os_memberships(self) -> Rows:
        for index, (group, user) in enumerate(self.plan.memberships):
            yield xml_row(
                "OSMembership",
                (("id", 10000 + index), ("userName", user.username), ("groupName", group.name)),
            )

    def global_permissions(self) -> Rows:
        grants = [
            ("ADMINISTER", "jira-administrators"),
            ("SYSTEM_ADMIN", "jira-administrators"),
            ("USE", "jira-software-users"),
        ]
        if self.spec.has("admin-groups-both"):
            grants.append(("ADMINISTER", "administrators"))
        for index, (permission, group) in enumerate(grants):
            yield xml_row(
                "GlobalPermissionEntry",
                (("id", 10000 + index), ("permission", permission), ("group_id", group)),
            )

    def license_role_groups(self) -> Rows:
        for index, (group, primary) in enumerate(
            (("jira-software-users", 1), ("jira-administrators", 0))
        ):
            yield xml_row(
                "LicenseRoleGroup",
                (
                    ("id", 10000 + index),
                    ("licenseRoleName", "jira-software"),
                    ("groupId", group),
                    ("primaryGroup", primary),
                ),
            )
