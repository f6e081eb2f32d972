"""One streaming pass over ``activeobjects.xml``: tables, row counts and XML faults.

The Active Objects backup (``<backup xmlns="http://www.atlassian.com/ao">``)
holds the data of apps (boards, sprints, ...).  What the import needs is that
it is present, well-formed and free of forbidden characters, and the
inventory of its tables; the only values read are Jira Software's boards,
their columns and the statuses of each column (``board-integrity``).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from typing import BinaryIO

from lxml import etree

from pytest_jiramigrate.scan.entities import (
    CHUNK,
    declared_encoding,
    element_events,
    pull_parser,
)
from pytest_jiramigrate.scan.xmlchars import BadChar, CharScanner

FILE = "activeobjects.xml"
_AO = "{http://www.atlassian.com/ao}"
_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"

#: Jira Software (com.pyxis.greenhopper.jira) tables whose values are kept:
#: table -> (facts table, the columns kept, in the facts table's order)
BOARD_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "AO_60DB71_RAPIDVIEW": ("board", ("ID", "NAME", "OWNER_USER_NAME", "SAVED_FILTER_ID")),
    "AO_60DB71_COLUMN": ("board_column", ("ID", "RAPID_VIEW_ID", "NAME")),
    "AO_60DB71_COLUMNSTATUS": ("board_column_status", ("ID", "COLUMN_ID", "STATUS_ID")),
}


def scan_activeobjects(
    stream: BinaryIO,
    db: sqlite3.Connection,
    size: int = 0,
    progress: Callable[[int], None] | None = None,
) -> str | None:
    """Scan one activeobjects.xml stream into ``db``; why it was not read to the end, or None.

    ``progress`` is told the bytes read so far (the progress line's only input).
    """
    head = stream.read(CHUNK)
    encoding, _bom = declared_encoding(head)
    chars = CharScanner(encoding)
    parser = pull_parser(("end",))
    columns: Counter[str] = Counter()
    rows: Counter[str] = Counter()
    bad: list[BadChar] = []
    kept: list[tuple[str, tuple[str | None, ...]]] = []
    reason = None
    done = 0
    try:
        chunk = head
        while chunk:
            data, found = chars.feed(chunk)
            bad += found
            parser.feed(data)
            _count(parser, columns, rows, kept)
            done += len(chunk)
            if progress is not None:
                progress(done)
            chunk = stream.read(CHUNK)
        data, found = chars.finish()
        bad += found
        parser.feed(data)
        parser.close()
        _count(parser, columns, rows, kept)
    except etree.XMLSyntaxError as error:
        line, column = error.position if error.position else (None, None)
        db.execute(
            "INSERT INTO xml_problem VALUES (?, 'not-well-formed', ?, ?, NULL, NULL, NULL, ?)",
            (FILE, line, column, error.msg or str(error)),
        )
        reason = f"activeobjects.xml is not well-formed at line {line}"
    except (LookupError, ValueError) as error:
        db.execute(
            "INSERT INTO xml_problem VALUES (?, 'not-well-formed', 1, 1, NULL, NULL, NULL, ?)",
            (FILE, f"cannot decode activeobjects.xml: {error}"),
        )
        reason = f"activeobjects.xml cannot be decoded: {error}"
    db.executemany(
        "INSERT INTO xml_problem VALUES (?, 'invalid-char', ?, ?, NULL, NULL, ?, ?)",
        [(FILE, b.line, b.column, b.codepoint, b.describe()) for b in bad],
    )
    db.executemany(
        "INSERT INTO ao_table VALUES (?, ?, ?)",
        [(name, columns[name], rows[name]) for name in sorted(columns.keys() | rows.keys())],
    )
    for table, values in kept:
        db.execute(f"INSERT INTO {table} VALUES ({','.join('?' * len(values))})", values)
    db.execute("INSERT INTO entity_count VALUES (?, 'row', ?)", (FILE, sum(rows.values())))
    return reason


def _count(
    parser: etree.XMLPullParser,
    columns: Counter[str],
    rows: Counter[str],
    kept: list[tuple[str, tuple[str | None, ...]]],
) -> None:
    """Count table definitions and data rows as their elements end, then drop them;
    rows of the board tables are kept in ``kept`` as (facts table, values)."""
    for _event, element in element_events(parser):
        tag = element.tag
        parent = element.getparent()
        if tag == f"{_AO}row" and parent is not None:
            table = parent.get("tableName", "")
            rows[table] += 1
            if table in BOARD_TABLES:
                kept.append(_board_row(parent, element, *BOARD_TABLES[table]))
        elif tag == f"{_AO}table":
            columns[element.get("name", "")] = len(element)
        elif tag != f"{_AO}data":
            continue
        if parent is not None:
            parent.remove(element)


def _board_row(
    data: etree._Element, row: etree._Element, table: str, wanted: tuple[str, ...]
) -> tuple[str, tuple[str | None, ...]]:
    """The ``wanted`` columns of one data row, by the column names its table lists first."""
    names = [column.get("name") for column in data.iterchildren(f"{_AO}column")]
    values = {
        name: None if value.get(_NIL) == "true" else (value.text or "")
        for name, value in zip(names, row.iterchildren(), strict=False)
    }
    return table, tuple(values.get(name) for name in wanted)
