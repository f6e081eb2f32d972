"""Synthetic Jira site backups with known faults, for tests, examples and benchmarks.

Real customer backups cannot be shipped and the public ones are all older than
Jira 7, so every rule is tested against backups built here.  The output imitates
what Jira 8.x writes (header comment, one row per line indented four spaces,
CDATA children for multi-line fields, the ``___ Entities ___`` trailer), and a
:class:`Manifest` says exactly where each injected fault sits, so a test can
assert a finding down to the line and column instead of "something failed".

Everything is derived from ``SynthSpec.seed``: the same spec gives the same bytes
(dates included), and ``entities.xml`` is streamed into the zip in large blocks,
so a multi-gigabyte backup is written in flat memory.
"""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path
from typing import Any

from synth.activeobjects import activeobjects_xml, ao_prefix, app_fault_table
from synth.entities import write_entities
from synth.plan import Plan
from synth.spec import (
    APP_FAULT,
    FORMER_USER,
    MISSING_FILTER,
    MISSING_GROUP,
    TOO_MANY_OPTIONS,
    Manifest,
    SynthSpec,
)
from synth.xmlrows import ZIP64_THRESHOLD, BackgroundWriter


def _zip_info(name: str, plan: Plan) -> zipfile.ZipInfo:
    """A member with a date from the seed, so the zip's bytes are reproducible."""
    moment = plan.export_time
    info = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _expected_size(spec: SynthSpec) -> int:
    """A generous guess of entities.xml's size, to decide on zip64 before writing."""
    per_issue = 1500 * (
        1
        + spec.comments_per_issue
        + spec.worklogs_per_issue
        + spec.change_groups_per_issue
        + spec.custom_text_per_issue
        + spec.attachments_per_issue
    )
    return int(spec.issues * per_issue + spec.users * 2000)


def write_backup(path: Path, spec: SynthSpec) -> Manifest:
    """Write a site backup zip for ``spec`` at ``path`` and say what is in it."""
    path = Path(path)
    plan = Plan(spec)
    folder = "backup/" if spec.has("nested-folder") else ""
    with_ao = not spec.has("missing-activeobjects")
    manifest = Manifest(
        spec=spec,
        zip_path=str(path),
        entities_member=f"{folder}entities.xml",
        activeobjects_member=f"{folder}activeobjects.xml" if with_ao else None,
        jira_version=plan.version,
        build_number=plan.build,
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        info = _zip_info(manifest.entities_member, plan)
        large = _expected_size(spec) > ZIP64_THRESHOLD
        with archive.open(info, "w", force_zip64=large) as member:
            background = BackgroundWriter(member)
            try:
                write_entities(plan, background, manifest)
            finally:
                background.close()
        if manifest.activeobjects_member is not None:
            info = _zip_info(manifest.activeobjects_member, plan)
            archive.writestr(info, activeobjects_xml(plan).encode("utf-8"))
    manifest.users = [user.record() for user in plan.users]
    manifest.faults.extend(plan.user_faults)
    manifest.faults.extend(_structure_faults(spec, manifest, plan))
    return manifest


def _structure_faults(spec: SynthSpec, manifest: Manifest, plan: Plan) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    if spec.has("old-version"):
        records.append({"fault": "old-version", "version": plan.version, "build": plan.build})
    if spec.has("nested-folder"):
        records.append({"fault": "nested-folder", "member": manifest.entities_member})
    if spec.has("missing-activeobjects"):
        records.append({"fault": "missing-activeobjects"})
    if spec.has("admin-groups-both"):
        records.append(
            {
                "fault": "admin-groups-both",
                "groups": ["administrators", "jira-administrators"],
                "members": {
                    "administrators": [plan.users[1].username],
                    "jira-administrators": sorted(
                        user.username
                        for group, user in plan.memberships
                        if group.name == "jira-administrators"
                    ),
                },
            }
        )
    if spec.has("baseurl-mismatch"):
        records.append(
            {
                "fault": "baseurl-mismatch",
                "header": spec.base_url,
                "property": "http://jira-old.internal:8080/jira",
            }
        )
    if spec.has("baseurl-missing"):
        records.append({"fault": "baseurl-missing", "header": spec.base_url})
    return records + _after_import_faults(spec, plan)


def _after_import_faults(spec: SynthSpec, plan: Plan) -> list[dict[str, Any]]:
    """What each after-import fault wrote, as its rule's finding names it."""
    first = plan.projects[0]
    records: dict[str, dict[str, Any]] = {
        "app-data": {
            "plugin_key": APP_FAULT[0],
            "app": APP_FAULT[1],
            "version": APP_FAULT[2],
            "prefix": ao_prefix(APP_FAULT[0]),
            "table": app_fault_table()[0],
            "rows": 2,
            "custom_field": APP_FAULT[3],
            "custom_field_id": "10003",
        },
        "public-project": {
            "scheme": "Default Permission Scheme",
            "permission": "BROWSE_PROJECTS",
            "projects": [first.key],
            "filter": "All open issues",
            "owner": "admin",
        },
        "former-user": {
            "user": FORMER_USER,
            "references": {"component lead": 1, "filter owner": 1},
        },
        "missing-group": {"group": MISSING_GROUP, "project": first.key, "role": "Developers"},
        "board-missing-filter": {"board": f"{first.key} board", "id": 1, "filter": MISSING_FILTER},
        "too-many-options": {"custom_field": "Team", "id": "10001", "options": TOO_MANY_OPTIONS},
        "mail-integration": {
            "application_link": "Acme Wiki",
            "url": "https://wiki.acmecorp.com",
            "mail_server": "Support mailbox",
            "host": "mail.acmecorp.com",
            "mail_handler": "Support mail handler",
        },
        "free-plan-features": {
            "security_scheme": "Confidential",
            "project_role": "Auditors",
            "permission_scheme": "Restricted Scheme",
        },
    }
    if spec.has("importer-in-backup"):
        # nothing is written: the test names this user's address as target.importer_email
        admin = next(user for user in plan.users if user.username == "admin")
        records["importer-in-backup"] = {"user": admin.username, "email": admin.email}
    return [{"fault": name, **record} for name, record in records.items() if spec.has(name)]


class _CountingSink(io.RawIOBase):
    """A write-only stream that only counts, to measure output without keeping it."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.size += len(data)
        return len(data)


def entities_size(spec: SynthSpec) -> int:
    """Bytes of entities.xml for ``spec``, by generating it into a counter."""
    plan = Plan(spec)
    sink = _CountingSink()
    manifest = Manifest(spec, "", "entities.xml", None, plan.version, plan.build)
    write_entities(plan, sink, manifest)
    return sink.size


def scale_to_megabytes(spec: SynthSpec, megabytes: float) -> SynthSpec:
    """``spec`` with its issue count set so that entities.xml is about ``megabytes`` MB.

    Two small trial runs give the fixed and the per-issue size; the rest is linear.
    """
    small, large = 50, 250
    fixed_plus_small = entities_size(dataclasses.replace(spec, issues=small))
    per_issue = (entities_size(dataclasses.replace(spec, issues=large)) - fixed_plus_small) / (
        large - small
    )
    fixed = fixed_plus_small - per_issue * small
    issues = max(1, round((megabytes * 1_000_000 - fixed) / per_issue))
    return dataclasses.replace(spec, issues=issues)
