"""Readiness configuration: the Cloud site, e-mail domain lists, per-rule thresholds
and custom SQL rules.

Read from ``--jira-config``, the ``jira_config`` ini key, or ``jiramigrate.yaml``
in the rootdir (:mod:`.discovery`).  Every key has a documented built-in default.

The file decides whether a migration gate passes, so a typo must never be
silently ignored: every unknown key, wrong type and bad value is a
:class:`ConfigError` naming the file, the line and the dotted key
(:mod:`.reader`, :mod:`.converters`).  :mod:`.load` reads the sections and
:mod:`.custom` the ``custom_rules:`` list into the settings model (:mod:`.model`).
"""

from pytest_jiramigrate.config.discovery import find_config
from pytest_jiramigrate.config.load import load_config
from pytest_jiramigrate.config.model import Config
from pytest_jiramigrate.config.reader import ConfigError

__all__ = ["Config", "ConfigError", "find_config", "load_config"]
