"""A short Markdown summary of a readiness report, for CI pages and merge-request comments.

Written for ``$GITHUB_STEP_SUMMARY`` and GitLab/Bitbucket comments: a reviewer
sees the verdict, which backup was checked and what to fix, without opening
the JSON report.  Every value that comes from the backup (usernames, e-mail
addresses, issue text) is escaped, because a customer's data must not be able
to break the table, inject HTML or ping people with ``@mentions``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_jiramigrate.core.sizes import format_size
from pytest_jiramigrate.report.model import (
    OUTCOME_ORDER,
    Readiness,
    items_omitted,
    omitted_note,
    readiness,
)

#: Offenders listed per rule before "and N more".
DEFAULT_MAX_OFFENDERS = 10

#: An offender's text is cut here: one member list can be thousands of names long.
MAX_OFFENDER_CHARS = 200

#: The summary's heading for each overall verdict.
HEADLINES: dict[Readiness, str] = {
    "not-checked": "NOT CHECKED (no rule ran)",
    "not-ready": "NOT READY",
    "warnings": "READY WITH WARNINGS",
    "ready": "READY",
}

_PROBLEMS = ("failed", "error", "warning")
_MARKERS = {
    "failed": "FAIL",
    "error": "ERROR",
    "warning": "WARN",
    "passed": "PASS",
    "skipped": "SKIP",
}

#: HTML-significant characters, the table separator and ``@`` (a mention on GitHub/GitLab).
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "&#124;", "@": "&#64;", '"': "&quot;"}
#: Characters with an inline meaning in Markdown; a backslash makes each one literal.
_MARKDOWN_PUNCTUATION = frozenset("\\`*_[]~")
#: What would open a list or heading when a value starts a block (``>`` is already &gt;).
_BLOCK_START = re.compile(r"[-+#]|[0-9]+[.)]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def escape(value: object, block_start: bool = False) -> str:
    """Return ``value`` as inline Markdown text that renders literally on one line.

    Line breaks and other control characters become spaces or ``U+XXXX`` so a
    value can neither end a table row nor hide itself.  ``block_start`` is for
    a value that begins a list item, where ``- x`` or ``1. x`` would nest a list.
    """
    text = str(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    text = _CONTROL.sub(lambda match: f"U+{ord(match.group()):04X}", text)
    out: list[str] = []
    for char in text:
        if char in _ENTITIES:
            out.append(_ENTITIES[char])
        elif char in _MARKDOWN_PUNCTUATION:
            out.append("\\" + char)
        else:
            out.append(char)
    escaped = "".join(out)
    if block_start and (match := _BLOCK_START.match(escaped)):
        return escaped[: match.end() - 1] + "\\" + escaped[match.end() - 1 :]
    return escaped


def render_summary(report: Mapping[str, Any], max_offenders: int = DEFAULT_MAX_OFFENDERS) -> str:
    """Render a ``jiramigrate-report/1`` dict as a short Markdown summary.

    Problems (failed, error, warning) come first in a table, then up to
    ``max_offenders`` offenders per failed or warned rule; passed and skipped
    rules are folded into a ``<details>`` block because nobody acts on them.
    """
    rules: Sequence[Mapping[str, Any]] = report.get("rules", [])
    problems = [entry for entry in rules if entry.get("outcome") in _PROBLEMS]
    quiet = [entry for entry in rules if entry.get("outcome") not in _PROBLEMS]
    several_targets = len({entry.get("target") for entry in rules}) > 1
    lines = [f"## Jira Cloud readiness: {verdict(rules)}", "", outcome_counts(rules), ""]
    lines += backup_lines(report.get("backup") or {})
    if problems:
        lines += problem_table(problems, several_targets)
        lines += offender_lines(problems, max_offenders, several_targets)
    if quiet:
        lines += quiet_block(quiet, several_targets)
    return "\n".join(lines).rstrip("\n") + "\n"


def verdict(rules: Sequence[Mapping[str, Any]]) -> str:
    """The headline for :func:`~pytest_jiramigrate.rules.outcome.readiness` of the rules."""
    return HEADLINES[readiness(str(entry.get("outcome")) for entry in rules)]


def outcome_counts(rules: Sequence[Mapping[str, Any]]) -> str:
    """``7 failed, 1 warning, 2 skipped, 17 passed``: worst first, zeros left out."""
    counts = {
        name: sum(1 for entry in rules if entry.get("outcome") == name) for name in OUTCOME_ORDER
    }
    parts = [f"{count} {name}" for name, count in counts.items() if count]
    return f"Rules: {', '.join(parts) or 'none'}."


def backup_lines(backup: Mapping[str, Any]) -> list[str]:
    """Which backup was checked (name, short sha256, Jira version) and what it holds."""
    if not backup:
        return ["Backup: none (media only).", ""]
    identity = [f"**{escape(backup.get('name') or backup.get('path') or 'unknown')}**"]
    sha256 = backup.get("sha256")
    if sha256:
        identity.append(f"sha256 {escape(str(sha256)[:12])}")
    version = backup.get("jira_version")
    if version:
        build = backup.get("jira_build")
        identity.append(f"Jira {escape(version)}" + (f" (build {escape(build)})" if build else ""))
    lines = [f"Backup: {' · '.join(identity)}", ""]
    counts = backup.get("counts") or {}
    if counts:
        lines += [f"Inventory: {inventory(counts)}.", ""]
    return lines


def inventory(counts: Mapping[str, Any]) -> str:
    """``41 users, 120 attachments, 712.8 KB (attachment bytes)``: ``*_bytes`` read as sizes."""
    parts = []
    for name, value in counts.items():
        label = escape(name.replace("_", " "))
        if name.endswith("_bytes") and isinstance(value, int) and value >= 0:
            parts.append(f"{format_size(value)} ({label})")
        else:
            parts.append(f"{escape(value)} {label}")
    return ", ".join(parts)


def rule_name(entry: Mapping[str, Any], several_targets: bool) -> str:
    """The rule id, prefixed by its target when media chunks make ids repeat."""
    name = escape(entry.get("id", "?"))
    return f"{escape(entry.get('target', '?'))} :: {name}" if several_targets else name


def findings_cell(entry: Mapping[str, Any]) -> str:
    return f"{escape(entry.get('findings', 0))} (allowed {escape(entry.get('threshold', 0))})"


def problem_table(problems: Sequence[Mapping[str, Any]], several_targets: bool) -> list[str]:
    lines = ["| Outcome | Rule | Findings | Summary |", "| --- | --- | --- | --- |"]
    for entry in problems:
        marker = _MARKERS.get(str(entry.get("outcome")), escape(entry.get("outcome")))
        lines.append(
            f"| **{marker}** | {rule_name(entry, several_targets)} | {findings_cell(entry)} "
            f"| {escape(entry.get('message', ''))} |"
        )
    return [*lines, ""]


def offender_lines(
    problems: Sequence[Mapping[str, Any]], max_offenders: int, several_targets: bool
) -> list[str]:
    """The first offenders of each failed or warned rule: what to fix first.

    The "and N more" line counts the findings the report did not store too
    (``items_omitted``), so a reviewer is not told a rule has 1,000 offenders
    when it has 400,000.
    """
    lines: list[str] = []
    for entry in problems:
        items: Sequence[Mapping[str, Any]] = entry.get("items") or []
        if not items and not items_omitted(entry):
            continue
        lines += [f"### {rule_name(entry, several_targets)}", ""]
        shown = items[:max_offenders]
        lines += [f"- {escape(shorten(offender_text(item)), block_start=True)}" for item in shown]
        note = omitted_note(entry, len(shown))
        if note:
            lines.append(f"- {escape(note)}")
        lines.append("")
    return lines


def offender_text(item: Mapping[str, Any]) -> str:
    """The item's ``detail`` line, or its fields when a third-party rule gave no detail."""
    detail = item.get("detail")
    if detail:
        return str(detail)
    return ", ".join(f"{key}={value}" for key, value in item.items())


def shorten(text: str, limit: int = MAX_OFFENDER_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quiet_block(entries: Iterable[Mapping[str, Any]], several_targets: bool) -> list[str]:
    """Passed and skipped rules, folded: proof that they ran, out of the reader's way."""
    entries = list(entries)
    title = outcome_counts(entries).removeprefix("Rules: ").removesuffix(".")
    lines = ["<details>", f"<summary>{title}</summary>", ""]
    for entry in entries:
        marker = _MARKERS.get(str(entry.get("outcome")), escape(entry.get("outcome")))
        lines.append(
            f"- {marker} {rule_name(entry, several_targets)}: {escape(entry.get('message', ''))}"
        )
    return [*lines, "", "</details>", ""]
