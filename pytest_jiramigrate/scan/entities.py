"""One streaming pass over ``entities.xml`` that gathers every fact the rules need.

The bytes come straight from the zip member, go through the invalid-character
scanner (which records and masks what XML 1.0 forbids), then into lxml's pull
parser with entity resolution, DTD loading and network access off.  Each row
is read when its element ends and is dropped from the tree at once, so memory
stays flat however large the file.  Rows of entities that no rule needs are
only counted.

Jira writes one element per database row, directly under the root, with every
non-null field as an attribute, except fields holding a newline: those become
child elements of (possibly split) CDATA, which lxml joins into ``.text``.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable
from typing import BinaryIO

from lxml import etree

from pytest_jiramigrate.scan.xmlchars import BadChar, CharScanner

CHUNK = 1 << 20
FILE = "entities.xml"

_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_HEADER_LINE = re.compile(r"^\s*(JIRA Build|Version|Build #|Base URL)\s*:\s*(.*?)\s*$", re.M)
_OLD_BUILD = re.compile(r"Version:\s*([0-9][^#\s]*?)-?(?:#(\d+)|\s|$)")
_TRAILER_LINE = re.compile(r"^\s*([A-Za-z][\w.]*)\s*:\s*(\d+)\s*$", re.M)
_BOMS = {b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16", b"\xef\xbb\xbf": "UTF-8"}


def declared_encoding(head: bytes) -> tuple[str, str | None]:
    """The encoding the XML declaration names (default UTF-8), and a BOM if present."""
    for bom, name in _BOMS.items():
        if head.startswith(bom):
            return name, name
    match = _DECLARED_ENCODING.match(head)
    return (match.group(1).decode("ascii") if match else "UTF-8"), None


def parse_header(comment: str) -> dict[str, str]:
    """Version, build and base URL from the system-info comment Jira writes first."""
    found: dict[str, str] = {}
    for key, value in _HEADER_LINE.findall(comment):
        found.setdefault(key, value)  # the first: later sections list plugin versions
    header: dict[str, str] = {}
    build = found.get("JIRA Build", "")
    version = found.get("Version") or build.split("#", 1)[0].strip()
    old = _OLD_BUILD.search(build)
    if old and not found.get("Version"):
        version = old.group(1)
        if old.group(2):
            header["jira_build"] = old.group(2)
    if version:
        header["jira_version"] = version
    if found.get("Build #"):
        header["jira_build"] = found["Build #"]
    elif "#" in build and "jira_build" not in header:
        header["jira_build"] = build.split("#", 1)[1].split("-", 1)[0].strip()
    if found.get("Base URL"):
        header["base_url"] = found["Base URL"]
    return header


def parse_trailer(comment: str) -> dict[str, int] | None:
    """The per-entity counts of the ``___ Entities ___`` comment, or None if not one."""
    marker = comment.find("___ Entities ___")
    if marker < 0:
        return None
    return {name: int(count) for name, count in _TRAILER_LINE.findall(comment[marker:])}


def field(row: etree._Element, name: str) -> str | None:
    """A row's field: an attribute, or the (joined CDATA) text of a child element."""
    value = row.get(name)
    if value is None and len(row):
        child = row.find(name)
        if child is not None:
            value = child.text or ""
    return value


def length(value: str | None) -> int | None:
    return None if value is None else len(value)


class Writer:
    """Buffers rows per table and writes them in batches."""

    BATCH = 5000

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.pending: dict[str, list[tuple[object, ...]]] = {}

    def add(self, table: str, row: tuple[object, ...]) -> None:
        rows = self.pending.setdefault(table, [])
        rows.append(row)
        if len(rows) >= self.BATCH:
            self.flush(table)

    def flush(self, table: str | None = None) -> None:
        for name in [table] if table else list(self.pending):
            rows = self.pending.pop(name, [])
            if rows:
                marks = ",".join("?" * len(rows[0]))
                self.db.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)


