"""``jiramigrate fix BACKUP --out FIXED [--plan fixes.yaml] [--log changes.csv] [--dry-run]``.

Checks the backup, writes a copy with the plan's fixes applied (only the rows
a fix touches change, every other byte is copied), lists every changed or
dropped row in the log, checks the copy and prints both verdicts rule by rule.
The exit code is the second check's, so a CI job can run the loop as a gate.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from pytest_jiramigrate.commands.clean import (
    DEFAULT_LEVEL,
    XML_FILES,
    ByteSink,
    Change,
    CleanError,
    backup_members,
    clean_stream,
    copy_backup,
    issue_keys,
    refuse_unsafe_outputs,
)
from pytest_jiramigrate.commands.fix.plan import Plan, PlanError, load_plan, read_email_changes
from pytest_jiramigrate.commands.fix.rewrite import (
    LOG_FIELDS,
    AppDataDropper,
    Edit,
    EntityRewriter,
    FilterSink,
    RewriteError,
    RowFixes,
    blocks,
    email_targets,
    memberships_to_drop,
    take_inventory,
)
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.core.outputs import OutputError
from pytest_jiramigrate.report.exports import write_csv_atomically
from pytest_jiramigrate.scan.archive import ArchiveReadError, open_member
from pytest_jiramigrate.scan.entities import declared_encoding

_ENTITIES, _ACTIVEOBJECTS = XML_FILES
#: the plugin's pytest11 entry point name, for ``-p`` when autoloading is off
PLUGIN_NAME = "jiramigrate"


class FixError(Exception):
    """The fix cannot go on; the message is one line for the user."""


# --------------------------------------------------------------------------- the rewrite


def entities_member(source: Path, limits: ArchiveLimits) -> str:
    return next(m for m, name in backup_members(source, limits).items() if name == _ENTITIES)


def row_fixes(source: Path, plan: Plan, limits: ArchiveLimits) -> RowFixes:
    """What the row-level fixes change, from one inventory pass when a fix needs it."""
    fixes = RowFixes(long_text=plan.long_text)
    if not plan.memberships and plan.emails is None:
        return fixes
    # the copy checks the CRC of the same bytes, and is kept only when it passes
    with open_member(source, entities_member(source, limits), limits, verify_crc=False) as stream:
        first = stream.read(4096)
        encoding, _ = declared_encoding(first)
        inventory = take_inventory(_chained(first, stream), encoding)
    if plan.memberships:
        fixes.drop_memberships = memberships_to_drop(inventory)
    if plan.emails is not None:
        unmatched = email_targets(inventory, read_email_changes(plan.emails), fixes)
        if unmatched:
            miss, why = unmatched[0]
            hint = (
                " (adding rows is not a fix: give the user an address on the server)"
                if why != "is not"
                else ""
            )
            more = f"; {len(unmatched) - 1} more rows cannot be used" if len(unmatched) > 1 else ""
            raise PlanError(
                f"user {miss.user!r} {why} in the backup{hint}{more}",
                path=plan.emails,
                line=miss.line,
            )
    return fixes


def _chained(first: bytes, stream: BinaryIO) -> Iterator[bytes]:
    yield first
    yield from blocks(stream)


def write_fixed(
    source: Path, out: Path, plan: Plan, fixes: RowFixes, level: int = DEFAULT_LEVEL
) -> list[Edit]:
    """Write ``out`` with the plan's fixes; every change as one :class:`Edit`."""
    edits: list[Edit] = []
    limits = ArchiveLimits()

    def rewrite(name: str, stream: BinaryIO, sink: ByteSink) -> None:
        first = stream.read(4096)
        encoding, _ = declared_encoding(first)
        rewriter = _rewriter(name, plan, fixes, encoding, edits)
        target = sink if rewriter is None else FilterSink(rewriter, sink)
        if plan.characters is not None:
            changes = clean_stream(_Prefixed(first, stream), target, name, plan.characters)
            edits.extend(_character_edit(change) for change in changes)
        else:
            target.write(first)
            for block in blocks(stream):
                target.write(block)
        if isinstance(target, FilterSink):
            target.close()

    copy_backup(source, out, rewrite, limits, level)
    return resolve_keys(source, edits, limits)


