"""activeobjects.xml: the AO tables of the synthetic site's apps."""

from __future__ import annotations

import hashlib

from synth.plan import Plan
from synth.spec import APP_FAULT, MISSING_FILTER

_AO_TABLES: tuple[tuple[str, tuple[tuple[str, int, int, bool], ...]], ...] = (
    (
        "AO_21D670_WHITELIST_RULES",
        (
            ("ALLOWINBOUND", 16, 1, False),
            ("EXPRESSION", -1, 2147483647, False),
            ("ID", 4, 10, True),
            ("TYPE", 12, 255, False),
        ),
    ),
    (
        "AO_60DB71_RAPIDVIEW",
        (
            ("ID", -5, 19, True),
            ("NAME", 12, 255, False),
            ("OWNER_USER_NAME", 12, 255, False),
            ("SAVED_FILTER_ID", -5, 19, False),
            ("SPRINTS_ENABLED", 16, 1, False),
        ),
    ),
    (
        "AO_60DB71_SPRINT",
        (
            ("CLOSED", 16, 1, False),
            ("COMPLETE_DATE", -5, 19, False),
            ("END_DATE", -5, 19, False),
            ("GOAL", -1, 2147483647, False),
            ("ID", -5, 19, True),
            ("NAME", 12, 255, False),
            ("RAPID_VIEW_ID", -5, 19, False),
        ),
    ),
    (
        "AO_4AEACD_WEBHOOK_DAO",
        (
            ("ENABLED", 16, 1, False),
            ("ID", 4, 10, True),
            ("LAST_UPDATED", 93, 29, False),
            ("LAST_UPDATED_USER", 12, 255, False),
            ("NAME", -1, 2147483647, False),
            ("URL", -1, 2147483647, False),
        ),
    ),
)


def _ao_value(value: object, kind: str) -> str:
    if value is None:
        return f'      <{kind} xsi:nil="true"/>\n'
    text = str(value).lower() if isinstance(value, bool) else str(value)
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"      <{kind}>{escaped}</{kind}>\n"


def _ao_rows(plan: Plan) -> dict[str, list[list[tuple[object, str]]]]:
    """Typed rows per table: boards per project, a few sprints, one webhook."""
    boards: list[list[tuple[object, str]]] = [
        [
            (index + 1, "integer"),
            (f"{project.key} board", "string"),
            (project.lead, "string"),
            (
                MISSING_FILTER
                if index == 0 and plan.spec.has("board-missing-filter")
                else 10000 + index,
                "integer",
            ),
            (True, "boolean"),
        ]
        for index, project in enumerate(plan.projects)
    ]
    start_ms = int(plan.start_time.timestamp() * 1000)
    sprints: list[list[tuple[object, str]]] = [
        [
            (number < 3, "boolean"),
            (start_ms + number * 1_209_600_000 if number < 3 else None, "integer"),
            (start_ms + (number + 1) * 1_209_600_000, "integer"),
            (None, "string"),
            (number + 1, "integer"),
            (f"Sprint {number + 1}", "string"),
            (1, "integer"),
        ]
        for number in range(4)
    ]
    updated = plan.export_time.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return {
        "AO_21D670_WHITELIST_RULES": [
            [
                (False, "boolean"),
                ("http://www.atlassian.com/*", "string"),
                (1, "integer"),
                ("WILDCARD_EXPRESSION", "string"),
            ],
        ],
        "AO_60DB71_RAPIDVIEW": boards,
        "AO_60DB71_SPRINT": sprints,
        "AO_4AEACD_WEBHOOK_DAO": [
            [
                (True, "boolean"),
                (1, "integer"),
                (updated, "timestamp"),
                ("admin", "string"),
                ("Build notifier", "string"),
                ("https://ci.acmecorp.com/hook", "string"),
            ],
        ],
    }


def ao_prefix(plugin_key: str) -> str:
    """Active Objects' table prefix of an app: AO_ and the MD5's last 6 hex digits."""
    return "AO_" + hashlib.md5(plugin_key.encode(), usedforsecurity=False).hexdigest()[-6:].upper()


def app_fault_table() -> tuple[str, tuple[tuple[str, int, int, bool], ...]]:
    """The ``app-data`` fault's table: a third-party app's timesheet rows."""
    columns = (("HOURS", 8, 17, False), ("ID", 4, 10, True), ("ISSUE_ID", -5, 19, False))
    return f"{ao_prefix(APP_FAULT[0])}_TIMESHEET", columns


def activeobjects_xml(plan: Plan) -> str:
    parts = [
        "<?xml version='1.0' encoding='UTF-8'?>\n",
        '<backup xmlns="http://www.atlassian.com/ao" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n',
        "  <database>\n",
        '    <meta key="database.name" value="PostgreSQL"/>\n',
        '    <meta key="database.version" value="12.9"/>\n',
        '    <meta key="database.minorVersion" value="9"/>\n',
        '    <meta key="database.majorVersion" value="12"/>\n',
        '    <meta key="driver.name" value="PostgreSQL JDBC Driver"/>\n',
        '    <meta key="driver.version" value="42.2.23"/>\n',
        "  </database>\n",
    ]
    tables = list(_AO_TABLES)
    rows = _ao_rows(plan)
    if plan.spec.has("app-data"):
        table_name, app_columns = app_fault_table()
        tables.append((table_name, app_columns))
        rows[table_name] = [
            [(7.5, "double"), (1, "integer"), (10000, "integer")],
            [(2.0, "double"), (2, "integer"), (10001, "integer")],
        ]
    for table, columns in tables:
        parts.append(f'  <table name="{table}">\n')
        for name, sql_type, precision, key in columns:
            flag = "true" if key else "false"
            parts.append(
                f'    <column name="{name}" primaryKey="{flag}" autoIncrement="{flag}" '
                f'sqlType="{sql_type}" precision="{precision}"/>\n'
            )
        parts.append("  </table>\n")
    for table, columns in tables:
        parts.append(f'  <data tableName="{table}">\n')
        parts.extend(f'    <column name="{name}"/>\n' for name, *_ in columns)
        for row in rows[table]:
            parts.append("    <row>\n")
            parts.extend(_ao_value(value, kind) for value, kind in row)
            parts.append("    </row>\n")
        parts.append("  </data>\n")
    parts.append("</backup>\n")
    return "".join(parts)
