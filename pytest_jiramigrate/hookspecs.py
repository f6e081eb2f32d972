"""Hooks that pytest-jiramigrate adds to pytest, for conftest.py files and other plugins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_jiramigrate.rules.base import Rule


@pytest.hookspec
def pytest_jiramigrate_rules(config: pytest.Config) -> Sequence[Rule]:  # type: ignore[empty-body]
    """Return readiness rules to check, each a :class:`pytest_jiramigrate.Rule`.

    Every implementation is called and the results are joined; the built-in
    rules arrive through this same hook.  Rule ids must be unique across all
    implementations: a clash is a usage error.

    .. code-block:: python

        # conftest.py
        from pytest_jiramigrate import Finding, Verdict, rule

        @rule(id="no-contractor-users", title="...", why="...", fix="...")
        def no_contractors(facts, settings):
            ...

        def pytest_jiramigrate_rules(config):
            return [no_contractors]
    """
