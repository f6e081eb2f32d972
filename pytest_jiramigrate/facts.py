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

import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

#: Bumped whenever the schema or the meaning of a fact changes, so that a
#: cached store written by another scanner version is never trusted.
SCHEMA_VERSION = 6

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
-- every SchemePermissions row: permission is permissionKey when present, else the
-- permission number; scheme IS NULL for the global grants of Jira before 7.0
CREATE TABLE scheme_permission (id TEXT, scheme TEXT, permission TEXT, type TEXT,
    parameter TEXT);
-- who holds a global permission: GlobalPermissionEntry rows (Jira 7+), or, in a backup
-- without any, the scheme-less group rows of scheme_permission, numbers named
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
CREATE TABLE remote_link (id TEXT, issue_id TEXT);
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
-- syntax: malformed by the RFCs; pattern: valid, but refused by the KB's PostgreSQL pattern
CREATE TABLE email_check (email TEXT PRIMARY KEY, syntax TEXT, tld TEXT, pattern TEXT);
-- activeobjects.xml: rows per table
CREATE TABLE ao_table (name TEXT PRIMARY KEY, columns INTEGER, rows INTEGER);
-- what the import drops, breaks or makes public (the after_import rules)
CREATE TABLE plugin (key TEXT, name TEXT, version TEXT);
CREATE TABLE custom_field (id TEXT, name TEXT, type_key TEXT);
CREATE TABLE custom_field_option (id TEXT, custom_field TEXT, config TEXT);
-- SharePermissions: type is global, group, project, ...; param1 a group or project id
CREATE TABLE share_permission (id TEXT, entity_id TEXT, entity_type TEXT, type TEXT,
    param1 TEXT, param2 TEXT);
CREATE TABLE search_request (id TEXT, name TEXT, owner TEXT);
CREATE TABLE portal_page (id TEXT, name TEXT, owner TEXT);
CREATE TABLE component (id TEXT, project_id TEXT, name TEXT, lead TEXT);
CREATE TABLE version (id TEXT, project_id TEXT, name TEXT);
-- issue types per issue type scheme: OptionConfiguration rows of field issuetype,
-- the scheme's field configuration, and the scheme's name
CREATE TABLE issue_type_option (id TEXT, field_config TEXT, option_id TEXT);
CREATE TABLE field_config_link (scheme TEXT, field_config TEXT);
CREATE TABLE issue_type_scheme (id TEXT, name TEXT);
CREATE TABLE security_scheme (id TEXT, name TEXT);
CREATE TABLE security_level (id TEXT, scheme TEXT, name TEXT);
CREATE TABLE mail_server (id TEXT, name TEXT, type TEXT, host TEXT);
CREATE TABLE service_config (id TEXT, name TEXT, class TEXT);
CREATE TABLE permission_scheme (id TEXT, name TEXT);
-- NodeAssociation rows that give a project its permission or issue security scheme
CREATE TABLE scheme_association (project_id TEXT, sink_entity TEXT, scheme TEXT);
CREATE TABLE project_role (id TEXT, name TEXT);
CREATE TABLE project_role_actor (id TEXT, project_id TEXT, role_id TEXT, role_type TEXT,
    parameter TEXT);
CREATE TABLE status (id TEXT, name TEXT);
-- references to users by key or name (issue reporter, comment author, ...): rows per
-- kind and user, with the smallest referring row id as an example
CREATE TABLE user_ref (kind TEXT, user_key TEXT, n INTEGER, example TEXT);
CREATE TABLE scan_user_ref (kind TEXT, user_key TEXT, example TEXT);
-- activeobjects.xml: Jira Software boards, their columns and the statuses of each column
CREATE TABLE board (id TEXT, name TEXT, owner TEXT, saved_filter_id TEXT);
CREATE TABLE board_column (id TEXT, board_id TEXT, name TEXT);
CREATE TABLE board_column_status (id TEXT, column_id TEXT, status_id TEXT);
"""

#: the media inventory (:func:`pytest_jiramigrate.scan.media.scan_media`): made in the
#: store of a run with ``--jira-media``, beside the backup's facts when there are some
MEDIA_SCHEMA = """
CREATE TABLE IF NOT EXISTS media_target (
    name TEXT PRIMARY KEY, path TEXT, kind TEXT, total_bytes INTEGER, files INTEGER,
    zip_bytes INTEGER);
-- one row per regular file; path is POSIX and relative to the media root
CREATE TABLE IF NOT EXISTS media_file (
    target TEXT, path TEXT, size INTEGER, kind TEXT, project TEXT, bucket TEXT,
    issue_key TEXT, attachment_id TEXT);
CREATE TABLE IF NOT EXISTS media_problem (target TEXT, kind TEXT, path TEXT, detail TEXT);
CREATE INDEX IF NOT EXISTS media_file_attachment ON media_file (attachment_id);
CREATE INDEX IF NOT EXISTS media_file_target ON media_file (target, kind);
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
    "remote links": "SELECT issue_id FROM remote_link",
}


def summarize(db: sqlite3.Connection) -> None:
    """Derive, once per scan, the facts that do not depend on the configuration but would
    cost every run a pass over millions of rows: counts per issue, and the syntax,
    top-level-domain and KB-pattern verdicts of each distinct e-mail address."""
    from pytest_jiramigrate.core.emails import pattern_advisory, syntax_problem, tld_problem

    for what, counted in PER_ISSUE.items():
        db.execute(
            f"INSERT INTO per_issue SELECT issue_id, ?, count(*) FROM ({counted})"
            " WHERE issue_id IS NOT NULL GROUP BY issue_id",
            (what,),
        )
    addresses = [row[0] for row in db.execute("SELECT DISTINCT email FROM user WHERE email != ''")]
    db.executemany(
        "INSERT OR IGNORE INTO email_check VALUES (?, ?, ?, ?)",
        [
            (email, syntax_problem(email), tld_problem(email), pattern_advisory(email))
            for email in addresses
        ],
    )


