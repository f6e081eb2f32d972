"""The built-in readiness rules, one module per rule group.

A rule's id tells where it lives: the catalogue in the README lists each id
with its module (``archive``, ``users``, ``groups``, ``content``, ``media``,
``after_import``).
This package is registered as a plugin and contributes the rules through the
same ``pytest_jiramigrate_rules`` hook that conftest.py files and other
plugins use.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pytest_jiramigrate.rules import after_import, archive, content, groups, media, users
from pytest_jiramigrate.rules.base import Rule


@pytest.hookimpl
def pytest_jiramigrate_rules(config: pytest.Config) -> Sequence[Rule]:
    return [
        *archive.RULES,
        *users.RULES,
        *groups.RULES,
        *content.RULES,
        *media.RULES,
        *after_import.RULES,
    ]
