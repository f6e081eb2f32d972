"""The facts store: everything the rules need, gathered by one scan.

The scan writes into an SQLite database; rules only query it.  SQLite keeps
memory flat for millions of issues and attachments, lets a rule be a short
query (Atlassian's own checks are SQL), and is the file that the cache keeps
under pytest's cache directory, so a re-run with new thresholds does not
re-scan the backup.

Availability: each source (``archive``, ``entities``, ``activeobjects``,
``media``) is either read or carries the reason it could not be; rules that
need a missing source are skipped with that reason, never passed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

#: Bumped whenever the schema or the meaning of a fact changes, so that a
#: cached store written by another scanner version is never trusted.
SCHEMA_VERSION = 4

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
-- source availability: reason IS NULL means the source was read
CREATE TABLE source (name TEXT PRIMARY KEY, reason TEXT);
-- zip members of the backup (name, sizes, method, flags)
CREATE TABLE member (
    name TEXT, compressed INTEGER, size INTEGER, method INTEGER,
    encrypted INTEGER, is_dir INTEGER, is_symlink INTEGER);
-- faults found in the archive itself: kind is a stable key, detail prose
CREATE TABLE archive_problem (kind TEXT, member TEXT, detail TEXT);
-- XML faults: kind in ('invalid-char', 'not-well-formed', 'encoding', ...)
CREATE TABLE xml_problem (
    file TEXT, kind TEXT, line INTEGER, column INTEGER,
    entity TEXT, entity_id TEXT, codepoint INTEGER, detail TEXT);
CREATE TABLE entity_count (file TEXT, entity TEXT, rows INTEGER,
    PRIMARY KEY (file, entity));
CREATE TABLE trailer_count (entity TEXT PRIMARY KEY, declared INTEGER);
CREATE TABLE directory (id TEXT, name TEXT, active INTEGER, type TEXT,
    position INTEGER);
-- users from `User` rows (4.3+) and from `OSUser` + OSPropertyEntry email (older)
CREATE TABLE user (
    id TEXT, directory_id TEXT, user_name TEXT, lower_user_name TEXT,
    active INTEGER, email TEXT, display_name TEXT, first_name TEXT,
    last_name TEXT, source TEXT, line INTEGER);
CREATE TABLE app_user (id TEXT, user_key TEXT, lower_user_name TEXT);
CREATE TABLE grp (
    id TEXT, name TEXT, lower_name TEXT, directory_id TEXT, active INTEGER,
    type TEXT, source TEXT);
CREATE TABLE membership (
    id TEXT, parent_id TEXT, child_id TEXT, membership_type TEXT,
    parent_name TEXT, lower_parent_name TEXT, child_name TEXT,
    lower_child_name TEXT, directory_id TEXT, line INTEGER);
CREATE TABLE global_permission (id TEXT, permission TEXT, group_name TEXT);
CREATE TABLE license_role_group (id TEXT, role TEXT, group_name TEXT, primary_group INTEGER);
CREATE TABLE project (id TEXT, name TEXT, key TEXT, original_key TEXT,
    lead TEXT, type TEXT);
CREATE TABLE project_key (id TEXT, project_id TEXT, key TEXT);
CREATE TABLE issue (
    id TEXT, key TEXT, number INTEGER, project_id TEXT,
    summary_len INTEGER, description_len INTEGER, line INTEGER);
CREATE TABLE moved_issue_key (id TEXT, old_key TEXT, issue_id TEXT);
CREATE TABLE comment (id TEXT, issue_id TEXT, body_len INTEGER, line INTEGER);
CREATE TABLE worklog (id TEXT, issue_id TEXT, comment_len INTEGER, line INTEGER);
CREATE TABLE issue_link (id TEXT, source_id TEXT, destination_id TEXT, link_type TEXT);
-- only CustomFieldValue rows that carry a `textvalue`
CREATE TABLE custom_text (id TEXT, issue_id TEXT, custom_field TEXT, text_len INTEGER,
    line INTEGER);
CREATE TABLE attachment (
    id TEXT, issue_id TEXT, filename TEXT, filesize INTEGER,
    mimetype TEXT);
-- jira.baseurl, jira.title, ... from OSPropertyEntry + OSPropertyString/Text
CREATE TABLE property (key TEXT, value TEXT);
-- scratch tables of the scan, emptied when it ends: OSPropertyEntry ids of
-- interest and OSPropertyString/Text values, joined once every row is read
CREATE TABLE scan_property_entry (id TEXT, kind TEXT, target TEXT);
CREATE TABLE scan_property_value (id TEXT, value TEXT);
-- derived once a scan has read the rows (see summarize): what rules would
-- otherwise aggregate from millions of rows on every run
CREATE TABLE per_issue (issue_id TEXT, what TEXT, n INTEGER);
CREATE TABLE email_check (email TEXT PRIMARY KEY, syntax TEXT, tld TEXT);
-- activeobjects.xml: rows per table
CREATE TABLE ao_table (name TEXT PRIMARY KEY, columns INTEGER, rows INTEGER);
"""