def _rewriter(
    name: str, plan: Plan, fixes: RowFixes, encoding: str, edits: list[Edit]
) -> EntityRewriter | AppDataDropper | None:
    if name == _ENTITIES and fixes.any():
        return EntityRewriter(fixes, encoding, edits)
    if name == _ACTIVEOBJECTS and plan.app_data:
        return AppDataDropper(plan.app_data, edits)
    return None


class _Prefixed:
    """A stream with its first bytes, already read to find the encoding, put back."""

    def __init__(self, first: bytes, stream: BinaryIO) -> None:
        self.first = first
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        if self.first:
            head, self.first = self.first, b""
            return head
        return self.stream.read(size)


def _character_edit(change: Change) -> Edit:
    codepoint = "" if change.codepoint is None else f"U+{change.codepoint:04X}"
    return Edit(
        "characters",
        change.entity or "",
        change.entity_id or "",
        old=codepoint or change.raw.hex(" "),
        key=change.issue_key or "",
        note=f"{change.file} line {change.line} column {change.column}: {change.kind}",
        issue_id=change.issue_id or "",
    )


def resolve_keys(source: Path, edits: list[Edit], limits: ArchiveLimits) -> list[Edit]:
    """Fill in the issue key of edits to issues' content, in one more pass when needed."""
    wanted = {edit.issue_id for edit in edits if edit.issue_id and not edit.key}
    if not wanted:
        return edits
    # the copy has checked the CRC of these bytes
    with open_member(source, entities_member(source, limits), limits, verify_crc=False) as stream:
        keys = issue_keys(blocks(stream), wanted)
    return [
        replace(edit, key=keys[edit.issue_id]) if not edit.key and edit.issue_id in keys else edit
        for edit in edits
    ]


def write_log(edits: Sequence[Edit], path: Path) -> None:
    """The change log: one spreadsheet-safe CSV line per changed or dropped row."""
    write_csv_atomically(path, LOG_FIELDS, (edit.record() for edit in edits))


# --------------------------------------------------------------------------- the check


@dataclass(frozen=True)
class Check:
    """One run of the readiness suite: pytest's exit code and the JSON report."""

    exit_code: int
    report: Mapping[str, Any]

    def outcomes(self) -> dict[str, str]:
        """Each rule's outcome, with its number of findings when there are any."""
        shown = {}
        for entry in self.report.get("rules", []):
            findings = entry.get("findings") or 0
            count = f" ({findings})" if findings and entry.get("outcome") != "passed" else ""
            shown[str(entry.get("id"))] = f"{entry.get('outcome')}{count}"
        return shown


def run_suite(backup: Path, work: Path, name: str, config: Path | None = None) -> Check:
    """Run the readiness suite on ``backup`` in a fresh process, pinned to ``work``.

    The root directory, the ini file and the cache are pinned to ``work`` so
    that no conftest.py, pytest.ini or cache found beside the backup or in
    the current directory runs, and PYTEST_ADDOPTS cannot add plugins.
    Installed plugins load as in any pytest run; when the user turned their
    autoloading off, this plugin is still loaded by name.
    """
    report = work / f"{name}.json"
    ini = work / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(work),
        "-c",
        str(ini),
        f"--jira-backup={backup.resolve()}",
        f"--jira-report={report}",
        *([f"--jira-config={config.resolve()}"] if config else []),
    ]
    environment = {
        k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")
    }
    if environment.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        command += ["-p", PLUGIN_NAME]
    completed = subprocess.run(
        command, cwd=work, env=environment, capture_output=True, text=True, check=False
    )
    if not report.exists():
        lines = (completed.stderr or completed.stdout).strip().splitlines()
        raise FixError(f"the readiness check of {backup} did not run: {lines[-1] if lines else ''}")
    return Check(completed.returncode, json.loads(report.read_text(encoding="utf-8")))


