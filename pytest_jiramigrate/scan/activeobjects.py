"""One streaming pass over ``activeobjects.xml``: tables, row counts and XML faults.

The Active Objects backup (``<backup xmlns="http://www.atlassian.com/ao">``)
holds the data of apps (boards, sprints, ...).  No rule reads its values yet;
what the import needs is that it is present, well-formed and free of
forbidden characters, and the inventory of its tables.
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
    reason = None
    done = 0
    try:
        chunk = head
        while chunk:
            data, found = chars.feed(chunk)
            bad += found
            parser.feed(data)
            _count(parser, columns, rows)
            done += len(chunk)
            if progress is not None:
                progress(done)
            chunk = stream.read(CHUNK)
        data, found = chars.finish()
        bad += found
        parser.feed(data)
        parser.close()
        _count(parser, columns, rows)
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
    db.execute("INSERT INTO entity_count VALUES (?, 'row', ?)", (FILE, sum(rows.values())))
    return reason


def _count(parser: etree.XMLPullParser, columns: Counter[str], rows: Counter[str]) -> None:
    """Count table definitions and data rows as their elements end, then drop them."""
    for _event, element in element_events(parser):
        tag = element.tag
        parent = element.getparent()
        if tag == f"{_AO}row" and parent is not None:
            rows[parent.get("tableName", "")] += 1
        elif tag == f"{_AO}table":
            columns[element.get("name", "")] = len(element)
        elif tag != f"{_AO}data":
            continue
        if parent is not None:
            parent.remove(element)