def create(path: Path) -> sqlite3.Connection:
    """Create an empty store at ``path`` for a scan to fill."""
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000;")
    db.executescript("BEGIN;" + SCHEMA + "COMMIT;")
    db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    return db


class Mask(Protocol):
    """How a rule shows an identity where it enters a finding: unchanged, or as a
    pseudonym under ``--jira-redact`` (:class:`pytest_jiramigrate.report.redact.Redactor`).

    Rules compare and count the clear values they read from the store, and build
    every finding's fields and text from what the mask returns, so that no
    message is ever rewritten after the fact.
    """

    @property
    def redacting(self) -> bool:
        """True when identities are replaced (a message that could quote one is withheld)."""

    def user(self, name: str) -> str: ...
    def name(self, display_name: str) -> str: ...
    def email(self, address: str) -> str: ...
    def domain(self, domain: str) -> str: ...
    def url(self, url: str) -> str: ...


class Clear:
    """The mask of a run without ``--jira-redact``: every identity as it is."""

    redacting = False

    def user(self, name: str) -> str:
        return name

    def name(self, display_name: str) -> str:
        return display_name

    def email(self, address: str) -> str:
        return address

    def domain(self, domain: str) -> str:
        return domain

    def url(self, url: str) -> str:
        return url


#: Columns of a custom rule's query whose values are usernames, addresses or names:
#: masked before the rule's finding is formatted from them.
USER_FIELDS = frozenset(
    {"user", "member", "child_name", "lower_child_name", "user_name", "lower_user_name",
     "user_key", "lead", "author", "assignee", "reporter"}
)  # fmt: skip
EMAIL_FIELDS = frozenset({"email", "lower_email", "email_address"})
NAME_FIELDS = frozenset({"display_name", "first_name", "last_name", "full_name"})


def mask_columns(values: dict[str, Any], mask: Mask) -> dict[str, Any]:
    """A query row with its usernames, addresses and names masked, by column name: what a
    custom rule's finding is formatted from."""
    return {name: _masked_column(name, value, mask) for name, value in values.items()}


def _masked_column(name: str, value: Any, mask: Mask) -> Any:
    if not isinstance(value, str) or not value:
        return value
    if name in USER_FIELDS:
        return mask.user(value)
    if name in EMAIL_FIELDS:
        return mask.email(value)
    if name in NAME_FIELDS:
        return mask.name(value)
    return value


@dataclass(frozen=True)
class JiraVersion:
    """Which Jira wrote the backup: ``text`` to show, ``release`` to compare, and ``source``
    (the header comment, or the build number of the ``jira.version.patched`` property)."""

    text: str
    release: tuple[int, int, int] | None
    source: str


_RELEASE = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")


def parse_release(text: str) -> tuple[int, int, int] | None:
    """``7.6.0`` -> (7, 6, 0); ``4.4-SNAPSHOT`` -> (4, 4, 0); None when not a version."""
    match = _RELEASE.match(text or "")
    if match is None:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def release_of_build(build: int) -> tuple[int, int] | None:
    """The major and minor release of a Jira build number, None before Jira 6.0.

    Jira numbers its builds ``MMmmppp`` from 7.10 (712000 is 7.12.0), ``Mmppp``
    from 6.4 to 7.9 (64014 is 6.4, 70107 is 7.0.0) and ``6mpp`` in 6.0-6.3 (6095
    is 6.0, 6341 is 6.3.11); before 6.0 they are three-digit counters (300 is
    3.12, 713 is 5.0), which name no release by themselves.  Every real backup
    in corpus/realworld/ pairs its header's version with such a build number.
    """
    if build >= 100_000:
        return build // 100_000, build // 1000 % 100
    if build >= 10_000:
        return build // 10_000, build // 1000 % 10
    if build >= 6000:
        return 6, build // 100 % 10
    return None


class Facts:
    """Read access to one scanned backup (and its media), for the rules."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        #: how identities enter findings (see :class:`Mask`); the session sets a
        #: Redactor here under --jira-redact
        self.mask: Mask = Clear()
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

    def jira_property(self, key: str) -> str | None:
        """A Jira property (``jira.baseurl``, ``jira.version.patched``...), None when unset."""
        value = self.scalar(
            "SELECT value FROM property WHERE key = ? AND trim(value) != '' ORDER BY rowid LIMIT 1",
            (key,),
        )
        return None if value is None else str(value).strip()

    @property
    def base_url(self) -> str | None:
        """The server's base URL: the ``jira.baseurl`` property, which the import reads
        (the header's "Base URL" line is only a comment, absent before Jira 4.1)."""
        return self.jira_property("jira.baseurl")

    def jira_version(self) -> JiraVersion | None:
        """The version the header names; else the one the build number in the
        ``jira.version.patched`` property implies (Jira 3.x wrote no header)."""
        header = self.meta.get("jira_version")
        if header:
            return JiraVersion(header, parse_release(header), "the entities.xml header")
        build = self.jira_property("jira.version.patched")
        if build is None or not build.isdigit():
            return None
        source = f"build {int(build)} in the jira.version.patched property"
        release = release_of_build(int(build))
        if release is None:
            return JiraVersion("earlier than 6.0", (5, 99, 0), source)
        return JiraVersion(f"{release[0]}.{release[1]}", (*release, 0), source)

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
