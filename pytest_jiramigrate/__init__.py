"""pytest-jiramigrate: will this Jira backup import cleanly into Jira Cloud?"""

from __future__ import annotations

import pytest

from pytest_jiramigrate.rules.base import Finding, Rule, RuleSettings, Threshold, Verdict, rule

__version__ = "0.1.0"


class JiraReadinessWarning(pytest.PytestWarning):
    """A readiness rule with severity ``warning`` found something.

    Turn it into a failure with ``--jira-strict`` or
    ``-W error::pytest_jiramigrate.JiraReadinessWarning``.
    """


__all__ = [
    "Finding",
    "JiraReadinessWarning",
    "Rule",
    "RuleSettings",
    "Threshold",
    "Verdict",
    "__version__",
    "rule",
]
