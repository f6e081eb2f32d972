"""Readiness configuration: the Cloud target, e-mail domain lists and per-rule thresholds.

Read from ``--jira-config``, the ``jira_config`` ini key, or ``jiramigrate.yaml``
in the rootdir.  Every key has a documented built-in default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pytest_jiramigrate.rules.base import RuleSettings

Plan = Literal["free", "standard", "premium", "enterprise"]
Billing = Literal["monthly", "annual"]
UsersStrategy = Literal["merge", "overwrite"]

#: Groups every Jira Cloud site has; merging users merges same-named groups.
DEFAULT_CLOUD_GROUPS: tuple[str, ...] = (
    "site-admins",
    "system-administrators",
    "atlassian-addons",
    "atlassian-addons-admin",
    "administrators",
    "jira-software-users",
    "jira-core-users",
    "jira-servicemanagement-users",
    "jira-work-management-users",
    "confluence-users",
)

#: RFC 2606 reserved names; Atlassian's import is known to fail on @example.com.
DEFAULT_DENY_DOMAINS: tuple[str, ...] = ("example.com", "example.net", "example.org")


@dataclass(frozen=True)
class TargetSettings:
    """The Cloud site the backup is imported into (the ``target:`` section)."""

    plan: Plan = "standard"
    billing: Billing = "monthly"
    #: the upper bound of the annual user tier, e.g. 200 for the 101-200 tier
    user_tier: int | None = None
    users: UsersStrategy = "merge"
    cloud_groups: tuple[str, ...] = DEFAULT_CLOUD_GROUPS
    allow_domains: tuple[str, ...] = ()
    deny_domains: tuple[str, ...] = DEFAULT_DENY_DOMAINS


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds that keep a hostile zip from exhausting the machine (``archive:``)."""

    max_ratio: int = 200
    max_uncompressed: int = 200 * 1024**3


@dataclass(frozen=True)
class Config:
    """The effective configuration of one run."""

    path: Path | None
    target: TargetSettings = field(default_factory=TargetSettings)
    archive: ArchiveLimits = field(default_factory=ArchiveLimits)
    #: offenders listed in a failure message before "and N more"
    max_listed: int = 50
    rules: dict[str, RuleSettings] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The effective configuration, as recorded in the JSON report."""
        raise NotImplementedError
