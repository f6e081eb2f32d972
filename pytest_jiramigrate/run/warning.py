"""The warning a readiness rule of severity ``warning`` emits."""

from __future__ import annotations

import pytest


class JiraReadinessWarning(pytest.PytestWarning):
    """A readiness rule with severity ``warning`` found something.

    Turn it into a failure with ``--jira-strict`` or
    ``-W error::pytest_jiramigrate.JiraReadinessWarning``.
    """
