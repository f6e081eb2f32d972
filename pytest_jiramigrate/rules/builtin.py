"""The built-in readiness rules, as a plugin.

Registered by the plugin, this module contributes every rule group through the
same ``pytest_jiramigrate_rules`` hook that conftest.py files and other plugins
use.
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
