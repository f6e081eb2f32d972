"""The state of one readiness run: targets, rules, the facts store and the outcomes.

Registered as a pytest plugin only when ``--jira-backup`` (or ``--jira-media``)
is given; without them pytest-jiramigrate adds options and nothing else.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from pytest_jiramigrate.config import Config, ConfigError, find_config, load_config
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.outcome import Outcome, evaluate
from pytest_jiramigrate.report.text import failure_text
from pytest_jiramigrate.rules.base import Rule
from pytest_jiramigrate.store import backup_facts


@dataclass
class Target:
    """Something checked: the backup zip, or one media directory or zip."""

    kind: Literal["backup", "media"]
    path: Path
    #: the node id of its collector, e.g. ``site-backup.zip``
    name: str


@dataclass
class JiraSession:
    pytest_config: pytest.Config
    config: Config
    rules: Sequence[Rule]
    targets: list[Target]
    rescan: bool = False
    report_path: Path | None = None
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    written_report: Path | None = None
    _facts: Facts | None = None

    @property
    def backup(self) -> Target | None:
        return next((t for t in self.targets if t.kind == "backup"), None)

    def rules_for(self, target: Target) -> list[Rule]:
        return [rule for rule in self.rules if rule.target == target.kind]

    def cache_dir(self) -> Path:
        """Under pytest's cache directory; a temporary one with ``-p no:cacheprovider``."""
        cache = getattr(self.pytest_config, "cache", None)
        if cache is not None:
            return Path(cache.mkdir("jiramigrate"))
        return Path(tempfile.mkdtemp(prefix="jiramigrate-"))

    def facts(self) -> Facts:
        """The facts of the backup, scanned once per session (or read from the cache)."""
        if self._facts is None:
            backup = self.backup
            assert backup is not None, "media-only runs are not wired yet"
            self._facts = backup_facts(
                backup.path, self.cache_dir(), self.config.archive, self.rescan
            )
        return self._facts

    def check(self, target: Target, rule: Rule) -> Outcome:
        outcome = evaluate(rule, self.facts(), self.config.rules[rule.id], target.name)
        self.outcomes[f"{target.name}::{rule.id}"] = outcome
        return outcome

    @staticmethod
    def properties(outcome: Outcome) -> list[tuple[str, object]]:
        """The JUnit ``user_properties`` of a rule's test case."""
        properties: list[tuple[str, object]] = [
            ("rule", outcome.rule.id),
            ("severity", outcome.settings.severity),
            ("findings", outcome.findings),
            ("threshold", outcome.settings.max_findings),
        ]
        verdict = outcome.verdict
        if verdict is not None:
            if verdict.observed is not None:
                properties.append(("observed", verdict.observed))
            if verdict.limit is not None:
                properties.append(("limit", verdict.limit))
            properties += sorted(verdict.properties.items())
        return properties

    def warning_text(self, outcome: Outcome) -> str:
        return failure_text(outcome, self.config.max_listed, full=False)

    def report_item(self, outcome: Outcome) -> dict[str, Any]:
        """One entry of the JSON report's ``rules`` list."""
        verdict = outcome.verdict
        entry: dict[str, Any] = {
            "id": outcome.rule.id,
            "title": outcome.rule.title,
            "target": outcome.target,
            "severity": outcome.settings.severity,
            "outcome": outcome.status,
            "findings": outcome.findings,
            "threshold": outcome.settings.max_findings,
            "message": outcome.summary,
            "items": [
                {**finding.fields, "detail": finding.text}
                for finding in (verdict.findings if verdict else ())
            ],
        }
        if verdict is not None:
            if verdict.observed is not None:
                entry["observed"] = verdict.observed
            if verdict.limit is not None:
                entry["limit"] = verdict.limit
            if verdict.properties:
                entry["properties"] = dict(verdict.properties)
        return entry

    def inventory_line(self, facts: Facts) -> str:
        """The backup at a glance, printed once it is scanned."""
        meta, counts = facts.meta, facts.counts()
        version = meta.get("jira_version", "unknown version")
        parts = ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in counts.items())
        return f"jiramigrate: {meta.get('backup_name')} (Jira {version}): {parts}"

    def summary_table(self) -> list[str]:
        """One line per rule: outcome, findings and id, worst first."""
        order = {"failed": 0, "error": 1, "warning": 2, "skipped": 3, "passed": 4}
        outcomes = sorted(self.outcomes.values(), key=lambda o: (order[o.status], o.rule.id))
        width = max(len(o.rule.id) for o in outcomes)
        return [
            f"{o.status.upper():8} {o.rule.id:{width}}  {o.findings:>6} findings  {o.summary}"
            for o in outcomes
        ]

    def report(self) -> dict[str, Any]:
        """The JSON report (schema ``jiramigrate-report/1``)."""
        backup: dict[str, Any] = {}
        if self.backup is not None:
            backup = {"path": str(self.backup.path), "name": self.backup.name}
            if self._facts is not None:
                meta = self._facts.meta
                backup.update(
                    sha256=meta.get("sha256"),
                    jira_version=meta.get("jira_version"),
                    jira_build=meta.get("jira_build"),
                    base_url=meta.get("base_url"),
                    counts=self._facts.counts(),
                )
        return {
            "schema": "jiramigrate-report/1",
            "backup": backup,
            "config": self.config.as_dict(),
            "rules": [self.report_item(outcome) for outcome in self.outcomes.values()],
        }

    def write_json_report(self) -> None:
        """Write the JSON report atomically: a reader never sees half a report."""
        if self.report_path is None:
            return
        path = self.report_path
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        with partial.open("w", encoding="utf-8") as stream:
            json.dump(self.report(), stream, indent=2, ensure_ascii=False)
            stream.write("\n")
        os.replace(partial, path)
        self.written_report = path


