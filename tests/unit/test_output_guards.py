"""outputs.check_output: every way an output path could harm an input is refused up front."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_jiramigrate.core.outputs import OutputError, check_output


def test_a_fresh_file_beside_the_inputs_is_accepted_and_resolved(tmp_path: Path) -> None:
    source = tmp_path / "site-backup.zip"
    source.write_bytes(b"zip")
    assert check_output(tmp_path / "sub" / ".." / "out.zip", [source]) == tmp_path / "out.zip"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "media" / "report.json", "lies inside the input directory"),
        (lambda d: d / "media", "is an input"),
        (lambda d: d / "site-backup.zip", "is an input"),
        (lambda d: d / "existing-dir", "is a directory"),
        (lambda d: d / "missing" / "report.json", "does not exist"),
    ],
)
def test_refused_outputs(tmp_path: Path, make: Callable[[Path], Path], message: str) -> None:
    source = tmp_path / "site-backup.zip"
    source.write_bytes(b"zip")
    (tmp_path / "media").mkdir()
    (tmp_path / "existing-dir").mkdir()
    with pytest.raises(OutputError) as error:
        check_output(make(tmp_path), [source, tmp_path / "media"])
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_directory_output_may_exist_but_not_be_a_file(tmp_path: Path) -> None:
    (tmp_path / "export").mkdir()
    assert check_output(tmp_path / "export", [], directory=True) == tmp_path / "export"
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="exists and is not a directory"):
        check_output(tmp_path / "file", [], directory=True)


def test_a_parent_that_cannot_be_written_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Faked, so that the test means the same as root and as any other user."""
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(OutputError, match="is not writable"):
        check_output(tmp_path / "out.zip", [])
