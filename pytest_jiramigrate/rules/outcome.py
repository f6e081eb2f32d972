"""Running one rule against the facts: the outcome every report is made from.

This module also owns the two decisions every report shares: the order the
outcomes are listed in, and the overall verdict of a run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.rules.base import NotChecked, Rule, RuleSettings, Verdict

#: ``error`` means the rule could not run (its input is unreadable, or it raised).
Status = Literal["passed", "failed", "warning", "skipped", "error"]

#: Worst first: the order of every report's rule list and outcome counts.
OUTCOME_ORDER: tuple[Status, ...] = ("failed", "error", "warning", "skipped", "passed")

_RANKS: dict[str, int] = {status: rank for rank, status in enumerate(OUTCOME_ORDER)}


def outcome_rank(status: str) -> int:
    """Where ``status`` sorts in :data:`OUTCOME_ORDER`; anything else sorts last."""
    return _RANKS.get(status, len(_RANKS))


#: The overall verdict of a run (see :func:`readiness`).
Readiness = Literal["not-checked", "not-ready", "warnings", "ready"]


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


@dataclass(frozen=True)
class Outcome:
    rule: Rule
    #: the node name of what was checked: the backup, or one media target
    subject: str
    settings: RuleSettings
    status: Status
    verdict: Verdict | None = None
    #: why the rule was skipped or could not run
    reason: str = ""

    @property
    def findings(self) -> int:
        return len(self.verdict.findings) if self.verdict else 0

    @property
    def summary(self) -> str:
        return self.verdict.summary if self.verdict else self.reason


def evaluate(rule: Rule, facts: Facts, settings: RuleSettings, subject: str) -> Outcome:
    """Check ``rule`` on ``subject`` (the node name of the backup or of one media target);
    a rule that raises becomes an ``error`` outcome, not a crash.

    The check receives the subject in its settings.  A media target's inventory is
    the ``media`` source a media rule needs: it is available when that target was read.
    """
    settings = replace(settings, subject=subject)
    if settings.severity == "off":
        return Outcome(rule, subject, settings, "skipped", reason="severity is off in the config")
    for source in rule.needs:
        missing = facts.missing(f"media:{subject}" if source == "media" else source)
        if missing:
            return Outcome(rule, subject, settings, "error", reason=f"not checked: {missing}")
    try:
        verdict = rule.check(facts, settings)
    except NotChecked as why:
        status: Status = "error" if settings.severity == "error" else "skipped"
        return Outcome(rule, subject, settings, status, reason=f"not checked: {why}")
    except Exception as error:  # a third-party rule must not take down the session
        reason = f"rule {rule.id} raised {type(error).__name__}: {error}"
        return Outcome(rule, subject, settings, "error", reason=reason)
    if len(verdict.findings) <= settings.max_findings:
        status = "warning" if verdict.advisories else "passed"
        return Outcome(rule, subject, settings, status, verdict)
    status = "failed" if settings.severity == "error" else "warning"
    return Outcome(rule, subject, settings, status, verdict)
