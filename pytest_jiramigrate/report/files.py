"""Writing the reports asked for: JSON, the Markdown summary, CSV exports and HTML.

Each is rendered from the report's data (:mod:`pytest_jiramigrate.report.model`)
and written whole or not at all.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_jiramigrate.core.space import NoSpaceError, out_of_space
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.report.exports import write_exports
from pytest_jiramigrate.report.html import render_html
from pytest_jiramigrate.report.markdown import render_summary


@dataclass(frozen=True)
class ReportPaths:
    """Where the run writes its reports (``--jira-report``, ``-summary``, ``-export``,
    ``-html``); None for a report not asked for."""

    json: Path | None = None
    summary: Path | None = None
    export: Path | None = None
    html: Path | None = None


@dataclass
class Written:
    """What was written, for the terminal summary."""

    json: Path | None = None
    exports: list[Path] = field(default_factory=list)


def write_reports(report: dict[str, Any], paths: ReportPaths, facts: Facts | None) -> Written:
    """Render and write every report ``paths`` asks for; the Markdown summary is appended."""
    written = Written()
    if paths.json is not None:
        write_atomically(paths.json, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        written.json = paths.json
    if paths.summary is not None:
        with paths.summary.open("a", encoding="utf-8") as stream:
            stream.write(render_summary(report))
    if paths.export is not None:
        written.exports = write_exports(report, paths.export)
    if paths.html is not None:
        write_atomically(paths.html, render_html(report, facts))
    return written


def write_atomically(path: Path, text: str) -> None:
    """Write under a temporary name, then rename: a reader never sees half a report.

    A full disk is a :class:`NoSpaceError` naming the report and its size, and
    leaves neither a partial file nor a damaged old report behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    data = text.encode("utf-8")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError as error:
        if out_of_space(error):
            raise NoSpaceError(path, len(data), "write the report to another disk") from error
        raise
    finally:
        partial.unlink(missing_ok=True)
