"""Which configuration file a run reads: ``--jira-config``, the ``jira_config`` ini key,
or ``jiramigrate.yaml`` in the rootdir."""

from __future__ import annotations

from pathlib import Path

from pytest_jiramigrate.config.reader import DEFAULT_CONFIG_NAME, ConfigError


def find_config(explicit: str | None, ini_value: str | None, rootdir: Path) -> Path | None:
    """Choose the configuration file: ``--jira-config``, else ``jira_config``, else the default.

    A path the user gave must exist (a typo would otherwise silently run with
    defaults); the default ``jiramigrate.yaml`` is optional.  An empty ini
    value counts as unset, because that is what pytest returns for an ini key
    nobody wrote.
    """
    if explicit is not None:
        return existing(Path(explicit).expanduser().absolute(), "--jira-config")
    if ini_value:
        given = Path(ini_value).expanduser()
        return existing(
            given if given.is_absolute() else rootdir / given, "the jira_config ini key"
        )
    default = rootdir / DEFAULT_CONFIG_NAME
    return default if default.exists() else None


def existing(path: Path, source: str) -> Path:
    if not path.exists():
        raise ConfigError(
            f"file not found (given by {source}); create it or correct the path", path=path
        )
    return path
