"""Custom rules written in the YAML file: one read-only SQL query each.

Administrators who do not write Python can still add a site-specific check
(``custom_rules:`` in ``jiramigrate.yaml``): a SELECT over the facts store
whose every returned row is an offender.  The configuration loader turns each
entry into an ordinary :class:`~pytest_jiramigrate.rules.base.Rule` whose
check is a :class:`SQLCheck`, so it gets the same test item, report entry and
``rules.<id>`` overrides as a built-in rule.

The query comes from a file that travels with customer data, so it runs
under an SQLite authorizer that allows reading and nothing else (no writes,
no ``ATTACH``, no ``PRAGMA``, only the SQL functions of
:data:`ALLOWED_FUNCTIONS`), on the read-only store, one statement only, and
within a :class:`QueryBudget` of time and rows, so that a cross join cannot
hang the session.  Anything SQLite refuses or fails on, and a spent budget,
becomes :class:`SQLError`, which the outcome turns into that item's error
message; the session goes on.
"""

from __future__ import annotations

import sqlite3
import string
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pytest_jiramigrate.facts import Facts, Mask, mask_columns
from pytest_jiramigrate.rules.base import Finding, Rule, RuleSettings, Severity, Verdict

#: What the authorizer lets a custom query do: read tables and call functions.
ALLOWED_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION})

#: The SQL functions a custom query may call: SQLite's core, aggregate, window, date and
#: JSON functions that only compute a value.  Anything not listed is refused, notably
#: ``load_extension`` and ``fts3_tokenizer`` (whose two-argument form registers a tokenizer
#: at a raw address, a known exploitation primitive), and the functions that make huge values
#: in one step, which no time budget can interrupt (``printf``/``format`` widths,
#: ``zeroblob``, ``randomblob``).
ALLOWED_FUNCTIONS = frozenset(
    {
        # scalar
        "abs", "char", "coalesce", "concat", "concat_ws", "glob", "hex", "ifnull", "iif",
        "instr", "length", "like", "likelihood", "likely", "lower", "ltrim", "max", "min",
        "nullif", "octet_length", "quote", "replace", "round", "rtrim", "sign", "substr",
        "substring", "trim", "typeof", "unhex", "unicode", "unlikely", "upper",
        # aggregate
        "avg", "count", "group_concat", "string_agg", "sum", "total",
        # window
        "cume_dist", "dense_rank", "first_value", "lag", "last_value", "lead", "nth_value",
        "ntile", "percent_rank", "rank", "row_number",
        # date and time
        "date", "datetime", "julianday", "strftime", "time", "timediff", "unixepoch",
        # JSON
        "json", "json_array", "json_array_length", "json_extract", "json_group_array",
        "json_group_object", "json_object", "json_quote", "json_type", "json_valid",
    }
)  # fmt: skip

#: How many SQLite virtual-machine instructions run between two looks at the clock.
_PROGRESS_INTERVAL = 10_000

#: Rows fetched from SQLite at a time while counting them against the row budget.
_FETCH_BATCH = 1_000

#: The largest string or BLOB a custom query may make or read (SQLite's default is 1 GB):
#: one call of ``replace`` or ``group_concat`` runs to its end between two looks at the clock.
MAX_VALUE_BYTES = 64 << 20

#: ``SQLITE_LIMIT_LENGTH``, which the ``sqlite3`` module names only from Python 3.11
_LIMIT_LENGTH = 0

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
class QueryBudget:
    """How long a custom query may run and how many rows it may return.

    The YAML sets both per rule (``timeout``, ``max_rows``); the defaults let a
    sensible query over a large site through and stop a runaway one.
    """

    seconds: float = 30.0
    max_rows: int = 100_000


@dataclass(frozen=True)
class SQLCheck:
    """The check of a YAML custom rule: every row the query returns is one finding.

    ``finding`` is an optional :meth:`str.format` template over the columns
    (``"{user_name} <{email}>"``); without it a finding reads ``col=value, ...``.
    """

    sql: str
    finding: str = ""
    budget: QueryBudget = QueryBudget()

    def __call__(self, facts: Facts, settings: RuleSettings) -> Verdict:
        columns, rows = run_read_only(facts.db, self.sql, self.budget)
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
    budget: QueryBudget = QueryBudget(),
) -> Rule:
    """A rule whose offenders are the rows ``sql`` returns; each ``custom_rules:`` entry is one."""
    return Rule(
        id=id,
        title=title,
        why=" ".join(why.split()),
        fix=fix.strip(),
        check=SQLCheck(sql=sql.strip(), finding=finding, budget=budget),
        severity=severity,
        sql=sql.strip(),
        group="custom",
    )


