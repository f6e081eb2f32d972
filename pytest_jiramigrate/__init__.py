"""pytest-jiramigrate: will this Jira backup import cleanly into Jira Cloud?

The public names are loaded on first use (PEP 562), so that importing a lower
layer such as ``pytest_jiramigrate.scan``, as the scanner's worker processes
do, does not load pytest, the rules and the configuration reader with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_jiramigrate.rules.base import Finding, Rule, RuleSettings, Threshold, Verdict, rule
    from pytest_jiramigrate.run.warning import JiraReadinessWarning

#: the one place the version is written; pyproject.toml reads it from here
__version__ = "0.1.0"

#: each public name and the module that defines it
_PUBLIC = {
    **dict.fromkeys(
        ("Finding", "Rule", "RuleSettings", "Threshold", "Verdict", "rule"),
        "pytest_jiramigrate.rules.base",
    ),
    "JiraReadinessWarning": "pytest_jiramigrate.run.warning",
}


def __getattr__(name: str) -> Any:
    """Import the module that defines a public name when the name is first asked for."""
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)


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
