"""Rows of the site's properties and configuration, and what the import drops or exposes."""

from __future__ import annotations

from collections.abc import Callable

from synth.plan import STATUSES
from synth.rowsource import RowSource
from synth.spec import (
    APP_FAULT,
    FORMER_USER,
    MISSING_GROUP,
    TOO_MANY_OPTIONS,
)
from synth.xmlrows import Rows, xml_row


class SiteRows(RowSource):
    """Rows of the site's properties and configuration, and what the import drops or exposes."""

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
