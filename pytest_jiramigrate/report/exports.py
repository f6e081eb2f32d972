"""CSV exports of the offenders, one file per failed or warned rule, for fixing in bulk.

An administrator fixes hundreds of e-mail addresses with a spreadsheet or a
bulk-edit script, not by reading a failure message, so each rule's offenders
are written as ``<rule-id>.csv`` with one column per item field.  The cells
hold customer data and the files are opened in spreadsheets, so a cell that a
spreadsheet would run as a formula is neutralised (OWASP "CSV Injection").
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_jiramigrate.core.space import NoSpaceError, out_of_space
from pytest_jiramigrate.report.model import items_omitted, omitted_note

#: The columns an administrator looks for first, in this order, when an item has them.
PREFERRED_COLUMNS: tuple[str, ...] = (
    "target",
    "user",
    "display_name",
    "email",
    "directory",
    "issue_key",
    "issue",
    "field",
    "length",
    "characters",
)

#: The human-readable line comes last: it repeats the columns before it.
LAST_COLUMNS: tuple[str, ...] = ("detail",)

#: Leading characters that make Excel, LibreOffice or Google Sheets evaluate a cell.
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

#: Names the CSVs of the last run, so that the next run removes those of rules that now pass.
EXPORT_MANIFEST = ".jiramigrate-export.json"

_EXPORTED_OUTCOMES = ("failed", "warning")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def write_exports(report: Mapping[str, Any], directory: Path) -> list[Path]:
    """Write ``<rule-id>.csv`` for every failed or warned rule with offenders; return the paths.

    A rule checked on several targets (media chunks) gets one file with a
    ``target`` column.  Each file is replaced atomically, so a spreadsheet or
    a CI artifact upload never sees half a file.
    """
    directory.mkdir(exist_ok=True)
    previous = previous_exports(directory / EXPORT_MANIFEST)
    written = []
    for rule_id, entries in exported_rules(report.get("rules", [])).items():
        several_targets = len({entry.get("target") for entry in entries}) > 1
        rows = []
        for entry in entries:
            where = {"target": entry.get("target")} if several_targets else {}
            rows += [{**where, **item} for item in entry.get("items") or []]
            rows += omitted_rows(entry, where)
        path = directory / f"{file_stem(rule_id)}.csv"
        keep_edited(path, previous)
        write_csv_atomically(path, columns(rows), rows)
        written.append(path)
    record_exports(directory, written, previous)
    return written


def omitted_rows(entry: Mapping[str, Any], where: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A last row "… and N more (...)" when the report did not store every finding of
    ``entry`` (``report.max_stored``): a spreadsheet of 1,000 rows must not pass for
    the whole list.  Only its ``detail`` cell (and ``target``) is filled, so a bulk-edit
    script that reads the identifying columns finds no user in it, and the fix loop
    skips it as it skips every row without a ``new_email``.
    """
    note = omitted_note(entry, len(entry.get("items") or ()))
    return [{**where, "detail": f"… {note}"}] if note else []


def keep_edited(path: Path, previous: dict[str, str]) -> None:
    """Move a CSV that was edited since a run wrote it (the fix loop asks to edit the
    e-mail exports), or that this command never wrote, to ``<name>.edited.csv`` before a
    new export takes its name: nothing a user wrote is overwritten."""
    if not path.is_file() or path.is_symlink() or digest(path) == previous.get(path.name):
        return
    aside = path.with_name(f"{path.stem}.edited.csv")
    counter = 1
    while aside.exists():
        counter += 1
        aside = path.with_name(f"{path.stem}.edited-{counter}.csv")
    path.rename(aside)


def record_exports(directory: Path, written: list[Path], previous: dict[str, str]) -> None:
    """Remove the CSVs an earlier run wrote here for rules that now pass, and record this
    run's, each with its digest.

    Only files named in the previous run's manifest, and unchanged since, are
    removed: a file this command did not write, or one a user has edited since, is
    never deleted, whatever its name.
    """
    current = {path.name: digest(path) for path in written}
    for name, recorded in previous.items():
        stale = directory / name
        if name in current or not stale.is_file() or stale.is_symlink():
            continue
        if digest(stale) == recorded:
            stale.unlink()
    manifest = directory / EXPORT_MANIFEST
    temporary = manifest.with_name(f"{manifest.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(current, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, manifest)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def previous_exports(manifest: Path) -> dict[str, str]:
    """The CSV names a previous run recorded, with their digests; nothing when the manifest
    is absent or odd."""
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(recorded, dict):
        return {}
    return {
        name: value
        for name, value in recorded.items()
        if isinstance(name, str)
        and isinstance(value, str)
        and name.endswith(".csv")
        and name == Path(name).name
    }


def exported_rules(
    entries: Iterable[Mapping[str, Any]],
) -> dict[str, list[Mapping[str, Any]]]:
    """Failed and warned report entries with findings (stored or counted), grouped by
    rule id in report order."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for entry in entries:
        if entry.get("outcome") in _EXPORTED_OUTCOMES and (
            entry.get("items") or items_omitted(entry)
        ):
            grouped.setdefault(str(entry.get("id")), []).append(entry)
    return grouped


def file_stem(rule_id: str) -> str:
    """The rule id as a file name: built-in ids are kebab-case, a third party's may not be."""
    stem = _UNSAFE_NAME.sub("_", rule_id).lstrip(".")
    return stem or "rule"


def columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every key of every row: preferred ones first, then first-seen order, ``detail`` last."""
    seen = list(dict.fromkeys(key for row in rows for key in row))
    first = [name for name in PREFERRED_COLUMNS if name in seen]
    last = [name for name in LAST_COLUMNS if name in seen]
    middle = [name for name in seen if name not in first and name not in last]
    return [*first, *middle, *last]


def cell(value: Any) -> str | int | float:
    """One spreadsheet-safe cell: lists joined, mappings as JSON, formulas neutralised.

    Numbers stay numbers (a negative count is not a formula, and quoting it
    would stop spreadsheets from summing the column).
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, Mapping):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif isinstance(value, (list, tuple)):
        text = "; ".join(str(element) for element in value)
    else:
        text = str(value)
    return neutralise(text)


def neutralise(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would evaluate as a formula (OWASP guidance)."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def write_csv_atomically(
    path: Path, header: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> None:
    """Write a UTF-8 CSV beside ``path`` under a temporary name, then rename it into place.

    The temporary file is created like any other file (the umask decides its
    mode), so the export is as readable as the JSON report next to it.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("x", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow([neutralise(name) for name in header])
            for row in rows:
                writer.writerow([cell(row.get(name)) for name in header])
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if out_of_space(error):
            raise NoSpaceError(path, None, "write the exports to another disk") from error
        raise
