"""Scanning and facts access: the run's facts store, made once.

The backup's store comes from the cache under pytest's cache directory, or a
new scan; each media target's inventory joins it in a store of this run only.
Under ``--jira-redact`` every file the run creates is private, and the facts
show identities through a :class:`~pytest_jiramigrate.report.redact.Redactor`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_jiramigrate.cache import (
    DEFAULT_CACHE_DAYS,
    DEFAULT_CACHE_MAX_MB,
    backup_store,
    evict,
    media_store,
)
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.core.terminal import printable
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.report.redact import Redactor, load_key
from pytest_jiramigrate.run.progress import ScanProgress


@dataclass
class FactsSource:
    """Where a run's facts come from, scanned once per session."""

    pytest_config: pytest.Config
    limits: ArchiveLimits
    #: the backup zip, if one was given
    backup: Path | None
    #: each media target: (path, node name)
    media: Sequence[tuple[Path, str]] = ()
    rescan: bool = False
    #: when this run started (under pytest-xdist, the controller's run): with
    #: ``--jira-rescan`` a store written since then is this run's own scan, used as is
    started: float = field(default_factory=time.time)
    #: processes that parse entities.xml; None: one per available core
    workers: int | None = None
    redact: bool = False
    #: the cache's limits: days unused, and MB in all (0: no limit)
    cache_days: float = DEFAULT_CACHE_DAYS
    cache_max_mb: float = DEFAULT_CACHE_MAX_MB
    #: the process's file-creation mask before --jira-redact made every new file private
    _umask: int | None = None
    _facts: Facts | None = None
    _scratch: Path | None = None

    def cache_dir(self) -> Path:
        """Under pytest's cache directory; a temporary one with ``-p no:cacheprovider``.

        A read-only working directory, where the cache cannot be made, is no
        reason to stop: pytest itself only warns there, and so does this run,
        keeping the facts in a temporary store that the next run makes again.
        """
        cache = getattr(self.pytest_config, "cache", None)
        if cache is None:
            return self.scratch()
        try:
            return Path(cache.mkdir("jiramigrate"))
        except OSError as error:
            warnings.warn(
                pytest.PytestCacheWarning(
                    "jiramigrate: cannot create its directory in pytest's cache "
                    f"({printable(str(error))}); the facts are kept in a temporary store "
                    "for this run only, so the next run scans the backup again. Make the "
                    "directory writable or set cache_dir in the pytest configuration."
                ),
                stacklevel=1,
            )
            return self.scratch()

    def scratch(self) -> Path:
        """A directory of this run only, removed when the run ends."""
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="jiramigrate-"))
        return self._scratch

    def __post_init__(self) -> None:
        if self.redact:
            # Under --jira-redact every file the run creates (facts store, key, JSON,
            # HTML, Markdown, CSV, JUnit XML) is readable by its owner only: 0600.
            self._umask = os.umask(0o077)

    def close(self) -> None:
        """Close the facts store and remove what this run wrote outside the cache."""
        if self._umask is not None:
            os.umask(self._umask)
            self._umask = None
        if self._facts is not None:
            self._facts.db.close()
            self._facts = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def facts(self) -> Facts:
        """The facts of the run, scanned once per session (the backup's from the cache)."""
        if self._facts is None:
            limits, cache = self.limits, self.cache_dir()
            backup = self.backup
            since = self.started if self.rescan else None
            store = (
                backup_store(
                    backup,
                    cache,
                    limits,
                    False,
                    self.progress,
                    scanned_since=since,
                    workers=self.workers,
                    say=self.say,
                )
                if backup
                else None
            )
            worker = getattr(self.pytest_config, "workerinput", {}).get("workerid", "gw0")
            if cache != self._scratch and worker == "gw0":
                # one process of a pytest-xdist run is enough (concurrent ones are safe); the
                # worker id is this run's config's, not the environment's (a run started by
                # another run's worker inherits its PYTEST_XDIST_WORKER)
                evict(cache, store, self.cache_days, self.cache_max_mb)
            if store is not None and self.redact:
                store.chmod(0o600)  # a store cached by an earlier run keeps its mode
            if self.media:
                work = self.scratch() / "facts.sqlite"
                facts = media_store(store, list(self.media), work, limits)
            else:
                assert store is not None, "a run has a backup, media, or both"
                facts = Facts.open(store)
            if self.redact:
                facts.mask = Redactor(load_key(cache))
            self._facts = facts
        return self._facts

    def say(self, line: str) -> None:
        """A line to the user on pytest's terminal (why the backup is scanned again)."""
        reporter = self.pytest_config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(printable(line))

    def progress(self, label: str, total: int) -> ScanProgress:
        """The progress line of a long scan, on pytest's terminal (silent when not a TTY)."""
        reporter = self.pytest_config.pluginmanager.get_plugin("terminalreporter")
        return ScanProgress(reporter, total, label)