class EntitiesScan:
    """State of one pass; ``run`` drives it, the ``on_<Entity>`` methods read rows."""

    def __init__(self, db: sqlite3.Connection, file: str = FILE) -> None:
        self.db = db
        self.file = file
        self.out = Writer(db)
        self.rows: Counter[str] = Counter()
        self.header: dict[str, str] = {}
        self.trailer: dict[str, int] | None = None
        self.pending_chars: list[BadChar] = []
        self.row_entity: str | None = None
        self.row_id: str | None = None
        self.row_line = 0
        # OSPropertyEntry ids whose OSPropertyString/Text value is wanted
        self.wanted_properties: dict[str, tuple[str, str]] = {}
        # pre-4.3 e-mails by OSUser id: their rows sort before the OSUser rows
        self.os_user_emails: dict[str, str | None] = {}
        self.handlers: dict[str, Callable[[etree._Element], None]] = {
            name[3:]: getattr(self, name) for name in dir(self) if name.startswith("on_")
        }

    # -- driving --------------------------------------------------------------

    def run(self, stream: BinaryIO) -> str | None:
        """Scan the stream; returns why the file could not be read to the end, or None."""
        head = stream.read(CHUNK)
        encoding, bom = declared_encoding(head)
        if bom == "UTF-16":
            self.problem("encoding", 1, 1, "entities.xml is UTF-16 encoded; Jira writes UTF-8")
        if b"<!DOCTYPE" in head.split(b"<entity-engine-xml", 1)[0]:
            self.problem(
                "doctype",
                1,
                1,
                "entities.xml declares a DOCTYPE, which Jira never writes (not expanded)",
            )
        chars = CharScanner(encoding) if bom != "UTF-16" else None
        parser = etree.XMLPullParser(
            events=("end", "comment"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        )
        root: list[etree._Element] = []
        chunk = head
        try:
            while chunk:
                self.feed(parser, chars, chunk, root)
                chunk = stream.read(CHUNK)
            if chars is not None:
                data, bad = chars.finish()
                self.pending_chars += bad
                parser.feed(data)
            parser.close()
            self.drain(parser, root)
        except etree.XMLSyntaxError as error:
            self.drain(parser, root)  # rows parsed before the error still count
            return self.syntax_error(error)
        except (LookupError, ValueError) as error:  # unknown declared encoding
            self.problem("not-well-formed", 1, 1, f"cannot decode entities.xml: {error}")
            return f"entities.xml cannot be decoded: {error}"
        finally:
            self.assign_chars(None)
            self.finish()
        return None

    def feed(
        self,
        parser: etree.XMLPullParser,
        chars: CharScanner | None,
        chunk: bytes,
        root: list[etree._Element],
    ) -> None:
        if chars is not None:
            chunk, bad = chars.feed(chunk)
            self.pending_chars += bad
        parser.feed(chunk)
        self.drain(parser, root)

    def drain(self, parser: etree.XMLPullParser, root: list[etree._Element]) -> None:
        for event, element in parser.read_events():
            if event == "comment":
                self.read_comment(element.text or "")
                continue
            parent = element.getparent()
            if parent is None:
                if element.get("date"):
                    self.header["backup_date"] = element.get("date", "")
                continue
            if parent.getparent() is not None:
                continue  # a CDATA field of a row: read with its row
            if not root:
                root.append(parent)
            self.row(element)
            parent.remove(element)

    def row(self, element: etree._Element) -> None:
        tag = element.tag
        if not isinstance(tag, str):
            return
        self.assign_chars(element.sourceline)
        self.row_entity, self.row_id, self.row_line = tag, element.get("id"), element.sourceline
        self.rows[tag] += 1
        handler = self.handlers.get(tag)
        if handler is not None:
            handler(element)

    def read_comment(self, text: str) -> None:
        if not self.header and ("JIRA Build" in text or "Jira Build" in text):
            self.header.update(parse_header(text))
            return
        trailer = parse_trailer(text)
        if trailer is not None:
            self.trailer = trailer

    def assign_chars(self, next_row_line: int | None) -> None:
        """Attribute bad characters seen before ``next_row_line`` to the current row."""
        if not self.pending_chars:
            return
        keep: list[BadChar] = []
        for bad in self.pending_chars:
            if next_row_line is not None and bad.line >= next_row_line:
                keep.append(bad)
                continue
            self.out.add(
                "xml_problem",
                (
                    self.file,
                    "invalid-char",
                    bad.line,
                    bad.column,
                    self.row_entity,
                    self.row_id,
                    bad.codepoint,
                    bad.describe(),
                ),
            )
        self.pending_chars = keep

    def problem(self, kind: str, line: int | None, column: int | None, detail: str) -> None:
        self.out.add("xml_problem", (self.file, kind, line, column, None, None, None, detail))

    def syntax_error(self, error: etree.XMLSyntaxError) -> str:
        line, column = error.position if error.position else (None, None)
        message = error.msg or str(error)
        self.out.add(
            "xml_problem",
            (
                self.file,
                "not-well-formed",
                line,
                column,
                self.row_entity,
                self.row_id,
                None,
                message,
            ),
        )
        return f"entities.xml is not well-formed at line {line}: facts after it were not read"

    def finish(self) -> None:
        self.out.flush()
        self.db.executemany(
            "UPDATE user SET email = ? WHERE source = 'OSUser' AND id = ?",
            [(email, user_id) for user_id, email in self.os_user_emails.items()],
        )
        self.db.executemany(
            "INSERT INTO entity_count VALUES (?, ?, ?)",
            [(self.file, entity, count) for entity, count in sorted(self.rows.items())],
        )
        if self.trailer is not None:
            self.db.executemany(
                "INSERT INTO trailer_count VALUES (?, ?)", sorted(self.trailer.items())
            )
            self.header["trailer"] = "present"
        self.db.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", sorted(self.header.items())
        )
        self.db.execute(
            """UPDATE issue SET key = (SELECT p.key FROM project p WHERE p.id = issue.project_id)
                                     || '-' || issue.number
               WHERE key IS NULL AND number IS NOT NULL"""
        )
        self.db.execute("UPDATE project SET original_key = key WHERE original_key IS NULL")

    # -- rows the rules need --------------------------------------------------

    def on_User(self, row: etree._Element) -> None:
        get = row.get
        self.out.add(
            "user",
            (
                get("id"),
                get("directoryId"),
                get("userName"),
                get("lowerUserName") or (get("userName") or "").lower(),
                flag(get("active")),
                get("emailAddress"),
                get("displayName"),
                get("firstName"),
                get("lastName"),
                "User",
                row.sourceline,
            ),
        )

    def on_OSUser(self, row: etree._Element) -> None:
        name = row.get("name") or ""
        self.out.add(
            "user",
            (
                row.get("id"),
                None,
                name,
                name.lower(),
                1,
                None,
                None,
                None,
                None,
                "OSUser",
                row.sourceline,
            ),
        )

    def on_ApplicationUser(self, row: etree._Element) -> None:
        self.out.add("app_user", (row.get("id"), row.get("userKey"), row.get("lowerUserName")))

    def on_Directory(self, row: etree._Element) -> None:
        get = row.get
        self.out.add(
            "directory",
            (
                get("id"),
                get("directoryName"),
                flag(get("active")),
                get("type"),
                integer(get("position")),
            ),
        )

    def on_Group(self, row: etree._Element) -> None:
        get = row.get
        self.out.add(
            "grp",
            (
                get("id"),
                get("groupName"),
                get("lowerGroupName") or (get("groupName") or "").lower(),
                get("directoryId"),
                flag(get("active")),
                get("type"),
                "Group",
            ),
        )

    def on_OSGroup(self, row: etree._Element) -> None:
        name = row.get("name") or ""
        self.out.add("grp", (row.get("id"), name, name.lower(), None, 1, "GROUP", "OSGroup"))

    def on_Membership(self, row: etree._Element) -> None:
        get = row.get
        self.out.add(
            "membership",
            (
                get("id"),
                get("parentId"),
                get("childId"),
                get("membershipType"),
                get("parentName"),
                get("lowerParentName"),
                get("childName"),
                get("lowerChildName"),
                get("directoryId"),
                row.sourceline,
            ),
        )

    def on_OSMembership(self, row: etree._Element) -> None:
        group, user = row.get("groupName") or "", row.get("userName") or ""
        self.out.add(
            "membership",
            (
                row.get("id"),
                None,
                None,
                "GROUP_USER",
                group,
                group.lower(),
                user,
                user.lower(),
                None,
                row.sourceline,
            ),
        )

    def on_GlobalPermissionEntry(self, row: etree._Element) -> None:
        self.out.add(
            "global_permission", (row.get("id"), row.get("permission"), row.get("group_id"))
        )

    def on_LicenseRoleGroup(self, row: etree._Element) -> None:
        self.out.add(
            "license_role_group",
            (
                row.get("id"),
                row.get("licenseRoleName"),
                row.get("groupId"),
                flag(row.get("primaryGroup")),
            ),
        )

    def on_Project(self, row: etree._Element) -> None:
        get = row.get
        self.out.add(
            "project",
            (
                get("id"),
                get("name"),
                get("key"),
                get("originalkey"),
                get("lead"),
                get("projecttype"),
            ),
        )

    def on_ProjectKey(self, row: etree._Element) -> None:
        self.out.add("project_key", (row.get("id"), row.get("projectId"), row.get("projectKey")))

    def on_Issue(self, row: etree._Element) -> None:
        self.out.add(
            "issue",
            (
                row.get("id"),
                row.get("key"),
                integer(row.get("number")),
                row.get("project"),
                length(field(row, "summary")),
                length(field(row, "description")),
                row.sourceline,
            ),
        )

    def on_MovedIssueKey(self, row: etree._Element) -> None:
        self.out.add("moved_issue_key", (row.get("id"), row.get("oldIssueKey"), row.get("issueId")))

    def on_Action(self, row: etree._Element) -> None:
        if row.get("type") == "comment":
            self.out.add(
                "comment",
                (row.get("id"), row.get("issue"), length(field(row, "body")), row.sourceline),
            )

    def on_Worklog(self, row: etree._Element) -> None:
        self.out.add(
            "worklog", (row.get("id"), row.get("issue"), length(field(row, "body")), row.sourceline)
        )

    def on_IssueLink(self, row: etree._Element) -> None:
        self.out.add(
            "issue_link",
            (row.get("id"), row.get("source"), row.get("destination"), row.get("linktype")),
        )

    def on_CustomFieldValue(self, row: etree._Element) -> None:
        text = field(row, "textvalue")
        if text is not None:
            self.out.add(
                "custom_text",
                (
                    row.get("id"),
                    row.get("issue"),
                    row.get("customfield"),
                    len(text),
                    row.sourceline,
                ),
            )

    def on_FileAttachment(self, row: etree._Element) -> None:
        self.out.add(
            "attachment",
            (
                row.get("id"),
                row.get("issue"),
                field(row, "filename"),
                integer(row.get("filesize")),
                row.get("mimetype"),
            ),
        )

    def on_OSPropertyEntry(self, row: etree._Element) -> None:
        entity, key = row.get("entityName"), row.get("propertyKey")
        if entity == "OSUser" and key == "email":
            self.wanted_properties[row.get("id") or ""] = ("user-email", row.get("entityId") or "")
        elif key in ("jira.baseurl", "jira.title"):
            self.wanted_properties[row.get("id") or ""] = ("property", key)

    def on_OSPropertyString(self, row: etree._Element) -> None:
        wanted = self.wanted_properties.pop(row.get("id") or "", None)
        if wanted is None:
            return
        kind, target = wanted
        value = field(row, "value")
        if kind == "property":
            self.out.add("property", (target, value))
        else:
            self.os_user_emails[target] = value

    on_OSPropertyText = on_OSPropertyString


def flag(value: str | None) -> int | None:
    """Jira's booleans: "1"/"0", "true"/"false"."""
    if value is None:
        return None
    return 1 if value.strip().lower() in ("1", "true", "y", "yes") else 0


def integer(value: str | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def scan_entities(stream: BinaryIO, db: sqlite3.Connection, file: str = FILE) -> str | None:
    """Scan one entities.xml stream into ``db``; why it was not read to the end, or None."""
    return EntitiesScan(db, file).run(stream)


def handled_entities() -> Iterable[str]:
    """The entities whose rows are read (the others are only counted)."""
    return sorted(name[3:] for name in dir(EntitiesScan) if name.startswith("on_"))
