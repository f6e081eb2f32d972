"""Custom rules written in the YAML file: one read-only SQL query each.

Administrators who do not write Python can still add a site-specific check
(``custom_rules:`` in ``jiramigrate.yaml``): a SELECT over the facts store
whose every returned row is an offender.  The configuration loader turns each
entry into an ordinary :class:`~pytest_jiramigrate.rules.base.Rule` whose
check is a :class:`SQLCheck`, so it gets the same test item, report entry and
``rules.<id>`` overrides as a built-in rule.

The query comes from a file that travels with customer data, so it runs
under an SQLite authorizer that allows reading and nothing else (no writes,
no ``ATTACH``, no ``PRAGMA``), on the read-only store, one statement only.
Anything SQLite refuses or fails on becomes :class:`SQLError`, which the
outcome turns into that item's error message; the session goes on.
"""

from __future__ import annotations

import sqlite3
import string
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pytest_jiramigrate.facts import Facts, Mask, mask_columns
from pytest_jiramigrate.rules.base import Finding, Rule, RuleSettings, Severity, Verdict

#: What the authorizer lets a custom query do: read tables and call functions.
ALLOWED_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION})

#: The authorizer's action codes by name, so that a refusal says what the query attempted.
_ACTION_NAMES: dict[int, str] = {
    getattr(sqlite3, f"SQLITE_{name}"): name.replace("_", " ")
    for name in (
        "CREATE_INDEX", "CREATE_TABLE", "CREATE_TEMP_INDEX", "CREATE_TEMP_TABLE",
        "CREATE_TEMP_TRIGGER", "CREATE_TEMP_VIEW", "CREATE_TRIGGER", "CREATE_VIEW", "DELETE",
        "DROP_INDEX", "DROP_TABLE", "DROP_TEMP_INDEX", "DROP_TEMP_TABLE", "DROP_TEMP_TRIGGER",
        "DROP_TEMP_VIEW", "DROP_TRIGGER", "DROP_VIEW", "INSERT", "PRAGMA", "TRANSACTION",
        "UPDATE", "ATTACH", "DETACH", "ALTER_TABLE", "REINDEX", "ANALYZE", "CREATE_VTABLE",
        "DROP_VTABLE", "SAVEPOINT", "RECURSIVE",
    )
}  # fmt: skip


class SQLError(Exception):
    """A custom rule's query was refused or failed; the message says why, in SQLite's words."""


@dataclass(frozen=True)
class SQLCheck:
    """The check of a YAML custom rule: every row the query returns is one finding.

    ``finding`` is an optional :meth:`str.format` template over the columns
    (``"{user_name} <{email}>"``); without it a finding reads ``col=value, ...``.
    """

    sql: str
    finding: str = ""

    def __call__(self, facts: Facts, settings: RuleSettings) -> Verdict:
        columns, rows = run_read_only(facts.db, self.sql)
        findings = [self._finding(columns, row, facts.mask) for row in rows]
        if not findings:
            return Verdict(findings=(), summary="The custom rule's query returned no rows.")
        noun = "row" if len(findings) == 1 else "rows"
        return Verdict(
            findings=findings,
            summary=f"The custom rule's query returned {len(findings)} offending {noun}.",
            observed=len(findings),
            limit=settings.max_findings,
        )

    def _finding(self, columns: Sequence[str], row: Sequence[Any], mask: Mask) -> Finding:
        """The row as a finding: identity columns (``user_name``, ``email``...) masked under
        --jira-redact before the text is formatted from them."""
        plain = {column: _plain(value) for column, value in zip(columns, row, strict=True)}
        fields = mask_columns(plain, mask)
        if not self.finding:
            return Finding(", ".join(f"{name}={value}" for name, value in fields.items()), fields)
        try:
            text = self.finding.format_map(fields)
        except KeyError as error:
            raise SQLError(
                f"the finding format names {{{error.args[0]}}} but the query returns only "
                f"the columns {', '.join(columns)}"
            ) from None
        return Finding(text, fields)


def sql_rule(
    *,
    id: str,
    title: str,
    why: str,
    fix: str,
    sql: str,
    severity: Severity = "error",
    finding: str = "",
) -> Rule:
    """A rule whose offenders are the rows ``sql`` returns; each ``custom_rules:`` entry is one."""
    return Rule(
        id=id,
        title=title,
        why=" ".join(why.split()),
        fix=fix.strip(),
        check=SQLCheck(sql=sql.strip(), finding=finding),
        severity=severity,
        sql=sql.strip(),
        group="custom",
    )


def format_problem(template: str) -> str | None:
    """Why ``template`` is not a usable finding format (None when it is), checked at load time.

    Only plain ``{column}`` fields are accepted: attribute and index lookups
    (``{a.b}``, ``{a[0]}``) would let the YAML reach into Python objects.
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        return f"not a valid format string: {error}"
    for _literal, name, _spec, _conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            return f"{{{name}}} is not a column name; write {{column}} with the column's name"
    return None


def run_read_only(db: sqlite3.Connection, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one SELECT under an authorizer that refuses everything but reading.

    Returns the column names and the rows.  ``sqlite3`` itself refuses more
    than one statement; the authorizer refuses writes, ``ATTACH``, ``PRAGMA``
    and the like while the statement is prepared, so nothing runs.
    """
    refused: list[str] = []
    with _authorizer(db, refused):
        try:
            cursor = db.execute(sql)
            rows = cursor.fetchall()
        except (sqlite3.Warning, sqlite3.Error) as error:
            if refused:
                raise SQLError(
                    f"only a read-only SELECT is allowed, and the query asks for {refused[0]}"
                ) from None
            raise SQLError(f"SQL error: {error}") from None
    if cursor.description is None:
        raise SQLError("only a read-only SELECT is allowed; the statement returns no rows")
    return [column[0] for column in cursor.description], rows


@contextmanager
def _authorizer(db: sqlite3.Connection, refused: list[str]) -> Iterator[None]:
    """Install the read-only authorizer for one query; the shared connection is left as it was."""

    def authorize(
        action: int, first: str | None, second: str | None, database: str | None, trigger: Any
    ) -> int:
        if action in ALLOWED_ACTIONS:
            return sqlite3.SQLITE_OK
        name = _ACTION_NAMES.get(action, f"action {action}")
        target = ", ".join(part for part in (first, second) if part)
        refused.append(f"{name} ({target})" if target else name)
        return sqlite3.SQLITE_DENY

    db.set_authorizer(authorize)
    try:
        yield
    finally:
        db.set_authorizer(None)


def _plain(value: Any) -> Any:
    """A value the JSON report can hold: BLOBs are shown as hex."""
    return value.hex() if isinstance(value, bytes) else value


def custom_rule_entry(rule: Rule) -> Mapping[str, Any] | None:
    """The ``custom_rules:`` entry a rule came from, for the report (None: not a YAML rule)."""
    check = rule.check
    if not isinstance(check, SQLCheck):
        return None
    return {
        "id": rule.id,
        "title": rule.title,
        "why": rule.why,
        "fix": rule.fix,
        "sql": check.sql,
        "finding": check.finding,
    }
