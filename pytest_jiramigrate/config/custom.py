"""The ``custom_rules:`` list: SQL rules written in the YAML, read into rules."""

from __future__ import annotations

import re
from collections.abc import Sequence

from yaml.nodes import Node, ScalarNode, SequenceNode

from pytest_jiramigrate.config.converters import choice, text, whole_number
from pytest_jiramigrate.config.reader import (
    Converter,
    Document,
    describe,
    is_null,
    mapping_entries,
    read_section,
)
from pytest_jiramigrate.rules.base import SEVERITIES, Rule
from pytest_jiramigrate.rules.custom import QueryBudget, format_problem, sql_rule

#: The one top-level key that is a list rather than a section of settings.
CUSTOM_RULES = "custom_rules"

#: Rule ids are public and name test items: lower-case words joined by hyphens.
_RULE_ID = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")

_REQUIRED_CUSTOM_KEYS = ("id", "title", "why", "fix", "sql")


def _rule_id(document: Document, node: Node, key: str) -> str:
    value = text(document, node, key)
    if not _RULE_ID.fullmatch(value):
        raise document.error(
            node, key, f"expected a kebab-case id such as no-contractor-accounts, got {value!r}"
        )
    return value


def _finding_format(document: Document, node: Node, key: str) -> str:
    value = text(document, node, key)
    problem = format_problem(value)
    if problem is not None:
        raise document.error(node, key, problem)
    return value


#: A custom query's time budget: seconds (``30``, ``30s``, ``0.5s``) or minutes (``2m``).
_DURATION = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>s|m)?")


def _duration(document: Document, node: Node, key: str) -> float:
    """Seconds, from ``30``, ``30s``, ``0.5s`` or ``2m``; more than zero."""
    written = node.value if isinstance(node, ScalarNode) and not is_null(node) else None
    match = _DURATION.fullmatch(written.strip()) if isinstance(written, str) else None
    if match is None:
        raise document.error(
            node, key, f"expected a duration such as 30s or 2m, got {describe(node)}"
        )
    seconds = float(match["number"]) * (60 if match["unit"] == "m" else 1)
    if seconds <= 0:
        raise document.error(node, key, f"must be more than 0 seconds, got {written}")
    return seconds


_CUSTOM_RULE_FIELDS: dict[str, Converter] = {
    "id": _rule_id,
    "title": text,
    "severity": choice(SEVERITIES),
    "why": text,
    "fix": text,
    "sql": text,
    "finding": _finding_format,
    "max_findings": whole_number(minimum=0),
    "timeout": _duration,
    "max_rows": whole_number(minimum=1),
}


def read_custom_rules(
    document: Document, node: Node | None, known: Sequence[Rule]
) -> list[tuple[Rule, int | None]]:
    """Each ``custom_rules:`` entry as a rule, with the ``max_findings`` it declares (if any).

    An id may not repeat one of ``known`` (built-in or conftest rules) nor an
    earlier entry: the id names the test item and the ``rules.<id>`` settings.
    """
    if node is None or is_null(node):
        return []
    if not isinstance(node, SequenceNode):
        raise document.error(
            node,
            CUSTOM_RULES,
            f"expected a list of rules (each with {', '.join(_REQUIRED_CUSTOM_KEYS)}), "
            f"got {describe(node)}",
        )
    known_ids = {rule.id for rule in known}
    first_line: dict[str, int] = {}
    custom: list[tuple[Rule, int | None]] = []
    for index, entry in enumerate(node.value):
        key = f"{CUSTOM_RULES}[{index}]"
        fields = read_section(document, entry, key, _CUSTOM_RULE_FIELDS)
        for name in _REQUIRED_CUSTOM_KEYS:
            if name not in fields:
                raise document.error(
                    entry,
                    f"{key}.{name}",
                    f"missing; every custom rule needs {', '.join(_REQUIRED_CUSTOM_KEYS)}",
                )
        id_node = mapping_entries(document, entry, key)["id"][1]
        rule_id = fields["id"]
        if rule_id in known_ids:
            raise document.error(
                id_node, f"{key}.id", f"{rule_id!r} is already the id of a rule; choose another"
            )
        if rule_id in first_line:
            raise document.error(
                id_node,
                f"{key}.id",
                f"duplicate custom rule id {rule_id!r} (first given on line {first_line[rule_id]})",
            )
        first_line[rule_id] = id_node.start_mark.line + 1
        max_findings = fields.pop("max_findings", None)
        default = QueryBudget()
        budget = QueryBudget(
            seconds=fields.pop("timeout", default.seconds),
            max_rows=fields.pop("max_rows", default.max_rows),
        )
        custom.append((sql_rule(**fields, budget=budget), max_findings))
    return custom