def format_problem(template: str) -> str | None:
    """Why ``template`` is not a usable finding format (None when it is), checked at load time.

    Only plain ``{column}`` fields are accepted: attribute and index lookups
    (``{a.b}``, ``{a[0]}``) would let the YAML reach into Python objects, and a
    format spec or conversion (``{a:>200000000}``, ``{a!r}``) would let one row
    take gigabytes of memory.
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        return f"not a valid format string: {error}"
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            return f"{{{name}}} is not a column name; write {{column}} with the column's name"
        if spec or conversion:
            written = (
                f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}"
            )
            return f"{written} has a format spec or conversion; write a plain {{{name}}}"
    return None


def run_read_only(
    db: sqlite3.Connection, sql: str, budget: QueryBudget = QueryBudget()
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one SELECT under an authorizer that refuses everything but reading, within ``budget``.

    Returns the column names and the rows.  ``sqlite3`` itself refuses more
    than one statement; the authorizer refuses writes, ``ATTACH``, ``PRAGMA``,
    unlisted functions and the like while the statement is prepared, so
    nothing runs.  SQLite's progress handler interrupts the query once its
    time is spent; rows are counted as they are fetched.
    """
    refused: list[str] = []
    with _authorizer(db, refused), _deadline(db, budget.seconds) as timed_out:
        try:
            cursor = db.execute(sql)
            rows = _fetch_within(cursor, budget.max_rows)
        except (sqlite3.Warning, sqlite3.Error) as error:
            if refused:
                raise SQLError(refused[0]) from None
            if timed_out():
                raise SQLError(
                    f"the query ran out of its time budget of {budget.seconds:g} s and was "
                    "stopped; make it cheaper, or raise the rule's timeout"
                ) from None
            raise SQLError(f"SQL error: {error}") from None
    if cursor.description is None:
        raise SQLError("only a read-only SELECT is allowed; the statement returns no rows")
    return [column[0] for column in cursor.description], rows


def _fetch_within(cursor: sqlite3.Cursor, max_rows: int) -> list[tuple[Any, ...]]:
    """All rows, or :class:`SQLError` as soon as there are more than ``max_rows``."""
    rows: list[tuple[Any, ...]] = []
    while batch := cursor.fetchmany(_FETCH_BATCH):
        rows.extend(batch)
        if len(rows) > max_rows:
            raise SQLError(
                f"the query returned more than {max_rows:,} rows, its row budget, and was "
                "stopped; narrow it, or raise the rule's max_rows"
            )
    return rows


@contextmanager
def _deadline(db: sqlite3.Connection, seconds: float) -> Iterator[Callable[[], bool]]:
    """Interrupt the connection's statements after ``seconds``, and cap the size of one value
    at :data:`MAX_VALUE_BYTES`; yields "has the time run out?"."""
    deadline = time.monotonic() + seconds

    def spent() -> bool:
        return time.monotonic() > deadline

    db.set_progress_handler(spent, _PROGRESS_INTERVAL)
    # Connection.setlimit is Python 3.11+; on 3.10 the time and row budgets still hold
    setlimit = getattr(db, "setlimit", None)
    length = setlimit(_LIMIT_LENGTH, MAX_VALUE_BYTES) if setlimit else None
    try:
        yield spent
    finally:
        db.set_progress_handler(None, 0)
        if setlimit and length is not None:
            setlimit(_LIMIT_LENGTH, length)


@contextmanager
def _authorizer(db: sqlite3.Connection, refused: list[str]) -> Iterator[None]:
    """Install the read-only authorizer for one query; the shared connection is left as it was."""

    def authorize(
        action: int, first: str | None, second: str | None, database: str | None, trigger: Any
    ) -> int:
        if action == sqlite3.SQLITE_FUNCTION:
            if second is not None and second.lower() in ALLOWED_FUNCTIONS:
                return sqlite3.SQLITE_OK
            refused.append(
                f"the query calls {second}(), which custom rules may not call "
                "(only the SQL functions listed in the README are allowed)"
            )
            return sqlite3.SQLITE_DENY
        if action in ALLOWED_ACTIONS:
            return sqlite3.SQLITE_OK
        name = _ACTION_NAMES.get(action, f"action {action}")
        target = ", ".join(part for part in (first, second) if part)
        refused.append(
            "only a read-only SELECT is allowed, and the query asks for "
            + (f"{name} ({target})" if target else name)
        )
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
        "timeout": check.budget.seconds,
        "max_rows": check.budget.max_rows,
    }