def verdict_table(before: Check, after: Check) -> list[str]:
    """Before and after, one line per rule, changed rules marked."""
    first, second = before.outcomes(), after.outcomes()
    rules = list(dict.fromkeys([*first, *second]))
    width = max((len(rule) for rule in rules), default=4)
    lines = [f"  {'rule':<{width}}  {'before':<16}  after"]
    for rule in rules:
        old, new = first.get(rule, "-"), second.get(rule, "-")
        mark = "*" if old != new else " "
        lines.append(f"{mark} {rule:<{width}}  {old:<16}  {new}")
    return lines


# --------------------------------------------------------------------------- command line


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fix",
        help="check a site backup, write a fixed copy and check the copy",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("source", type=Path, metavar="BACKUP", help="the site backup zip")
    parser.add_argument("--out", type=Path, required=True, help="the fixed copy to write")
    parser.add_argument("--plan", type=Path, help="the fixes to apply (YAML); none by default")
    parser.add_argument("--log", type=Path, help="list every changed or dropped row (CSV)")
    parser.add_argument(
        "--config", type=Path, help="jiramigrate.yaml for both checks (thresholds, target)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="write the log and the table, not the copy"
    )
    parser.add_argument(
        "--level",
        type=int,
        choices=range(1, 10),
        default=DEFAULT_LEVEL,
        metavar="1-9",
        help=f"deflate level of the rewritten XML (default {DEFAULT_LEVEL})",
    )
    parser.add_argument("--force", action="store_true", help="overwrite --out and --log")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Check, fix, log and check again; 2 with a one-line message on any failure."""
    try:
        return _run(args)
    except (FixError, PlanError, CleanError, RewriteError, ArchiveReadError, OutputError) as error:
        return _fail(str(error))
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as error:
        return _fail(f"{type(error).__name__}: {error}")


def _run(args: argparse.Namespace) -> int:
    plan = Plan() if args.plan is None else load_plan(args.plan)
    inputs = [path for path in (args.plan, plan.emails, args.config) if path is not None]
    refuse_unsafe_outputs(args.source, [args.out, args.log], args.force, inputs)
    limits = ArchiveLimits()
    backup_members(args.source, limits)  # a backup that cannot be read stops here
    fixes = row_fixes(args.source, plan, limits)
    with _work_directory(args.out.resolve().parent) as work:
        before = run_suite(args.source, work, "before", args.config)
        written = work / args.out.name if args.dry_run else args.out
        edits = write_fixed(args.source, written, plan, fixes, args.level)
        after = run_suite(written, work, "after", args.config)
    if args.log is not None:
        write_log(edits, args.log)
    _print_summary(args, plan, edits, before, after)
    return after.exit_code


@contextmanager
def _work_directory(beside: Path) -> Iterator[Path]:
    """A private directory beside the output for the checks' reports (and a dry run's copy)."""
    with tempfile.TemporaryDirectory(prefix=".jiramigrate-fix-", dir=beside) as work:
        yield Path(work)


def _print_summary(
    args: argparse.Namespace, plan: Plan, edits: Sequence[Edit], before: Check, after: Check
) -> None:
    fixes = ", ".join(plan.enabled()) or "none (no --plan)"
    print(f"fixes: {fixes}")
    counts: dict[str, int] = {}
    for edit in edits:
        counts[edit.fix] = counts.get(edit.fix, 0) + 1
    changed = ", ".join(f"{fix}: {count}" for fix, count in counts.items()) or "no row changed"
    where = "nothing written (--dry-run)" if args.dry_run else f"wrote {args.out}"
    print(f"{len(edits)} changes ({changed}); {where}")
    if any(edit.fix == "long-text" for edit in edits):
        print("long-text: data lost; the cut characters are not in the copy (the log counts them)")
    if args.log is not None:
        print(f"listed every change in {args.log}")
    print("readiness before and after (* changed):")
    print("\n".join(verdict_table(before, after)))
    print(f"exit code {after.exit_code} (the check of the fixed copy)")


def _fail(message: str) -> int:
    print(f"jiramigrate fix: {message}", file=sys.stderr)
    return 2