#: made once the rows are in (faster than keeping them up to date row by row);
#: ids are not unique keys: a hostile backup's duplicate rows stay visible
INDEXES = """
CREATE INDEX issue_id ON issue (id);
CREATE INDEX IF NOT EXISTS project_id ON project (id);
CREATE INDEX attachment_id ON attachment (id);
CREATE INDEX user_email ON user (lower(email));
CREATE INDEX user_name ON user (lower_user_name);
CREATE INDEX membership_parent ON membership (parent_id);
CREATE INDEX comment_issue ON comment (issue_id);
CREATE INDEX worklog_issue ON worklog (issue_id);
CREATE INDEX attachment_issue ON attachment (issue_id);
CREATE INDEX per_issue_what ON per_issue (what, n);
"""

#: What is counted per issue, and the issue id of each counted row.  Links
#: count on both ends, so a link between two issues counts once for each.
PER_ISSUE = {
    "attachments": "SELECT issue_id FROM attachment",
    "comments": "SELECT issue_id FROM comment",
    "worklogs": "SELECT issue_id FROM worklog",
    "issue links": "SELECT source_id AS issue_id FROM issue_link"
    " UNION ALL SELECT destination_id FROM issue_link",
}


def summarize(db: sqlite3.Connection) -> None:
    """Derive, once per scan, the facts that do not depend on the configuration but would
    cost every run a pass over millions of rows: counts per issue, and the syntax and
    top-level-domain verdict of each distinct e-mail address."""
    from pytest_jiramigrate.core.emails import syntax_problem, tld_problem

    for what, counted in PER_ISSUE.items():
        db.execute(
            f"INSERT INTO per_issue SELECT issue_id, ?, count(*) FROM ({counted})"
            " WHERE issue_id IS NOT NULL GROUP BY issue_id",
            (what,),
        )
    addresses = [row[0] for row in db.execute("SELECT DISTINCT email FROM user WHERE email != ''")]
    db.executemany(
        "INSERT OR IGNORE INTO email_check VALUES (?, ?, ?)",
        [(email, syntax_problem(email), tld_problem(email)) for email in addresses],
    )


def create(path: Path) -> sqlite3.Connection:
    """Create an empty store at ``path`` for a scan to fill."""
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000;")
    db.executescript("BEGIN;" + SCHEMA + "COMMIT;")
    db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    return db


class Facts:
    """Read access to one scanned backup (and its media), for the rules."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._meta: dict[str, str] | None = None
        self._derived: dict[str, Any] = {}

    @classmethod
    def open(cls, path: Path) -> Facts:
        """Open a finished store read-only."""
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        return cls(db)

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Run a read-only query; rows can be indexed by column name."""
        cursor = self.db.execute(sql, params)
        cursor.row_factory = sqlite3.Row
        return cursor.fetchall()

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[sqlite3.Row]:
        cursor = self.db.execute(sql, params)
        cursor.row_factory = sqlite3.Row
        yield from cursor

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        row = self.db.execute(sql, params).fetchone()
        return None if row is None else row[0]

    @property
    def meta(self) -> dict[str, str]:
        """Header facts: ``jira_version``, ``jira_build``, ``base_url``, ``sha256``..."""
        if self._meta is None:
            self._meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        return self._meta

    def derived(self, key: str, compute: Callable[[Facts], T]) -> T:
        """A value several rules derive from the facts, computed once per run.

        The facts do not change while the rules run, so e.g. the list of
        imported users is built once, not once per user rule.
        """
        if key not in self._derived:
            self._derived[key] = compute(self)
        return self._derived[key]  # type: ignore[no-any-return]

    def missing(self, source: str) -> str | None:
        """Why ``source`` could not be read, or None when it was."""
        row = self.db.execute("SELECT reason FROM source WHERE name = ?", (source,)).fetchone()
        if row is None:
            return f"{source} was not scanned"
        return row[0]

    def counts(self) -> dict[str, int]:
        """The inventory shown in the header line and the JSON report."""
        scalar = self.scalar
        return {
            "users": scalar("SELECT count(*) FROM user") or 0,
            "groups": scalar("SELECT count(*) FROM grp") or 0,
            "projects": scalar("SELECT count(*) FROM project") or 0,
            "issues": scalar("SELECT count(*) FROM issue") or 0,
            "comments": scalar("SELECT count(*) FROM comment") or 0,
            "attachments": scalar("SELECT count(*) FROM attachment") or 0,
            "attachment_bytes": scalar("SELECT coalesce(sum(filesize), 0) FROM attachment"),
            "rows": scalar(
                "SELECT coalesce(sum(rows), 0) FROM entity_count WHERE file = ?", ("entities.xml",)
            ),
        }
