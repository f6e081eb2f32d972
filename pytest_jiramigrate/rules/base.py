"""The rule API: what a readiness rule is, what it returns, and how it is declared.

A rule reads like its documentation: an id, a one-line title, why Jira Cloud
cares, how to fix it on the server (with the SQL that finds the offenders),
its thresholds, and a short ``check`` that queries the facts store.  Built-in
and third-party rules are the same kind of object and reach the plugin through
the same pluggy hook (``pytest_jiramigrate_rules``).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pytest_jiramigrate.facts import Facts
    from pytest_jiramigrate.rules.site import CloudSite

Severity = Literal["error", "warning", "off"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "off")

#: What a rule reads.  A rule whose source could not be read is not run: its
#: item is skipped with "not checked: <why>", never shown as passed.
#: ``entities.xml``/``activeobjects.xml``: the member's bytes were streamed
#: (its XML may still be broken); ``entities``/``activeobjects``: its XML was
#: read to the end, so its facts are complete.
Source = Literal[
    "archive", "entities.xml", "entities", "activeobjects.xml", "activeobjects", "media"
]

ThresholdKind = Literal["int", "size", "str", "bool", "choice", "list"]


@dataclass(frozen=True)
class Threshold:
    """One configurable limit of a rule, with its built-in default.

    ``kind`` drives YAML validation: ``size`` accepts ``10GB``/``5 GiB``/bytes
    and is stored as an int of bytes; ``choice`` must be one of ``choices``.
    """

    name: str
    default: Any
    doc: str
    kind: ThresholdKind = "int"
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One offender, named the way an administrator needs to fix it.

    ``text`` is the line printed in the failure; ``fields`` is the JSON report
    item (``user``, ``email``, ``line``/``column``/``entity``/``id``, ...).
    """

    text: str
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """What a check observed.

    The item fails when ``len(findings)`` exceeds the rule's ``max_findings``.
    ``advisories`` never fail the item (unless warnings are made errors): they
    are for what "may work", such as a Jira version Cloud does not promise to
    import.  ``summary`` is the one-sentence first line of the failure message
    (and the JUnit failure message).  ``observed``/``limit`` become JUnit
    properties for count-style rules; ``properties`` adds rule-specific ones.
    """

    findings: Sequence[Finding]
    summary: str
    observed: Any = None
    limit: Any = None
    properties: Mapping[str, str] = field(default_factory=dict)
    advisories: Sequence[Finding] = ()


class NotChecked(Exception):
    """Raised by a check that cannot run with this configuration (a setting it needs
    is not set).  The item is skipped with "not checked: <why>", never passed; a rule
    of severity ``error`` still fails the gate, since what it checks is unknown."""


@dataclass(frozen=True)
class RuleSettings:
    """The effective configuration one rule runs with."""

    severity: Severity
    max_findings: int
    limits: Mapping[str, Any]
    #: the Cloud site the backup is imported into
    site: CloudSite
    #: the node name of what the check is run on: the backup, or one media target
    #: (set by :func:`~pytest_jiramigrate.rules.outcome.evaluate` for each item)
    subject: str = ""

    def __getitem__(self, name: str) -> Any:
        return self.limits[name]


Check = Callable[["Facts", RuleSettings], Verdict]


@dataclass(frozen=True)
class Rule:
    """A readiness rule.  ``id`` is public and stable: it names the test item."""

    id: str
    title: str
    why: str
    fix: str
    check: Check
    severity: Severity = "error"
    thresholds: tuple[Threshold, ...] = ()
    needs: tuple[Source, ...] = ("entities",)
    sql: str = ""
    #: the kind of subject it checks: the backup, or each media target
    kind: Literal["backup", "media"] = "backup"
    group: str = "custom"

    def defaults(self) -> dict[str, Any]:
        return {t.name: t.default for t in self.thresholds}


def rule(
    *,
    id: str,
    title: str,
    why: str,
    fix: str,
    severity: Severity = "error",
    thresholds: Sequence[Threshold] = (),
    needs: Sequence[Source] = ("entities",),
    sql: str = "",
    kind: Literal["backup", "media"] = "backup",
    group: str = "custom",
) -> Callable[[Check], Rule]:
    """Declare a rule from its check function, keeping the documentation beside it."""

    def declare(check: Check) -> Rule:
        return Rule(
            id=id,
            title=title,
            why=" ".join(why.split()),
            fix=paragraphs(fix),
            check=check,
            severity=severity,
            thresholds=tuple(thresholds),
            needs=tuple(needs),
            sql=inspect.cleandoc(sql),
            kind=kind,
            group=group,
        )

    return declare


def paragraphs(text: str) -> str:
    """Flow a docstring-like text: one line per paragraph, paragraphs split by a blank line."""
    blocks = re.split(r"\n\s*\n", inspect.cleandoc(text))
    return "\n".join(" ".join(block.split()) for block in blocks if block.strip())


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """``1 user``, ``2,001 issues``, ``3 e-mail addresses``: a count and its noun."""
    if count == 1:
        return f"{count:,} {noun}"
    return f"{count:,} {plural_noun or (noun + 'es' if noun.endswith('s') else noun + 's')}"


def passed(summary: str, **extra: Any) -> Verdict:
    """A verdict with no findings; its summary says what was checked (a pass is reported too)."""
    return Verdict(findings=(), summary=summary, **extra)
