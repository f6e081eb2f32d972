"""The Jira Cloud site a backup is imported into, as every rule receives it.

Part of the rule API: a rule's check reads the site's plan, user strategy and
groups from its :class:`~pytest_jiramigrate.rules.base.RuleSettings`; the
configuration (``target:`` and ``email:`` in ``jiramigrate.yaml``) fills it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from pytest_jiramigrate.core.emails import DEFAULT_DENY_DOMAINS

Plan = Literal["free", "standard", "premium", "enterprise"]
Billing = Literal["monthly", "annual"]
UsersStrategy = Literal["merge", "overwrite"]

PLANS: tuple[str, ...] = get_args(Plan)
BILLINGS: tuple[str, ...] = get_args(Billing)
USERS_STRATEGIES: tuple[str, ...] = get_args(UsersStrategy)

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


@dataclass(frozen=True)
class CloudSite:
    """The Cloud site the backup is imported into (the YAML's ``target:`` section).

    ``allow_domains``/``deny_domains`` come from the ``email:`` section; they
    live here because the site is what every rule receives with its settings.
    """

    plan: Plan = "standard"
    billing: Billing = "monthly"
    #: the upper bound of the annual user tier, e.g. 200 for the 101-200 tier
    user_tier: int | None = None
    users: UsersStrategy = "merge"
    cloud_groups: tuple[str, ...] = DEFAULT_CLOUD_GROUPS
    allow_domains: tuple[str, ...] = ()
    deny_domains: tuple[str, ...] = DEFAULT_DENY_DOMAINS
    #: the Cloud site administrator who runs the import (``importer-account``)
    importer_email: str | None = None
