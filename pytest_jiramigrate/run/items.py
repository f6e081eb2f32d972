"""The collection tree: one collector per backup (or media target), one item per rule."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_jiramigrate.core.terminal import name_text, printable
from pytest_jiramigrate.report.model import junit_properties
from pytest_jiramigrate.report.text import Crash, FailureRepr, failure_text
from pytest_jiramigrate.rules.base import Rule
from pytest_jiramigrate.rules.outcome import Outcome
from pytest_jiramigrate.run.session import SESSION_KEY, JiraSession, Subject
from pytest_jiramigrate.run.warning import JiraReadinessWarning


class RuleFailed(Exception):
    """Raised by a rule item whose findings exceed what the configuration allows."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.summary)
        self.outcome = outcome


def run_state(node: pytest.Item | pytest.Collector) -> JiraSession:
    """The readiness run a node belongs to, from the stash ``pytest_configure`` filled."""
    return node.config.stash[SESSION_KEY]


class SubjectFile(pytest.File):
    """A subject (the backup zip or a media target), collected as the parent of its rule items."""

    def __init__(self, *, subject: Subject, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.subject = subject

    @classmethod
    def for_subject(cls, session: pytest.Session, subject: Subject) -> SubjectFile:
        return cls.from_parent(session, path=subject.path, nodeid=subject.name, subject=subject)

    def collect(self) -> Iterator[RuleItem]:
        for rule in run_state(self).rules_for(self.subject):
            yield RuleItem.from_parent(self, name=rule.id, rule=rule)


class RuleItem(pytest.Item):
    """One readiness rule checked against one target; the item's name is the rule id."""

    parent: SubjectFile

    def __init__(self, *, rule: Rule, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rule = rule
        self.outcome: Outcome | None = None

    def prepare(self) -> None:
        """Check the rule before setup, so that a rule that cannot run is skipped by a
        skip marker, which pytest reports at the item rather than at this file."""
        jira = run_state(self)
        outcome = self.outcome = jira.check(self.parent.subject, self.rule)
        self.user_properties += junit_properties(outcome)
        if outcome.status == "skipped" or outcome.reason.startswith("not checked"):
            self.add_marker(pytest.mark.skip(reason=printable(outcome.reason)))

    def runtest(self) -> None:
        outcome = self.outcome
        assert outcome is not None, "prepare() runs before the test"
        jira = run_state(self)
        if outcome.status in ("failed", "error"):
            raise RuleFailed(outcome)
        if outcome.status == "warning":
            warnings.warn_explicit(
                jira.warning_text(outcome),
                JiraReadinessWarning,
                filename=self.nodeid,
                lineno=0,
            )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if self.outcome is not None and excinfo.errisinstance((RuleFailed, JiraReadinessWarning)):
            jira = run_state(self)
            text = failure_text(
                self.outcome,
                jira.config.max_listed,
                placeholders=jira.placeholders(self.parent.subject),
                max_stored=jira.config.max_stored,
            )
            crash = Crash(str(self.path), None, printable(self.outcome.summary))
            return FailureRepr(text, crash)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int, str]:
        # the rule id alone: pytest turns every "." of a domain into "::"; the path escaped,
        # as pytest prints it raw in the "SKIPPED [1] path:line: reason" summary lines
        return printable(name_text(self.path)), 0, self.rule.id
