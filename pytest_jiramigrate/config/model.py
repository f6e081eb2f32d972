"""The settings model: the effective configuration of one run, as the JSON report records it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.rules.base import Rule, RuleSettings
from pytest_jiramigrate.rules.custom import custom_rule_entry
from pytest_jiramigrate.rules.site import CloudSite

#: The default of ``report.max_stored``: enough offenders to fix from, or to see the
#: pattern in, while a report stays a few MB whatever the backup holds.
DEFAULT_MAX_STORED = 1000


@dataclass(frozen=True)
class Config:
    """The effective configuration of one run."""

    path: Path | None
    #: the Cloud site (the YAML's and the JSON report's ``target`` section)
    site: CloudSite = field(default_factory=CloudSite)
    archive: ArchiveLimits = field(default_factory=ArchiveLimits)
    #: offenders listed in a failure message before "and N more"
    max_listed: int = 50
    #: findings stored per rule in the report's entries (None: all of them); the rest are
    #: counted, not kept, so that a rule with 400,000 offenders does not make a report of
    #: hundreds of MB (see :func:`~pytest_jiramigrate.report.model.rule_entry`)
    max_stored: int | None = DEFAULT_MAX_STORED
    rules: dict[str, RuleSettings] = field(default_factory=dict)
    #: the rules of the ``custom_rules:`` section, to be checked beside the hook's rules
    custom_rules: tuple[Rule, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The effective configuration, as recorded in the JSON report.

        Laid out like the YAML file (plus ``path``), so an auditor can read
        which thresholds a run used and paste them back into a file.
        """
        site = self.site
        return {
            "path": None if self.path is None else str(self.path),
            "target": {
                "plan": site.plan,
                "billing": site.billing,
                "user_tier": site.user_tier,
                "users": site.users,
                "cloud_groups": list(site.cloud_groups),
                "importer_email": site.importer_email,
            },
            "email": {
                "allow_domains": list(site.allow_domains),
                "deny_domains": list(site.deny_domains),
            },
            "archive": {
                "max_ratio": self.archive.max_ratio,
                "max_uncompressed": self.archive.max_uncompressed,
            },
            "report": {"max_listed": self.max_listed, "max_stored": self.max_stored},
            "rules": {
                rule_id: {
                    "severity": settings.severity,
                    "max_findings": settings.max_findings,
                    "limits": {name: jsonable(value) for name, value in settings.limits.items()},
                }
                for rule_id, settings in self.rules.items()
            },
            "custom_rules": [custom_rule_entry(rule) for rule in self.custom_rules],
        }

    def for_rule(self, rule_id: str) -> RuleSettings:
        """The settings ``rule_id`` runs with; every rule passed to load_config has them."""
        try:
            return self.rules[rule_id]
        except KeyError:
            raise KeyError(f"no settings for rule {rule_id!r}: it was not loaded") from None


def jsonable(value: Any) -> Any:
    """Turn threshold tuples into lists so the report round-trips through JSON unchanged."""
    if isinstance(value, (tuple, list)):
        return [jsonable(item) for item in value]
    return value
