"""entities.xml: every entity's rows in the order Jira 8 writes them, header and trailer."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

from synth.identities import IdentityRows
from synth.issues import IssueRows
from synth.plan import Plan
from synth.site import SiteRows
from synth.spec import (
    Manifest,
)
from synth.xmlrows import BinarySink, FaultyRow, Rows, Stream


class EntityWriter(IdentityRows, SiteRows, IssueRows):
    """Generates each entity's rows from the plan; one method per entity (the row
    generators live in :mod:`synth.identities`, :mod:`synth.site` and :mod:`synth.issues`)."""

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
    for entity, rows in EntityWriter(plan).entities():
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
