"""The rule catalogue as ``pytest --jira-rules`` prints it, with the thresholds in force.

Like ``pytest --markers``, it answers "what will run and with which limits"
before anything is scanned: every rule, built-in or contributed by a plugin,
grouped by ``rule.group``, with its severity and thresholds as the effective
configuration sets them.  A value that the YAML changed shows its built-in
default beside it, so a reviewer sees at once what a team relaxed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_jiramigrate.config import Config
from pytest_jiramigrate.core.sizes import format_size
from pytest_jiramigrate.rules.base import Rule, RuleSettings, Threshold

INDENT = "    "


def render_rules(rules: Sequence[Rule], config: Config) -> list[str]:
    """One block per group (in first-seen order): ``id (severity): title`` and its thresholds."""
    groups: dict[str, list[Rule]] = {}
    for rule in rules:
        groups.setdefault(rule.group, []).append(rule)
    lines: list[str] = []
    for group, members in groups.items():
        lines.append(f"[{group}]")
        for rule in members:
            lines += rule_lines(rule, config.for_rule(rule.id))
        lines.append("")
    return lines


def rule_lines(rule: Rule, settings: RuleSettings) -> list[str]:
    """``email-unique (error): title`` then ``max_findings=0, ...`` on an indented line."""
    severity = changed(settings.severity, rule.severity)
    kind = "" if rule.kind == "backup" else f" [{rule.kind}]"
    values = [f"max_findings={changed(settings.max_findings, 0)}"]
    values += [
        f"{threshold.name}={threshold_value(threshold, settings.limits[threshold.name])}"
        for threshold in rule.thresholds
    ]
    return [f"{rule.id} ({severity}){kind}: {rule.title}", INDENT + ", ".join(values)]


def threshold_value(threshold: Threshold, value: Any) -> str:
    """The effective value as a person reads it (sizes in GB), with the default if changed."""
    return changed(show(threshold, value), show(threshold, threshold.default))


def show(threshold: Threshold, value: Any) -> str:
    if threshold.kind == "size" and isinstance(value, int):
        return format_size(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(element) for element in value) + "]"
    return str(value)


def changed(value: object, default: object) -> str:
    """``value``, plus ``(default: X)`` when the configuration moved it away from the default."""
    return str(value) if value == default else f"{value} (default: {default})"
