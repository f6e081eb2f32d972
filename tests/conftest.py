"""Shared fixtures: synthetic backups built once per session, a pytester runner for them,
and the real-backup corpus, which tests request and which marks them ``corpus``.
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from corpus_path import CORPUS, CORPUS_MISSING

# pytester's in-process runs forget the modules first imported inside them, so a later
# run would import ``pytest_jiramigrate.run.warning`` afresh and raise a warning class other
# than the one its ``-W error::...JiraReadinessWarning`` filter resolved. Imported here,
# once, the plugin's run-time modules stay the same for every run.
import pytest_jiramigrate.run.items  # noqa: F401
from synth import Manifest, SynthSpec, write_backup


@dataclass(frozen=True)
class Backup:
    """A synthetic backup zip and the manifest that says what is wrong with it."""

    path: Path
    manifest: Manifest


BackupFactory = Callable[..., Backup]


@pytest.fixture(scope="session")
def synth_backup(tmp_path_factory: pytest.TempPathFactory) -> BackupFactory:
    """``synth_backup(*faults, **spec_fields)``: a backup built once per session.

    Writing a backup costs more than checking it, and most tests only read it,
    so each distinct spec is written once, outside every pytester rootdir.
    Tests that change the file on disk must copy it first (``backup_copy``).
    """
    built: dict[str, Backup] = {}

    def build(*faults: str, **fields: Any) -> Backup:
        key = json.dumps([sorted(faults), sorted(fields.items())])
        if key not in built:
            directory = tmp_path_factory.mktemp("synth")
            path = directory / "site-backup.zip"
            manifest = write_backup(path, SynthSpec(faults=faults, **fields))
            built[key] = Backup(path, manifest)
        return built[key]

    return build


@pytest.fixture
def backup_copy(synth_backup: BackupFactory, tmp_path: Path) -> BackupFactory:
    """Like ``synth_backup`` but a private copy in this test's tmp_path, free to touch or edit."""

    def copy(*faults: str, **fields: Any) -> Backup:
        shared = synth_backup(*faults, **fields)
        path = tmp_path / shared.path.name
        shutil.copy2(shared.path, path)
        return Backup(path, shared.manifest)

    return copy


JiraRun = Callable[..., pytest.RunResult]


@pytest.fixture
def run_jira(pytester: pytest.Pytester) -> JiraRun:
    """``run_jira(backup_path, *args, config=None)``: pytest on the backup, in process.

    ``config`` is written as ``jiramigrate.yaml`` in the rootdir (pytester.path),
    where the plugin looks for it by default.
    """

    def run(backup: Path | str, *args: str, config: str | None = None) -> pytest.RunResult:
        if config is not None:
            (pytester.path / "jiramigrate.yaml").write_text(config, encoding="utf-8")
        return pytester.runpytest_inprocess(f"--jira-backup={backup}", *args)

    return run


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester, with hypothesis's pytest plugin off in the inner runs.

    pytester restores ``sys.modules`` after every in-process run, and the
    hypothesis plugin re-imports (and assertion-rewrites) its whole package
    each time: about a second per run, for a plugin these runs never use.
    """
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest")
    return pytester


Denial = Callable[[Path], None]


@pytest.fixture
def deny_read(monkeypatch: pytest.MonkeyPatch) -> Denial:
    """``deny_read(path)``: opening, listing or access-checking ``path`` fails as chmod 000 would.

    Root reads a chmod 000 file, so a real chmod means one thing for root and another
    for everyone else. The operating system's refusal is faked instead, for this test's
    process only, so that the test means the same for every user.
    """
    denied: set[str] = set()

    def refused(path: object) -> bool:
        return isinstance(path, (str, os.PathLike)) and os.path.abspath(os.fspath(path)) in denied

    def refusal(path: object) -> PermissionError:
        return PermissionError(errno.EACCES, "Permission denied", os.fspath(path))  # type: ignore[call-overload]

    real_open, real_os_open, real_scandir, real_access = io.open, os.open, os.scandir, os.access

    def fake_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if refused(file):
            raise refusal(file)
        return real_open(file, *args, **kwargs)

    def fake_os_open(path: Any, *args: Any, **kwargs: Any) -> int:
        if refused(path):
            raise refusal(path)
        return real_os_open(path, *args, **kwargs)

    def fake_scandir(path: Any = ".") -> Any:
        if refused(path):
            raise refusal(path)
        return real_scandir(path)

    def fake_access(path: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        return not refused(path) and real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(io, "open", fake_open)
    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    monkeypatch.setattr(os, "scandir", fake_scandir)
    monkeypatch.setattr(os, "access", fake_access)
    return lambda path: denied.add(os.path.abspath(path))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The directory of real Jira backups (tests/corpus_path.py).

    A test that requests it, directly or through another fixture, is marked
    ``corpus`` and skipped when the corpus is absent, as on a fresh clone.
    """
    return CORPUS


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need the corpus, before ``-m`` selects, and skip them without it.

    ``tryfirst`` so that ``-m "not corpus"`` sees the marks added here.
    """
    corpus_present = CORPUS.is_dir()
    for item in items:
        if "corpus" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.corpus)
        if not corpus_present and item.get_closest_marker("corpus"):
            item.add_marker(pytest.mark.skip(reason=CORPUS_MISSING))
