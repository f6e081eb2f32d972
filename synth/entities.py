"""entities.xml: every entity's rows in the order Jira 8 writes them, header and trailer."""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from synth.plan import SENTENCE_BITS, STATUSES, WORDS, Plan, below, pick, plan_attachments
from synth.spec import (
    APP_FAULT,
    FORMER_USER,
    LONG_SUMMARY_CHARS,
    LONG_TEXT_CHARS,
    MISSING_GROUP,
    TOO_MANY_OPTIONS,
    Manifest,
)
from synth.xmlrows import MARK, BinarySink, Cut, FaultyRow, Rows, Stream, xml_row


class _EntityWriter:
    """Generates each entity's rows from the plan; one method per entity."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.spec = plan.spec
        pool = random.Random(f"{plan.spec.seed}:sentences")
        self.sentences = [
            " ".join(pool.choice(WORDS) for _ in range(pool.randint(3, 14))).capitalize()
            for _ in range(1 << SENTENCE_BITS)
        ]

    def rng(self, entity: str) -> random.Random:
        """A stream per entity, so each pass is reproducible on its own."""
        return random.Random(f"{self.spec.seed}:{entity}")

    def text(self, rng: random.Random) -> str:
        """A sentence without final stop (a summary, a short comment)."""
        return self.sentences[rng.getrandbits(SENTENCE_BITS)]

    def paragraph(self, rng: random.Random, lines: int) -> str:
        body = "\n".join(self.sentences[rng.getrandbits(SENTENCE_BITS)] + "." for _ in range(lines))
        if rng.random() < 0.2:
            body += "\n{code}if (rows[ids[0]]>0) return;{code}"
        return body

    def entities(self) -> list[tuple[str, Callable[[], Rows]]]:
        """Entity name and row generator, in the alphabetical order Jira exports them."""
        os_format = self.spec.os_user_format
        table: dict[str, Callable[[], Rows]] = {
            "Action": self.actions,
            "Avatar": self.avatars,
            "ChangeGroup": self.change_groups,
            "ChangeItem": self.change_items,
            "CustomField": self.custom_fields,
            "CustomFieldValue": self.custom_field_values,
            "FileAttachment": self.file_attachments,
            "GlobalPermissionEntry": self.global_permissions,
            "Issue": self.issues,
            "IssueLink": self.issue_links,
            "IssueLinkType": self.issue_link_types,
            "IssueType": self.issue_types,
            "LicenseRoleGroup": self.license_role_groups,
            "MovedIssueKey": self.moved_issue_keys,
            "Notification": self.notifications,
            "OSCurrentStep": self.current_steps,
            "OSPropertyEntry": self.property_entries,
            "OSPropertyString": self.property_strings,
            "Priority": self.priorities,
            "Project": self.project_rows,
            "ProjectKey": self.project_keys,
            "Status": self.statuses,
            "UserHistoryItem": self.user_history,
            "Worklog": self.worklogs,
            **self.after_import_entities(),
        }
        if os_format:
            table |= {
                "OSGroup": self.os_groups,
                "OSMembership": self.os_memberships,
                "OSUser": self.os_users,
            }
        else:
            table |= {
                "ApplicationUser": self.application_users,
                "Directory": self.directory_rows,
                "Group": self.group_rows,
                "Membership": self.membership_rows,
                "User": self.user_rows,
            }
        return sorted(table.items())

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

    # properties ---------------------------------------------------------------

    def properties(self) -> list[tuple[int, str, int, str, str]]:
        """(id, entityName, entityId, propertyKey, value) of every string property."""
        spec = self.spec
        props: list[tuple[int, str, int, str, str]] = []
        if spec.has("baseurl-mismatch"):
            base = "http://jira-old.internal:8080/jira"
        else:
            base = spec.property_base_url or spec.base_url
        if not spec.has("baseurl-missing"):
            props.append((1, "jira.properties", 1, "jira.baseurl", base))
        props.append((2, "jira.properties", 1, "jira.title", "Acme Corp Jira"))
        props.append((3, "jira.properties", 1, "jira.mode", "private"))
        if spec.has("mail-integration"):
            props.append((5, "jira.properties", 1, "applinks.application.1a2b3c.name", "Acme Wiki"))
            props.append(
                (
                    6,
                    "jira.properties",
                    1,
                    "applinks.application.1a2b3c.rpc.url",
                    "https://wiki.acmecorp.com",
                )
            )
        if spec.os_user_format:
            for index, user in enumerate(self.plan.users):
                prop_id = 20000 + 2 * index
                props.append((prop_id, "OSUser", user.id, "fullName", f"{user.first} {user.last}"))
                if user.email is not None:
                    props.append((prop_id + 1, "OSUser", user.id, "email", user.email))
        return props

    def property_entries(self) -> Rows:
        typed = [(prop, 5) for prop in self.properties()]
        typed += [(prop, 1) for prop in self.number_properties()]
        for (prop_id, entity, entity_id, key, _), kind in sorted(typed):
            yield xml_row(
                "OSPropertyEntry",
                (
                    ("id", prop_id),
                    ("entityName", entity),
                    ("entityId", entity_id),
                    ("propertyKey", key),
                    ("type", kind),
                ),
            )

    def property_strings(self) -> Rows:
        for prop_id, _, _, _, value in self.properties():
            yield xml_row("OSPropertyString", (("id", prop_id), ("value", value)))

    # what the import drops, breaks or makes public ------------------------------

    def after_import_entities(self) -> dict[str, Callable[[], Rows]]:
        """Entities of the after-import rules; most are written only by their fault."""
        return {
            "Component": self.components,
            "CustomFieldOption": self.custom_field_options,
            "IssueSecurityScheme": self.security_schemes,
            "MailServer": self.mail_servers,
            "NodeAssociation": self.scheme_associations,
            "OSPropertyNumber": self.property_numbers,
            "PermissionScheme": self.permission_schemes,
            "PluginVersion": self.plugin_versions,
            "ProjectRole": self.project_roles,
            "ProjectRoleActor": self.project_role_actors,
            "SchemeIssueSecurityLevels": self.security_levels,
            "SchemePermissions": self.scheme_permissions,
            "SearchRequest": self.search_requests,
            "ServiceConfig": self.service_configs,
            "SharePermissions": self.share_permissions,
        }

    def search_requests(self) -> Rows:
        """The saved filter of each board, and the filters of the public/former faults."""
        for index, project in enumerate(self.plan.projects):
            yield xml_row(
                "SearchRequest",
                (
                    ("id", 10000 + index),
                    ("name", f"Filter for {project.key} board"),
                    ("author", project.lead),
                    ("user", project.lead),
                    ("request", f"project = {project.key} ORDER BY Rank ASC"),
                ),
            )
        if self.spec.has("public-project"):
            yield xml_row(
                "SearchRequest",
                (
                    ("id", 10900),
                    ("name", "All open issues"),
                    ("author", "admin"),
                    ("user", "admin"),
                    ("request", "resolution = EMPTY"),
                ),
            )
        if self.spec.has("former-user"):
            yield xml_row(
                "SearchRequest",
                (
                    ("id", 10901),
                    ("name", "My old filter"),
                    ("author", FORMER_USER),
                    ("user", FORMER_USER),
                    ("request", "assignee = currentUser()"),
                ),
            )

    def share_permissions(self) -> Rows:
        if self.spec.has("public-project"):
            yield xml_row(
                "SharePermissions",
                (
                    ("id", 10000),
                    ("entityId", 10900),
                    ("entityType", "SearchRequest"),
                    ("type", "global"),
                ),
            )

    def permission_schemes(self) -> Rows:
        if self.spec.has("public-project") or self.spec.has("free-plan-features"):
            yield xml_row("PermissionScheme", (("id", 0), ("name", "Default Permission Scheme")))
        if self.spec.has("free-plan-features"):
            yield xml_row("PermissionScheme", (("id", 10100), ("name", "Restricted Scheme")))

    def scheme_permissions(self) -> Rows:
        if self.spec.has("public-project"):
            yield xml_row(
                "SchemePermissions",
                (
                    ("id", 10000),
                    ("scheme", 0),
                    ("permission", 10),
                    ("permissionKey", "BROWSE_PROJECTS"),
                    ("type", "group"),
                ),
            )

    def scheme_associations(self) -> Rows:
        if self.spec.has("public-project"):
            yield xml_row(
                "NodeAssociation",
                (
                    ("sourceNodeId", self.plan.projects[0].id),
                    ("sourceNodeEntity", "Project"),
                    ("sinkNodeId", 0),
                    ("sinkNodeEntity", "PermissionScheme"),
                    ("associationType", "ProjectScheme"),
                ),
            )

    def components(self) -> Rows:
        if self.spec.has("former-user"):
            yield xml_row(
                "Component",
                (
                    ("id", 10000),
                    ("project", self.plan.projects[0].id),
                    ("name", "Legacy"),
                    ("lead", FORMER_USER),
                    ("assigneetype", 0),
                ),
            )

    def project_roles(self) -> Rows:
        if self.spec.has("missing-group") or self.spec.has("free-plan-features"):
            for role_id, name in (
                (10000, "Users"),
                (10001, "Developers"),
                (10002, "Administrators"),
            ):
                yield xml_row("ProjectRole", (("id", role_id), ("name", name)))
        if self.spec.has("free-plan-features"):
            yield xml_row("ProjectRole", (("id", 10100), ("name", "Auditors")))

    def project_role_actors(self) -> Rows:
        if self.spec.has("missing-group"):
            yield xml_row(
                "ProjectRoleActor",
                (
                    ("id", 10000),
                    ("pid", self.plan.projects[0].id),
                    ("projectroleid", 10001),
                    ("roletype", "atlassian-group-role-actor"),
                    ("roletypeparameter", MISSING_GROUP),
                ),
            )

    def custom_field_options(self) -> Rows:
        if self.spec.has("too-many-options"):
            for number in range(TOO_MANY_OPTIONS):
                yield xml_row(
                    "CustomFieldOption",
                    (
                        ("id", 10000 + number),
                        ("customfield", 10001),
                        ("customfieldconfig", 10101),
                        ("sequence", number),
                        ("value", f"Team {number + 1}"),
                        ("disabled", "N"),
                    ),
                )

    def plugin_versions(self) -> Rows:
        yield xml_row(
            "PluginVersion",
            (
                ("id", 10000),
                ("name", "Jira Agile"),
                ("key", "com.pyxis.greenhopper.jira"),
                ("version", "8.20.10"),
            ),
        )
        if self.spec.has("app-data"):
            key, name, version, _ = APP_FAULT
            yield xml_row(
                "PluginVersion", (("id", 10001), ("name", name), ("key", key), ("version", version))
            )

    def mail_servers(self) -> Rows:
        if self.spec.has("mail-integration"):
            yield xml_row(
                "MailServer",
                (
                    ("id", 10000),
                    ("name", "Support mailbox"),
                    ("type", "pop"),
                    ("servername", "mail.acmecorp.com"),
                    ("username", "support"),
                ),
            )

    def service_configs(self) -> Rows:
        if self.spec.has("mail-integration"):
            yield xml_row(
                "ServiceConfig",
                (
                    ("id", 10000),
                    ("time", 60000),
                    ("clazz", "com.atlassian.jira.service.services.mail.MailFetcherService"),
                    ("name", "Support mail handler"),
                ),
            )

    def security_schemes(self) -> Rows:
        if self.spec.has("free-plan-features"):
            yield xml_row("IssueSecurityScheme", (("id", 10000), ("name", "Confidential")))

    def security_levels(self) -> Rows:
        if self.spec.has("free-plan-features"):
            yield xml_row(
                "SchemeIssueSecurityLevels",
                (("id", 10000), ("name", "Staff only"), ("scheme", 10000)),
            )

    def number_properties(self) -> list[tuple[int, str, int, str, str]]:
        """Number properties (Jira's booleans): outgoing mail is off, as the guide advises."""
        return [(4, "jira.properties", 1, "jira.mail.send.disabled", "1")]

    def property_numbers(self) -> Rows:
        for prop_id, _, _, _, value in self.number_properties():
            yield xml_row("OSPropertyNumber", (("id", prop_id), ("value", value)))

    # configuration -------------------------------------------------------------

    def avatars(self) -> Rows:
        for index in range(len(self.plan.projects)):
            yield xml_row(
                "Avatar",
                (
                    ("id", 10100 + index),
                    ("fileName", f"project_{index}.png"),
                    ("contentType", "image/png"),
                    ("avatarType", "project"),
                    ("owner", 10000 + index),
                    ("systemAvatar", 0),
                ),
            )

    def custom_fields(self) -> Rows:
        fields = (
            (10000, "textarea", "textsearcher", "Customer Notes"),
            (10001, "select", "multiselectsearcher", "Team"),
            (10002, "float", "exactnumber", "Story Points"),
        )
        if self.spec.has("app-data"):
            yield xml_row(
                "CustomField",
                (
                    ("id", 10003),
                    ("customfieldtypekey", f"{APP_FAULT[0]}:hours"),
                    ("customfieldsearcherkey", f"{APP_FAULT[0]}:hourssearcher"),
                    ("name", APP_FAULT[3]),
                ),
            )
        for field_id, kind, searcher, name in fields:
            yield xml_row(
                "CustomField",
                (
                    ("id", field_id),
                    (
                        "customfieldtypekey",
                        f"com.atlassian.jira.plugin.system.customfieldtypes:{kind}",
                    ),
                    (
                        "customfieldsearcherkey",
                        f"com.atlassian.jira.plugin.system.customfieldtypes:{searcher}",
                    ),
                    ("name", name),
                ),
            )

    def issue_link_types(self) -> Rows:
        for index, (name, outward, inward) in enumerate(
            (
                ("Blocks", "blocks", "is blocked by"),
                ("Cloners", "clones", "is cloned by"),
                ("Duplicate", "duplicates", "is duplicated by"),
                ("Relates", "relates to", "relates to"),
            )
        ):
            yield xml_row(
                "IssueLinkType",
                (
                    ("id", 10000 + index),
                    ("linkname", name),
                    ("inward", inward),
                    ("outward", outward),
                ),
            )

    def issue_types(self) -> Rows:
        for type_id, name in (("1", "Bug"), ("2", "New Feature"), ("3", "Task")):
            yield xml_row("IssueType", (("id", type_id), ("sequence", type_id), ("name", name)))

    def priorities(self) -> Rows:
        for number, name in enumerate(("Highest", "High", "Medium", "Low", "Lowest"), 1):
            yield xml_row("Priority", (("id", number), ("sequence", number), ("name", name)))

    def statuses(self) -> Rows:
        for status_id, name in STATUSES:
            yield xml_row("Status", (("id", status_id), ("sequence", status_id), ("name", name)))

    def notifications(self) -> Rows:
        for index, event in enumerate((1, 2, 3, 6)):
            yield xml_row(
                "Notification",
                (
                    ("id", 10000 + index),
                    ("scheme", 10000),
                    ("eventTypeId", event),
                    ("type", "Current_Assignee"),
                ),
            )

    def user_history(self) -> Rows:
        rng = self.rng("UserHistoryItem")
        for index in range(min(self.spec.issues, 10)):
            yield xml_row(
                "UserHistoryItem",
                (
                    ("id", 10000 + index),
                    ("type", "Issue"),
                    ("username", self.plan.actor(rng)),
                    ("lastViewed", 1_600_000_000_000 + index * 60_000),
                    ("entityId", 10000 + index),
                ),
            )

    # projects -------------------------------------------------------------------

    def project_rows(self) -> Rows:
        for index, project in enumerate(self.plan.projects):
            yield xml_row(
                "Project",
                (
                    ("id", project.id),
                    ("name", project.name),
                    ("url", ""),
                    ("lead", project.lead),
                    ("description", f"Work of the {project.name} team."),
                    ("key", project.key),
                    ("pcounter", project.counter),
                    ("assigneetype", 3),
                    ("avatar", 10100 + index),
                    ("originalkey", project.original_key),
                    ("projecttype", "software"),
                ),
            )

    def project_keys(self) -> Rows:
        next_id = 10000
        for project in self.plan.projects:
            keys = [project.key]
            if project.original_key != project.key:
                keys.insert(0, project.original_key)
            for key in keys:
                yield xml_row(
                    "ProjectKey",
                    (("id", next_id), ("projectId", project.id), ("projectKey", key)),
                )
                next_id += 1

    def moved_issue_keys(self) -> Rows:
        projects = self.plan.projects
        if len(projects) > 1 and projects[1].issue_count:
            moved = projects[1].first_issue
            old_key = f"{projects[0].key}-{projects[0].counter}"
            yield xml_row(
                "MovedIssueKey",
                (("id", 10000), ("oldIssueKey", old_key), ("issueId", 10000 + moved)),
            )

    # issues and their children ----------------------------------------------------

    def issues(self) -> Rows:
        plan, spec, rng = self.plan, self.spec, self.rng("Issue")
        targets = plan.targets
        for index in range(spec.issues):
            issue_id = 10000 + index
            key = plan.issue_key(index)
            summary = self.text(rng)
            description: str | None = (
                self.paragraph(rng, 1 + below(rng, 4)) if rng.random() < 0.8 else None
            )
            split_lines = rng.random() < 0.25
            status_id = pick(rng, STATUSES)[0]
            fault: tuple[str, str, str] | None = None  # name, field, payload
            if targets.get("control-char") == index:
                summary, fault = f"Crash on {MARK}import", ("control-char", "summary", "\x01")
            elif targets.get("char-ref") == index:
                summary, fault = f"Pasted {MARK}from mail", ("char-ref", "summary", "&#1;")
            elif targets.get("invalid-utf8") == index:
                description = f"Caf{MARK} menu is broken\nsince the upgrade"
                fault = ("invalid-utf8", "description", "\udcc3")
            if targets.get("long-summary") == index:
                summary = ("Long summary " * 30)[:LONG_SUMMARY_CHARS]
                self.long_text("long-summary", "Issue", issue_id, key, "summary", summary)
            if targets.get("long-description") == index:
                description = _long_text(rng, LONG_TEXT_CHARS)
                self.long_text(
                    "long-description", "Issue", issue_id, key, "description", description
                )
            fields = (
                ("id", issue_id),
                ("key", key),
                ("number", plan.issue_number[index]),
                ("project", plan.projects[plan.issue_project[index]].id),
                ("reporter", plan.actor(rng)),
                ("assignee", plan.actor(rng)),
                ("creator", plan.actor(rng)),
                ("type", pick(rng, "123")),
                ("summary", summary),
                ("priority", 1 + below(rng, 5)),
                ("resolution", 1 if status_id in ("5", "6") else None),
                ("status", status_id),
                ("created", plan.when(index)),
                ("updated", plan.when(index, 600)),
                ("workflowId", issue_id),
                ("description", description),
            )
            text = xml_row("Issue", fields, split_lines)
            if fault is None:
                yield text
            else:
                name, field_name, payload = fault
                record = {
                    "fault": name,
                    "entity": "Issue",
                    "id": str(issue_id),
                    "issue_key": key,
                    "field": field_name,
                    **_payload_facts(payload),
                }
                yield FaultyRow(text, payload, record)

    def long_text(
        self, fault: str, entity: str, row_id: int, key: str, name: str, text: str
    ) -> None:
        self.plan.user_faults.append(
            {
                "fault": fault,
                "entity": entity,
                "id": str(row_id),
                "issue_key": key,
                "field": name,
                "length": len(text),
            }
        )

    def actions(self) -> Rows:
        plan, rng = self.plan, self.rng("Action")
        next_id = 10000
        fffe_at = plan.targets.get("fffe")
        long_at = plan.targets.get("long-comment")
        for index in range(self.spec.issues):
            for number in range(plan.comments[index]):
                body = (
                    self.paragraph(rng, 2 + below(rng, 2)) if rng.random() < 0.4 else self.text(rng)
                )
                first = number == 0
                if first and index == long_at:
                    body = _long_text(rng, LONG_TEXT_CHARS)
                    self.long_text(
                        "long-comment", "Action", next_id, plan.issue_key(index), "body", body
                    )
                if first and index == fffe_at:
                    body = f"Copied from Word{MARK} here"
                text = xml_row(
                    "Action",
                    (
                        ("id", next_id),
                        ("issue", 10000 + index),
                        ("author", plan.actor(rng)),
                        ("type", "comment"),
                        ("body", body),
                        ("created", plan.when(index, 60 + number)),
                    ),
                )
                if first and index == fffe_at:
                    record = {
                        "fault": "fffe",
                        "entity": "Action",
                        "id": str(next_id),
                        "issue_key": plan.issue_key(index),
                        "field": "body",
                        **_payload_facts("\ufffe"),
                    }
                    yield FaultyRow(text, "\ufffe", record)
                else:
                    yield text
                next_id += 1

    def worklogs(self) -> Rows:
        plan, rng = self.plan, self.rng("Worklog")
        next_id = 10000
        long_at = plan.targets.get("long-worklog")
        cut_at = plan.targets.get("truncated")
        for index in range(self.spec.issues):
            for number in range(plan.worklogs[index]):
                body = self.text(rng)
                if number == 0 and index == long_at:
                    body = _long_text(rng, LONG_TEXT_CHARS)
                    self.long_text(
                        "long-worklog", "Worklog", next_id, plan.issue_key(index), "body", body
                    )
                started = plan.when(index, 120 + number)
                text = xml_row(
                    "Worklog",
                    (
                        ("id", next_id),
                        ("issue", 10000 + index),
                        ("author", plan.actor(rng)),
                        ("body", body),
                        ("created", started),
                        ("startdate", started),
                        ("timeworked", 900 * (1 + below(rng, 32))),
                    ),
                )
                if number == 0 and index == cut_at:
                    # the last entity in the file, so a cut backup still holds every other fault
                    record = {"fault": "truncated", "entity": "Worklog", "id": str(next_id)}
                    yield Cut(text[: len(text) // 2], record)
                    return
                yield text
                next_id += 1

    def change_groups(self) -> Rows:
        plan, rng = self.plan, self.rng("ChangeGroup")
        next_id = 10000
        for index in range(self.spec.issues):
            for number in range(plan.change_groups[index]):
                yield xml_row(
                    "ChangeGroup",
                    (
                        ("id", next_id),
                        ("issue", 10000 + index),
                        ("author", plan.actor(rng)),
                        ("created", plan.when(index, 180 + number)),
                    ),
                )
                next_id += 1

    def change_items(self) -> Rows:
        plan, rng = self.plan, self.rng("ChangeItem")
        group_id, item_id = 10000, 10000
        target = plan.targets.get("control-char-changeitem")
        for index in range(self.spec.issues):
            for number in range(plan.change_groups[index]):
                old_index = below(rng, len(STATUSES))
                old = STATUSES[old_index]
                new = STATUSES[(old_index + 1 + below(rng, len(STATUSES) - 1)) % len(STATUSES)]
                yield xml_row(
                    "ChangeItem",
                    (
                        ("id", item_id),
                        ("group", group_id),
                        ("fieldtype", "jira"),
                        ("field", "status"),
                        ("oldvalue", old[0]),
                        ("oldstring", old[1]),
                        ("newvalue", new[0]),
                        ("newstring", new[1]),
                    ),
                )
                item_id += 1
                before, after = plan.actor(rng), plan.actor(rng)
                faulty = number == 0 and index == target
                text = xml_row(
                    "ChangeItem",
                    (
                        ("id", item_id),
                        ("group", group_id),
                        ("fieldtype", "jira"),
                        ("field", "assignee"),
                        ("oldvalue", before),
                        ("oldstring", before),
                        ("newvalue", after),
                        ("newstring", f"{MARK}[0m{after}" if faulty else after),
                    ),
                )
                if faulty:
                    record = {
                        "fault": "control-char-changeitem",
                        "entity": "ChangeItem",
                        "id": str(item_id),
                        "issue_key": plan.issue_key(index),
                        "field": "newstring",
                        **_payload_facts("\x1b"),
                    }
                    yield FaultyRow(text, "\x1b", record)
                else:
                    yield text
                item_id += 1
                group_id += 1

    def custom_field_values(self) -> Rows:
        plan, rng = self.plan, self.rng("CustomFieldValue")
        next_id = 10000
        long_at = plan.targets.get("long-custom-text")
        for index in range(self.spec.issues):
            for number in range(plan.custom_texts[index]):
                text = self.paragraph(rng, 2 + below(rng, 3))
                if number == 0 and index == long_at:
                    text = _long_text(rng, LONG_TEXT_CHARS)
                    self.long_text(
                        "long-custom-text",
                        "CustomFieldValue",
                        next_id,
                        plan.issue_key(index),
                        "textvalue",
                        text,
                    )
                yield xml_row(
                    "CustomFieldValue",
                    (
                        ("id", next_id),
                        ("issue", 10000 + index),
                        ("customfield", 10000),
                        ("textvalue", text),
                    ),
                    split_lines=rng.random() < 0.25,
                )
                next_id += 1

    def file_attachments(self) -> Rows:
        plan, rng = self.plan, self.rng("FileAttachment")
        for attachment in plan_attachments(plan):
            index = attachment.issue_id - 10000
            yield xml_row(
                "FileAttachment",
                (
                    ("id", attachment.id),
                    ("issue", attachment.issue_id),
                    ("mimetype", attachment.mimetype),
                    ("filename", attachment.filename),
                    ("created", plan.when(index, 30)),
                    ("filesize", attachment.filesize),
                    ("author", plan.actor(rng)),
                    ("zip", 0),
                    ("thumbnailable", 1 if attachment.thumbnailable else 0),
                ),
            )

    def issue_links(self) -> Rows:
        plan, rng = self.plan, self.rng("IssueLink")
        next_id = 10000
        total = self.spec.issues
        for index in range(total):
            for sequence in range(plan.links[index]):
                yield xml_row(
                    "IssueLink",
                    (
                        ("id", next_id),
                        ("linktype", 10000 + below(rng, 4)),
                        ("source", 10000 + index),
                        ("destination", 10000 + below(rng, total)),
                        ("sequence", sequence),
                    ),
                )
                next_id += 1

    def current_steps(self) -> Rows:
        plan = self.plan
        for index in range(self.spec.issues):
            yield xml_row(
                "OSCurrentStep",
                (
                    ("id", 10000 + index),
                    ("entryId", 10000 + index),
                    ("stepId", 1),
                    ("actionId", 0),
                    ("startDate", plan.when(index)),
                    ("status", "Open"),
                ),
            )


def _uuid(rng: random.Random) -> str:
    hexa = f"{rng.getrandbits(128):032x}"
    return f"{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"


def _long_text(rng: random.Random, chars: int) -> str:
    """Multi-line prose of exactly ``chars`` characters (a pasted log, a spec)."""
    line = " ".join(rng.choice(WORDS) for _ in range(12)) + "\n"
    return (line * (chars // len(line) + 1))[:chars]


def _payload_facts(payload: str) -> dict[str, Any]:
    if payload == "\udcc3":
        return {"byte": 0xC3}
    if payload.startswith("&#"):
        return {"codepoint": int(payload[2:-1]), "text": payload}
    return {"codepoint": ord(payload)}


def _label(name: str, value: object) -> str:
    """A header or trailer line: values aligned at column 52 as Jira does."""
    return f"     {name:<45} : {value}\n"


def _header(plan: Plan) -> str:
    spec = plan.spec
    exported = plan.export_time
    sha = hashlib.sha1(f"{plan.version}#{plan.build}".encode()).hexdigest()
    moment = (
        f"{exported:%A}, {exported.day} {exported:%B %Y} "
        f"{exported.hour % 12 or 12}:{exported:%M:%S} {exported:%p} UTC"
    )
    return "".join(
        [
            f'<?xml version="1.0" encoding="{spec.encoding}"?>\n',
            "<!-- \n\n\n___ Exported on _____________________________\n\n",
            _label("on", moment),
            _label("by", "admin ( admin )"),
            "\n___ Environment ____________________________\n\n",
            _label("JIRA Build", f"{plan.version}#{plan.build}-sha1:{sha}"),
            _label("Build Date", f"{exported - timedelta(days=120):%a %b %d 00:00:00 UTC %Y}"),
            _label("JIRA Installation Type", "Standalone"),
            _label("Java Version", "11.0.16 - Eclipse Adoptium"),
            "\n___ Jira Info ______________________________\n\n",
            _label("Version", plan.version),
            _label("Build #", plan.build),
            _label("Base URL", spec.base_url),
            _label("Default Language", "English (United States)"),
            _label("Database Type", "postgres72"),
            "\n\n -->\n",
            f'<entity-engine-xml date="{int(exported.timestamp() * 1000)}">\n',
        ]
    )


def _trailer(counts: dict[str, int]) -> str:
    lines = ["<!-- \n\n\n___ Entities ________________________________\n\n"]
    lines.append(_label("Total", sum(counts.values())))
    lines.append("\n")
    lines.extend(_label(name, counts[name]) for name in sorted(counts))
    lines.append("\n -->\n</entity-engine-xml>")
    return "".join(lines)


def write_entities(plan: Plan, raw: BinarySink, manifest: Manifest) -> None:
    stream = Stream(raw, plan.spec.encoding)
    stream.write(_header(plan))
    counts: dict[str, int] = {}
    for entity, rows in _EntityWriter(plan).entities():
        written = 0
        for row in rows():
            if isinstance(row, str):
                stream.write(row)
                written += 1
            elif isinstance(row, FaultyRow):
                manifest.faults.append(stream.write_faulty(row))
                written += 1
            else:
                stream.write(row.text)
                stream.flush()
                manifest.faults.append({**row.record, "offset": stream.bytes})
                if written:
                    counts[entity] = written
                manifest.counts = counts
                stream.flush()
                return
        if written:
            counts[entity] = written
    manifest.counts = dict(counts)
    declared = dict(counts)
    if plan.spec.has("trailer-mismatch"):
        declared["Issue"] = declared.get("Issue", 0) + 1
        manifest.faults.append(
            {
                "fault": "trailer-mismatch",
                "entity": "Issue",
                "declared": declared["Issue"],
                "written": counts.get("Issue", 0),
            }
        )
    stream.write(_trailer(declared))
    stream.flush()
