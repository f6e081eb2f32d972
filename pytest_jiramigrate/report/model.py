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
from itertools import islice
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


#: the setting that caps the findings an entry stores, as the reports name it
MAX_STORED_SETTING = "report.max_stored"


def rule_entry(outcome: Outcome, max_stored: int | None = None) -> Entry:
    """One entry of the JSON report's ``rules`` list (``target`` is the subject's node name).

    ``items`` holds the first ``max_stored`` findings (all of them when None);
    ``findings`` stays the full count and ``items_omitted`` says how many were
    left out.  One rule can have hundreds of thousands of offenders (every
    member of a large media zip): stored whole they made a 171 MB JSON report
    and held every item in memory until the reports were written, and under
    pytest-xdist sent them all from the worker to the controller.  The cap is
    applied here, once, where the entry is made, so every renderer reads the
    same items and the entry is small before it travels on the test report.
    Only the stored items are turned into dicts: the findings left out are
    counted, never copied.
    """
    verdict = outcome.verdict
    findings = verdict.findings if verdict else ()
    stored = findings if max_stored is None else islice(findings, max_stored)
    entry: Entry = {
        "id": outcome.rule.id,
        "title": outcome.rule.title,
        "target": outcome.subject,
        "severity": outcome.settings.severity,
        "outcome": outcome.status,
        "findings": outcome.findings,
        "threshold": outcome.settings.max_findings,
        "message": outcome.summary,
        "items": [{**finding.fields, "detail": finding.text} for finding in stored],
    }
    entry["items_omitted"] = len(findings) - len(entry["items"])
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
        "items_omitted": 0,
    }


def items_omitted(entry: Mapping[str, Any]) -> int:
    """The findings an entry counts but does not store (0 in a report made before the cap)."""
    omitted = entry.get("items_omitted") or 0
    return omitted if isinstance(omitted, int) and omitted > 0 else 0


def omitted_note(
    entry: Mapping[str, Any], shown: int, stored_all: str = "(see the JSON report)"
) -> str:
    """``and N more (...)`` after the first ``shown`` items a renderer lists, or ""
    when it lists them all.

    N counts both the items the renderer leaves out and those the entry never
    stored (:func:`rule_entry`), so the reader learns the real total; when the
    report itself left some out, the note names the setting that keeps them;
    otherwise it ends with the renderer's ``stored_all``.
    """
    stored = len(entry.get("items") or ())
    omitted = items_omitted(entry)
    more = stored - shown + omitted
    if more <= 0:
        return ""
    if omitted:
        return (
            f"and {more:,} more (the report stores the first {stored:,};"
            f" raise {MAX_STORED_SETTING} to see all)"
        )
    return f"and {more:,} more {stored_all}"


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
