"""The collection tree: one collector per backup (or media target), one item per rule."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_jiramigrate import JiraReadinessWarning
from pytest_jiramigrate.outcome import Outcome
from pytest_jiramigrate.report.text import Crash, FailureRepr, failure_text
from pytest_jiramigrate.rules.base import Rule

if TYPE_CHECKING:
    from pytest_jiramigrate.session import JiraSession, Target


class RuleFailed(Exception):
    """Raised by a rule item whose findings exceed what the configuration allows."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.summary)
        self.outcome = outcome


class TargetFile(pytest.File):
    """A backup zip or media target, collected as the parent of its rule items."""

    target: Target
    jira: JiraSession

    @classmethod
    def for_target(cls, session: pytest.Session, jira: JiraSession, target: Target) -> TargetFile:
        node = cls.from_parent(session, path=target.path, nodeid=target.name)
        node.target, node.jira = target, jira
        return node

    def collect(self) -> Iterator[RuleItem]:
        for rule in self.jira.rules_for(self.target):
            yield RuleItem.from_parent(self, name=rule.id, rule=rule)


class RuleItem(pytest.Item):
    """One readiness rule checked against one target; the item's name is the rule id."""

    parent: TargetFile

    def __init__(self, *, rule: Rule, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rule = rule
        self.outcome: Outcome | None = None

    def runtest(self) -> None:
        jira = self.parent.jira
        outcome = self.outcome = jira.check(self.parent.target, self.rule)
        self.user_properties += jira.properties(outcome)
        if outcome.status == "skipped" or outcome.reason.startswith("not checked"):
            pytest.skip(outcome.reason)
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
            text = failure_text(self.outcome, self.parent.jira.config.max_listed)
            return FailureRepr(text, Crash(str(self.path), None, self.outcome.summary))
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.parent.target.name}::{self.rule.id}"