def collect_rules(config: pytest.Config) -> list[Rule]:
    """Every rule from the ``pytest_jiramigrate_rules`` hook; ids must be unique."""
    from pytest_jiramigrate import rules as builtin

    if not config.pluginmanager.is_registered(builtin):
        config.pluginmanager.register(builtin, "jiramigrate-builtin-rules")
    rules: list[Rule] = []
    seen: dict[str, Rule] = {}
    for contributed in config.hook.pytest_jiramigrate_rules(config=config):
        for rule in contributed:
            if not isinstance(rule, Rule):
                raise pytest.UsageError(
                    f"pytest_jiramigrate_rules returned {rule!r}, not a pytest_jiramigrate.Rule"
                )
            if rule.id in seen:
                raise pytest.UsageError(f"two readiness rules share the id {rule.id!r}")
            seen[rule.id] = rule
            rules.append(rule)
    return rules


def start_session(pytest_config: pytest.Config, backup: Path) -> JiraSession:
    """Read the rules and the YAML; a bad configuration is a usage error (exit code 4)."""
    from pytest_jiramigrate.plugin import option_or_ini

    rules = collect_rules(pytest_config)
    try:
        path = find_config(
            pytest_config.getoption("jira_config"),
            pytest_config.getini("jira_config") or None,
            pytest_config.rootpath,
        )
        config = load_config(path, rules)
    except ConfigError as error:
        raise pytest.UsageError(f"jiramigrate configuration: {error}") from None
    if pytest_config.getoption("jira_strict") or pytest_config.getini("jira_strict"):
        pytest_config.addinivalue_line(
            "filterwarnings", "error::pytest_jiramigrate.JiraReadinessWarning"
        )
    report = option_or_ini(pytest_config, "report")
    return JiraSession(
        pytest_config=pytest_config,
        config=config,
        rules=rules,
        targets=[Target("backup", backup, backup.name)],
        rescan=bool(pytest_config.getoption("jira_rescan")),
        report_path=pytest_config.invocation_params.dir / report if report else None,
    )
