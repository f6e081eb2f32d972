"""Running one rule against the facts: the outcome every report is made from.

The order the outcomes are listed in and the overall verdict of a run are the
report's decisions (:mod:`pytest_jiramigrate.report.model`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.rules.base import NotChecked, Rule, RuleSettings, Verdict

#: ``error`` means the rule could not run (its input is unreadable, or it raised).
Status = Literal["passed", "failed", "warning", "skipped", "error"]


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


def unchecked_status(severity: str) -> Status:
    """The outcome of a rule that was not checked: ``error`` for an error-severity rule,
    which keeps the gate shut since what it checks is unknown; ``skipped`` otherwise
    (a warning that went unchecked cannot fail a run, so it is not shown as an error)."""
    return "error" if severity == "error" else "skipped"


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
            status = unchecked_status(settings.severity)
            return Outcome(rule, subject, settings, status, reason=f"not checked: {missing}")
    try:
        verdict = rule.check(facts, settings)
    except NotChecked as why:
        status = unchecked_status(settings.severity)
        return Outcome(rule, subject, settings, status, reason=f"not checked: {why}")
    except Exception as error:  # a third-party rule must not take down the session
        reason = f"rule {rule.id} raised {type(error).__name__}: {error}"
        return Outcome(rule, subject, settings, "error", reason=reason)
    if len(verdict.findings) <= settings.max_findings:
        status = "warning" if verdict.advisories else "passed"
        return Outcome(rule, subject, settings, status, verdict)
    status = "failed" if settings.severity == "error" else "warning"
    return Outcome(rule, subject, settings, status, verdict)
