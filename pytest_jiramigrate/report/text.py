"""The failure text of a rule: summary, offenders, why Cloud rejects them, how to fix them."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_jiramigrate.core.terminal import printable
from pytest_jiramigrate.rules.outcome import Outcome

INDENT = "    "


def failure_text(
    outcome: Outcome,
    max_listed: int,
    width: int = 100,
    full: bool = True,
    placeholders: Mapping[str, str] | None = None,
    max_stored: int | None = None,
) -> str:
    """The four parts of a failure: summary, offenders (capped), why, and how to fix.

    ``full=False`` stops after the offenders, for the warnings summary.
    ``placeholders`` fill the fix text's ``<backup>``-style names, so that a
    command in it can be copied and run as it stands.  Every line is made
    :func:`~pytest_jiramigrate.core.terminal.printable`: findings quote the backup.
    ``max_stored`` is ``report.max_stored``: past it, "and N more" says the JSON
    report has only the first ones, rather than promising all of them.
    """
    rule, verdict = outcome.rule, outcome.verdict
    if verdict is None:
        return printable(outcome.reason)
    findings = verdict.findings or verdict.advisories
    lines = [verdict.summary, ""]
    lines.append(f"Offenders ({len(findings)}, allowed {outcome.settings.max_findings}):")
    lines += [f"  - {finding.text}" for finding in findings[:max_listed]]
    if len(findings) > max_listed:
        where = "all of them to the JSON report"
        if max_stored is not None and len(findings) > max_stored:
            where = (
                f"the first {max_stored:,} to the JSON report; raise report.max_stored to see all"
            )
        lines.append(f"  ... and {len(findings) - max_listed} more (--jira-report writes {where})")
    if not full:
        return _printable_text(lines)
    lines += ["", "Why Jira Cloud cares:"]
    lines += textwrap.wrap(rule.why, width, initial_indent=INDENT, subsequent_indent=INDENT)
    lines += ["", "How to fix it on the server, then take a new backup:"]
    fix = rule.fix
    for name, value in (placeholders or {}).items():
        fix = fix.replace(name, value)
    for paragraph in fix.split("\n"):
        if paragraph.startswith("`"):  # a command: kept on one line, to be copied
            lines.append(INDENT + paragraph)
        else:
            lines += textwrap.wrap(
                paragraph, width, initial_indent=INDENT, subsequent_indent=INDENT
            )
    if rule.sql:
        lines += ["", "Find them in the Jira database with:"]
        lines += [INDENT + line for line in rule.sql.splitlines()]
    return _printable_text(lines)


def _printable_text(lines: list[str]) -> str:
    """The lines joined, each with its control characters escaped (a CR or LF in a finding too)."""
    return "\n".join(printable(line) for line in lines)


@dataclass(frozen=True)
class Crash:
    """Where pytest's short summary and JUnit's ``message`` attribute take their line."""

    path: str
    lineno: int | None
    message: str


@dataclass(frozen=True)
class FailureRepr:
    """A failure shown as the rule's own text instead of a Python traceback.

    ``reprcrash.message`` (the one-sentence summary) becomes the JUnit
    ``message`` attribute and the line in pytest's short test summary.
    """

    text: str
    reprcrash: Crash

    def toterminal(self, tw: Any) -> None:
        for line in self.text.splitlines():
            tw.line(line)

    def __str__(self) -> str:
        return self.text
