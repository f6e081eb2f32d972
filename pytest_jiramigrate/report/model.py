"""The report's data: what every renderer reads, decided once.

The JSON report (schema ``jiramigrate-report/1``, DESIGN.md §4) is the source
every other output is drawn from: its rule entries are made here from the
outcomes, and so are the JUnit properties of a rule's test case, the terminal
table, the outcome order (worst first) and the run's overall verdict.  The
terminal, JUnit, JSON, Markdown, CSV and HTML outputs all read these, so they
cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pytest_jiramigrate.cache import NO_BACKUP
from pytest_jiramigrate.rules.base import Rule, RuleSettings, plural
from pytest_jiramigrate.rules.outcome import Outcome, Status, unchecked_status

SCHEMA = "jiramigrate-report/1"

#: Worst first: the order of every report's rule list and outcome counts.
OUTCOME_ORDER: tuple[Status, ...] = ("failed", "error", "warning", "skipped", "passed")

_RANKS: dict[str, int] = {status: rank for rank, status in enumerate(OUTCOME_ORDER)}

#: The overall verdict of a run (see :func:`readiness`).
Readiness = Literal["not-checked", "not-ready", "warnings", "ready"]

#: One entry of the JSON report's ``rules`` list.
Entry = dict[str, Any]

#: why a rule that never ran has no verdict
NOT_RUN = (
    "not checked: the rule did not run (deselected with -k, --deselect or --lf,"
    " or the run stopped early)"
)


def outcome_rank(status: str) -> int:
    """Where ``status`` sorts in :data:`OUTCOME_ORDER`; anything else sorts last."""
    return _RANKS.get(status, len(_RANKS))


def readiness(statuses: Iterable[str]) -> Readiness:
    """The run's verdict from its rules' outcomes; it fails closed.

    A run in which no rule ran is ``not-checked``, never ``ready``; a rule that
    failed or could not run (``error``) makes it ``not-ready``.
    """
    seen = set(statuses)
    if not seen:
        return "not-checked"
    if seen & {"failed", "error"}:
        return "not-ready"
    if "warning" in seen:
        return "warnings"
    return "ready"


def rule_entry(outcome: Outcome) -> Entry:
    """One entry of the JSON report's ``rules`` list (``target`` is the subject's node name)."""
    verdict = outcome.verdict
    entry: Entry = {
        "id": outcome.rule.id,
        "title": outcome.rule.title,
        "target": outcome.subject,
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


def unrun_entry(rule: Rule, subject: str, settings: RuleSettings) -> Entry:
    """The entry of a rule that never ran on ``subject``: not checked, so an
    error-severity one keeps the gate shut (see :func:`unchecked_status`)."""
    return {
        "id": rule.id,
        "title": rule.title,
        "target": subject,
        "severity": settings.severity,
        "outcome": unchecked_status(settings.severity),
        "findings": 0,
        "threshold": settings.max_findings,
        "message": NOT_RUN,
        "items": [],
    }


def junit_properties(outcome: Outcome) -> list[tuple[str, object]]:
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


def summary_table(entries: Mapping[str, Entry], several_subjects: bool) -> list[str]:
    """The terminal table: one line per rule (and subject, when there are several),
    worst first; ``entries`` are keyed by node id."""
    ranked = sorted(entries.items(), key=lambda kv: (outcome_rank(kv[1]["outcome"]), kv[0]))
    names = [nodeid if several_subjects else entry["id"] for nodeid, entry in ranked]
    width = max(map(len, names))
    return [
        f"{e['outcome'].upper():8} {name:{width}}  "
        f"{plural(e['findings'], 'finding'):>14}  {e['message']}"
        for name, (_nodeid, e) in zip(names, ranked, strict=True)
    ]


def unchecked(entries: Iterable[Entry]) -> list[Entry]:
    """The entries of error-severity rules that could not run ("not checked").

    A rule whose input was not given (a media rule that needs the backup, in a
    run of media only) is not counted: it does not apply to what was asked.
    """
    return [
        entry
        for entry in entries
        if entry["severity"] == "error"
        and entry["outcome"] == "error"
        and str(entry["message"]).startswith("not checked")
        and entry["message"] != f"not checked: {NO_BACKUP}"
    ]


def build_report(
    backup: Mapping[str, Any], config: Mapping[str, Any], entries: Iterable[Entry]
) -> dict[str, Any]:
    """The JSON report: the backup's inventory, the configuration used and every entry."""
    return {
        "schema": SCHEMA,
        "backup": dict(backup),
        "config": dict(config),
        "rules": list(entries),
    }
