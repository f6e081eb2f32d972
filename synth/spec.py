"""What to synthesize (:class:`SynthSpec`) and where each fault sits (:class:`Manifest`)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: faults injected into the backup zip by :func:`write_backup`
BACKUP_FAULTS: tuple[str, ...] = (
    "control-char",
    "control-char-changeitem",
    "fffe",
    "invalid-utf8",
    "char-ref",
    "email-no-tld",
    "email-special-use",
    "email-example",
    "email-bad-syntax",
    "email-missing",
    "email-duplicate",
    "same-user-two-directories",
    "addon-username",
    "duplicate-user-in-directory",
    "old-version",
    "trailer-mismatch",
    "truncated",
    "nested-folder",
    "missing-activeobjects",
    "admin-groups-both",
    "membership-duplicate",
    "membership-dangling",
    "long-summary",
    "long-description",
    "long-comment",
    "long-custom-text",
    "long-worklog",
    "baseurl-mismatch",
    "baseurl-missing",
    # what the import silently drops, breaks or makes public (rules/after_import.py)
    "app-data",
    "public-project",
    "former-user",
    "missing-group",
    "board-missing-filter",
    "too-many-options",
    "mail-integration",
    "importer-in-backup",
    "free-plan-features",
)
#: the third-party app of the ``app-data`` fault: plugin key, name, version, custom field
APP_FAULT = ("com.acme.jira.timesheets", "Acme Timesheets", "4.2.1", "Billable Hours")
#: options written by ``too-many-options``: one more than Cloud's limit per field
TOO_MANY_OPTIONS = 10_001
#: a user whom ``former-user`` names and the backup does not have
FORMER_USER = "departed.user"
#: a group whom ``missing-group`` names and the backup does not have
MISSING_GROUP = "contractors-emea"
#: the filter id a board points at under ``board-missing-filter``
MISSING_FILTER = 99999
#: faults injected into the media tree by :func:`write_media`
MEDIA_FAULTS: tuple[str, ...] = (
    "missing-attachment-file",
    "orphan-file",
    "size-mismatch",
    "wrapping-folder",
    "stray-file",
)
#: length of the text written by the ``long-*`` faults other than ``long-summary``
LONG_TEXT_CHARS = 40_000
LONG_SUMMARY_CHARS = 300
OLD_VERSION = ("6.4.14", 64029)


@dataclass
class SynthSpec:
    """What to generate; counts ending in ``per_issue_count`` are means and may be floats."""

    seed: int = 0
    jira_version: str = "8.20.10"
    build_number: int = 820010
    base_url: str = "https://jira.acmecorp.com"
    #: value of the ``jira.baseurl`` property; None means the same as ``base_url``
    property_base_url: str | None = None
    email_domain: str = "acmecorp.com"
    encoding: str = "UTF-8"
    users: int = 20
    inactive_users: int = 2
    directories: int = 1
    groups: int = 3
    projects: int = 3
    issues: int = 60
    comments_per_issue: float = 2
    worklogs_per_issue: float = 1
    change_groups_per_issue: float = 2
    custom_text_per_issue: float = 1
    attachments_per_issue: float = 1
    links_per_issue: float = 0.5
    faults: Sequence[str] = ()
    os_user_format: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.faults) - set(BACKUP_FAULTS))
        if unknown:
            raise ValueError(f"unknown backup faults {unknown}; known: {', '.join(BACKUP_FAULTS)}")
        self.faults = tuple(self.faults)
        if self.users < 5:
            raise ValueError("users must be at least 5 (the e-mail faults need distinct users)")
        if self.projects < 1:
            raise ValueError("projects must be at least 1")

    def has(self, fault: str) -> bool:
        return fault in self.faults


@dataclass
class Manifest:
    """What :func:`write_backup` wrote: the ground truth tests assert findings against."""

    spec: SynthSpec
    zip_path: str
    entities_member: str
    activeobjects_member: str | None
    jira_version: str
    build_number: int
    #: rows actually written per entity (the trailer may disagree: ``trailer-mismatch``)
    counts: dict[str, int] = field(default_factory=dict)
    users: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    media_faults: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    def write(self, path: Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    def fault(self, name: str) -> dict[str, Any]:
        """The one record of fault ``name`` (backup or media); KeyError if absent."""
        for record in [*self.faults, *self.media_faults]:
            if record["fault"] == name:
                return record
        raise KeyError(name)
