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

import itertools
import re
import sqlite3
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO, ClassVar, Literal, Protocol

from lxml import etree

from pytest_jiramigrate.scan.xmlchars import BadChar, CharScanner

CHUNK = 1 << 20
FILE = "entities.xml"
#: property values longer than this are not kept (e-mails, URLs and titles are short)
MAX_PROPERTY = 4096

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


class RowSink(Protocol):
    def add(self, table: str, row: tuple[object, ...]) -> None: ...


class Writer:
    """Buffers rows per table and writes them to the store in batches."""

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
                insert_rows(self.db, name, rows)


def insert_rows(db: sqlite3.Connection, table: str, rows: list[tuple[object, ...]]) -> None:
    """Insert rows given in the column order of :data:`pytest_jiramigrate.facts.SCHEMA`.

    The rows are positional (cheap to build, pickle and copy between worker
    processes), so a column added to a table must be added at the same place
    in the row its scanner builds: SQLite refuses a row of the wrong length,
    but not one whose values are in the wrong order.
    """
    marks = ",".join("?" * len(rows[0]))
    db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


class Header:
    """What the comments and the root element say: version, base URL, trailer counts."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.trailer: dict[str, int] | None = None

    def read_comment(self, text: str) -> None:
        if "jira_version" not in self.values and ("JIRA Build" in text or "Jira Build" in text):
            self.values.update(parse_header(text))
            return
        trailer = parse_trailer(text)
        if trailer is not None:
            self.trailer = trailer

    def read_root(self, root: etree._Element) -> None:
        date = root.get("date")
        if date:
            self.values["backup_date"] = date


def bad_char_row(
    file: str, bad: BadChar, entity: str | None, entity_id: str | None
) -> tuple[object, ...]:
    """An ``xml_problem`` row for one forbidden character."""
    return (
        file,
        "invalid-char",
        bad.line,
        bad.column,
        entity,
        entity_id,
        bad.codepoint,
        bad.describe(),
    )


def finish_entities(db: sqlite3.Connection, file: str, rows: Counter[str], header: Header) -> None:
    """Write the counts and header, and join what rows of different entities say together."""
    db.executemany(
        "INSERT INTO entity_count VALUES (?, ?, ?)",
        [(file, entity, count) for entity, count in sorted(rows.items())],
    )
    values = dict(header.values)
    if header.trailer is not None:
        db.executemany("INSERT INTO trailer_count VALUES (?, ?)", sorted(header.trailer.items()))
        values["trailer"] = "present"
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", sorted(values.items()))
    for statement in _JOINS:
        db.execute(statement)


#: Jira's numbers for the global permissions (before 7.0): the names a 6.3 backup
#: that holds both forms pairs them with (corpus/realworld/jsu-6.3.11-test1)
GLOBAL_PERMISSION_NUMBERS = {
    "0": "ADMINISTER",
    "1": "USE",
    "22": "CREATE_SHARED_OBJECTS",
    "24": "MANAGE_GROUP_FILTER_SUBSCRIPTIONS",
    "27": "USER_PICKER",
    "33": "BULK_CHANGE",
    "44": "SYSTEM_ADMIN",
}

#: run once every row is read: facts that rows of different entities make together
_JOINS = (
    "CREATE INDEX IF NOT EXISTS project_id ON project (id)",
    """UPDATE issue SET key = (SELECT p.key FROM project p WHERE p.id = issue.project_id)
                             || '-' || issue.number
       WHERE key IS NULL AND number IS NOT NULL""",
    "UPDATE project SET original_key = key WHERE original_key IS NULL",
    """INSERT INTO property SELECT e.target, v.value
       FROM scan_property_entry e JOIN scan_property_value v ON v.id = e.id
       WHERE e.kind = 'property' ORDER BY v.rowid""",
    """UPDATE user SET email = (
           SELECT v.value FROM scan_property_entry e JOIN scan_property_value v ON v.id = e.id
           WHERE e.kind = 'user-email' AND e.target = user.id ORDER BY v.rowid DESC LIMIT 1)
       WHERE source = 'OSUser'""",
    # Jira before 7.0 kept global permissions as scheme-less SchemePermissions rows; a
    # backup of 7.0 or later has GlobalPermissionEntry rows and may keep the old rows,
    # which that Jira no longer reads
    f"""INSERT INTO global_permission
       SELECT id, CASE permission {
        " ".join(
            f"WHEN '{number}' THEN '{name}'" for number, name in GLOBAL_PERMISSION_NUMBERS.items()
        )
    }
                  ELSE permission END, parameter
       FROM scheme_permission
       WHERE scheme IS NULL AND lower(type) = 'group'
         AND NOT EXISTS (SELECT 1 FROM global_permission) ORDER BY rowid""",
    "DELETE FROM scan_property_entry",
    "DELETE FROM scan_property_value",
    """INSERT INTO user_ref SELECT kind, user_key, count(*), min(example)
       FROM scan_user_ref GROUP BY kind, user_key ORDER BY kind, user_key""",
    "DELETE FROM scan_user_ref",
)

#: OSPropertyEntry keys kept in ``property`` besides the base URL and title:
#: whether outgoing mail is off, and the application links (``applinks.*``)
_PROPERTY_KEYS = ("jira.baseurl", "jira.title", "jira.version.patched", "jira.mail.send.disabled")
_PROPERTY_PREFIXES = ("applinks.",)
#: NodeAssociation sinks that give a project a scheme the after-import rules read
_SCHEME_SINKS = ("PermissionScheme", "IssueSecurityScheme")


class RowReader:
    """Turns row elements into facts; shared by the reference scan and the fast scan.

    ``line_offset`` maps the parser's line numbers to the file's (the fast
    scan parses pieces of the file).
    """

    def __init__(self, out: RowSink, line_offset: int = 0) -> None:
        self.out = out
        self.line_offset = line_offset
        self.rows: Counter[str] = Counter()

    #: entity name -> the method that reads its rows, filled below the class; a class-level
    #: table, not bound methods on the instance: that would be a reference cycle, and every
    #: piece's rows would wait in memory for the garbage collector
    handlers: ClassVar[dict[str, Callable[[RowReader, etree._Element], None]]] = {}

    def read(self, element: etree._Element) -> None:
        tag = element.tag
        self.rows[tag] += 1
        handler = self.handlers.get(tag)
        if handler is not None:
            handler(self, element)

    def line(self, row: etree._Element) -> int:
        line = row.sourceline
        return (line if isinstance(line, int) else 0) + self.line_offset

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
                self.line(row),
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
                self.line(row),
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
                self.line(row),
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
                self.line(row),
            ),
        )

    def on_GlobalPermissionEntry(self, row: etree._Element) -> None:
        self.out.add(
            "global_permission", (row.get("id"), row.get("permission"), row.get("group_id"))
        )

    def on_SchemePermissions(self, row: etree._Element) -> None:
        get = row.get
        self.out.add(
            "scheme_permission",
            (
                get("id"),
                get("scheme"),
                get("permissionKey") or get("permission"),
                get("type"),
                get("parameter"),
            ),
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
        self.user_ref("project lead", get("lead"), get("id"))
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
        issue = row.get("id")
        for kind in ("reporter", "assignee", "creator"):
            self.user_ref(f"issue {kind}", row.get(kind), issue)
        self.out.add(
            "issue",
            (
                row.get("id"),
                row.get("key"),
                integer(row.get("number")),
                row.get("project"),
                length(field(row, "summary")),
                length(field(row, "description")),
                self.line(row),
            ),
        )

    def on_MovedIssueKey(self, row: etree._Element) -> None:
        self.out.add("moved_issue_key", (row.get("id"), row.get("oldIssueKey"), row.get("issueId")))

    def on_Action(self, row: etree._Element) -> None:
        if row.get("type") == "comment":
            self.user_ref("comment author", row.get("author"), row.get("id"))
            self.out.add(
                "comment",
                (row.get("id"), row.get("issue"), length(field(row, "body")), self.line(row)),
            )

    def on_Worklog(self, row: etree._Element) -> None:
        self.user_ref("worklog author", row.get("author"), row.get("id"))
        self.out.add(
            "worklog", (row.get("id"), row.get("issue"), length(field(row, "body")), self.line(row))
        )

    def on_IssueLink(self, row: etree._Element) -> None:
        self.out.add(
            "issue_link",
            (row.get("id"), row.get("source"), row.get("destination"), row.get("linktype")),
        )

    def on_RemoteIssueLink(self, row: etree._Element) -> None:
        self.out.add("remote_link", (row.get("id"), row.get("issueid")))

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
                    self.line(row),
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
            self.out.add("scan_property_entry", (row.get("id"), "user-email", row.get("entityId")))
        elif key is not None and (key in _PROPERTY_KEYS or key.startswith(_PROPERTY_PREFIXES)):
            self.out.add("scan_property_entry", (row.get("id"), "property", key))

    def on_OSPropertyString(self, row: etree._Element) -> None:
        value = field(row, "value")
        if value is not None and len(value) <= MAX_PROPERTY:
            self.out.add("scan_property_value", (row.get("id"), value))

    on_OSPropertyText = on_OSPropertyString
    #: booleans such as jira.mail.send.disabled are numbers (1 or 0)
    on_OSPropertyNumber = on_OSPropertyString

    # -- rows the after-import rules need --------------------------------------

    def user_ref(self, kind: str, user_key: str | None, example: str | None) -> None:
        """A row that names a user (by user key, or by name before Jira 6)."""
        if user_key:
            self.out.add("scan_user_ref", (kind, user_key, example))

    def on_PluginVersion(self, row: etree._Element) -> None:
        self.out.add("plugin", (row.get("key"), row.get("name"), row.get("version")))

    def on_CustomField(self, row: etree._Element) -> None:
        self.out.add(
            "custom_field", (row.get("id"), field(row, "name"), row.get("customfieldtypekey"))
        )

    def on_CustomFieldOption(self, row: etree._Element) -> None:
        self.out.add(
            "custom_field_option",
            (row.get("id"), row.get("customfield"), row.get("customfieldconfig")),
        )

    def on_SharePermissions(self, row: etree._Element) -> None:
        get = row.get
        self.out.add(
            "share_permission",
            (
                get("id"),
                get("entityId"),
                get("entityType"),
                get("type"),
                get("param1"),
                get("param2"),
            ),
        )

    def on_SearchRequest(self, row: etree._Element) -> None:
        owner = row.get("user") or row.get("author")
        self.out.add("search_request", (row.get("id"), field(row, "name"), owner))
        self.user_ref("filter owner", owner, row.get("id"))

    def on_PortalPage(self, row: etree._Element) -> None:
        owner = row.get("username")
        self.out.add("portal_page", (row.get("id"), field(row, "pagename"), owner))
        self.user_ref("dashboard owner", owner, row.get("id"))

    def on_Component(self, row: etree._Element) -> None:
        lead = row.get("lead")
        self.out.add("component", (row.get("id"), row.get("project"), field(row, "name"), lead))
        self.user_ref("component lead", lead, row.get("id"))

    def on_Version(self, row: etree._Element) -> None:
        self.out.add("version", (row.get("id"), row.get("project"), field(row, "name")))

    def on_OptionConfiguration(self, row: etree._Element) -> None:
        if row.get("fieldid") == "issuetype":
            self.out.add(
                "issue_type_option", (row.get("id"), row.get("fieldconfig"), row.get("optionid"))
            )

    def on_FieldConfigSchemeIssueType(self, row: etree._Element) -> None:
        self.out.add(
            "field_config_link", (row.get("fieldconfigscheme"), row.get("fieldconfiguration"))
        )

    def on_FieldConfigScheme(self, row: etree._Element) -> None:
        if row.get("fieldid") == "issuetype":
            self.out.add("issue_type_scheme", (row.get("id"), field(row, "name")))

    def on_IssueSecurityScheme(self, row: etree._Element) -> None:
        self.out.add("security_scheme", (row.get("id"), field(row, "name")))

    def on_SchemeIssueSecurityLevels(self, row: etree._Element) -> None:
        self.out.add("security_level", (row.get("id"), row.get("scheme"), field(row, "name")))

    def on_MailServer(self, row: etree._Element) -> None:
        get = row.get
        self.out.add("mail_server", (get("id"), get("name"), get("type"), get("servername")))

    def on_ServiceConfig(self, row: etree._Element) -> None:
        self.out.add("service_config", (row.get("id"), row.get("name"), row.get("clazz")))

    def on_PermissionScheme(self, row: etree._Element) -> None:
        self.out.add("permission_scheme", (row.get("id"), field(row, "name")))

    def on_NodeAssociation(self, row: etree._Element) -> None:
        sink = row.get("sinkNodeEntity")
        if sink in _SCHEME_SINKS and row.get("sourceNodeEntity") == "Project":
            self.out.add(
                "scheme_association", (row.get("sourceNodeId"), sink, row.get("sinkNodeId"))
            )

    def on_ProjectRole(self, row: etree._Element) -> None:
        self.out.add("project_role", (row.get("id"), field(row, "name")))

    def on_ProjectRoleActor(self, row: etree._Element) -> None:
        get = row.get
        self.out.add(
            "project_role_actor",
            (
                get("id"),
                get("pid"),
                get("projectroleid"),
                get("roletype"),
                get("roletypeparameter"),
            ),
        )

    def on_Status(self, row: etree._Element) -> None:
        self.out.add("status", (row.get("id"), field(row, "name")))


RowReader.handlers.update(
    (name[3:], getattr(RowReader, name)) for name in dir(RowReader) if name.startswith("on_")
)


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


def prolog_problems(head: bytes) -> list[tuple[str, str]]:
    """Faults visible in the first bytes: an encoding Jira never writes, a DOCTYPE."""
    _encoding, bom = declared_encoding(head)
    problems = []
    if bom == "UTF-16":
        problems.append(("encoding", "entities.xml is UTF-16 encoded; Jira writes UTF-8"))
    if b"<!DOCTYPE" in head.split(b"<entity-engine-xml", 1)[0]:
        problems.append(
            ("doctype", "entities.xml declares a DOCTYPE, which Jira never writes (not expanded)")
        )
    return problems


def tree_parser(encoding: str | None = None) -> etree.XMLParser:
    """A parser for untrusted input: no entity expansion, no DTD, no network, and
    libxml2's size limits kept (10 MB per text, 256 levels)."""
    return etree.XMLParser(
        encoding=encoding,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        collect_ids=False,
    )


Event = Literal["start", "end", "comment"]


def pull_parser(events: tuple[Event, ...], encoding: str | None = None) -> etree.XMLPullParser:
    """The same hardening, as a pull parser that reports ``events`` as it is fed."""
    return etree.XMLPullParser(
        events=events,
        encoding=encoding,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )


def element_events(parser: etree.XMLPullParser) -> Iterator[tuple[str, etree._Element]]:
    """The parser's events; for the events asked for here, each carries an element."""
    for event, element in parser.read_events():
        if isinstance(element, etree._Element):
            yield event, element


class ReferenceScan:
    """The simple scan: one pull parser over the whole stream, rows read as they end.

    The fast scan (:mod:`pytest_jiramigrate.scan.pieces`) must produce the same
    facts; this one is its oracle in the tests, its fallback for files it
    cannot cut into pieces (no Jira root element, UTF-16, a DOCTYPE), and its
    continuation from the first piece that does not parse, so that syntax
    errors are found exactly where a whole-file parse finds them.

    A forbidden character belongs to the last complete row that starts at or
    before its line; characters before the first row, or after a syntax error,
    belong to none.
    """

    def __init__(
        self,
        db: sqlite3.Connection,
        file: str = FILE,
        *,
        line_offset: int = 0,
        row: tuple[str | None, str | None] = (None, None),
        header: Header | None = None,
    ) -> None:
        self.db = db
        self.file = file
        self.out = Writer(db)
        self.reader = RowReader(self.out, line_offset)
        self.header = header or Header()
        self.pending: list[BadChar] = []
        self.row = row
        #: the row whose end has not been read yet: where a syntax error is
        self.open_row: tuple[str, str | None] | None = None
        #: the last blocks fed, by the number of lines before each: where a row whose
        #: start tag is cut short (no start event) is named
        self.recent: deque[tuple[int, bytes]] = deque(maxlen=2)
        self.fed_lines = line_offset
        #: the element whose start tag libxml2 refused as too long (see :meth:`to_huge_tag`)
        self.huge_tag: etree._Element | None = None

    def run(self, blocks: Iterable[bytes]) -> str | None:
        """Scan a whole file; returns why it could not be read to the end, or None."""
        blocks = iter(blocks)
        head = next(blocks, b"")
        for kind, detail in prolog_problems(head):
            self.problem(kind, 1, 1, detail)
        encoding, bom = declared_encoding(head)
        chars = CharScanner(encoding) if bom != "UTF-16" else None
        reason = self.parse(itertools.chain([head], blocks), chars)
        finish_entities(self.db, self.file, self.reader.rows, self.header)
        return reason

    def parse(
        self, blocks: Iterator[bytes], chars: CharScanner | None, encoding: str | None = None
    ) -> str | None:
        """Parse the blocks and write their rows; why the parse stopped early, or None."""
        parser = pull_parser(("start", "end", "comment"), encoding)
        reason = None
        try:
            for block in blocks:
                data = self.mask(chars.feed(block) if chars else (block, []))
                self.recent.append((self.fed_lines, data))
                self.fed_lines += data.count(b"\n")
                parser.feed(data)
                self.drain(parser)
            if chars is not None:
                parser.feed(self.mask(chars.finish()))
            parser.close()
            self.drain(parser)
        except etree.XMLSyntaxError as error:
            # rows parsed before the error still count
            self.drain(parser, huge_tag=any(n in str(error.msg) for n in _START_TAG_LIMITS))
            reason = self.syntax_error(error, chars, blocks)
        except (LookupError, ValueError) as error:  # an unknown declared encoding
            self.problem("not-well-formed", 1, 1, f"cannot decode entities.xml: {error}")
            reason = f"entities.xml cannot be decoded: {error}"
        self.assign(None)
        self.out.flush()
        return reason

    def mask(self, scanned: tuple[bytes, list[BadChar]]) -> bytes:
        data, bad = scanned
        self.pending += bad
        return data

    def drain(self, parser: etree.XMLPullParser, huge_tag: bool = False) -> None:
        events: Iterable[tuple[str, etree._Element]] = element_events(parser)
        if huge_tag:
            events = self.to_huge_tag(list(events))
        for event, element in events:
            if event == "comment":
                self.header.read_comment(element.text or "")
                continue
            parent = element.getparent()
            if parent is None:
                if event == "start":
                    self.header.read_root(element)
            elif parent.getparent() is None:
                if event == "start":
                    if isinstance(element.tag, str):
                        self.open_row = (element.tag, element.get("id"))
                    continue
                self.open_row = None
                self.read_row(element)
                parent.remove(element)

    def to_huge_tag(
        self, events: list[tuple[str, etree._Element]]
    ) -> list[tuple[str, etree._Element]]:
        """The events before the start tag libxml2 refused as too long, which is kept in
        :attr:`huge_tag`.

        libxml2's push parser buffers a start tag until its ``>`` arrives, then
        parses it and the rest of the block fed, and only then reports that its
        buffer grew over 10 MB, at the line where it stopped: rows after the tag.
        The tag is among the elements it parsed (the one with the most attribute
        text, at least 1 MB of it: 10 MB of markup is no less than 1 MB of
        characters); it and what follows it are not facts.
        """
        starts = [(_tag_chars(e), -i) for i, (event, e) in enumerate(events) if event == "start"]
        chars, at = max(starts, default=(0, 0))
        if chars < VALUE_LIMIT // 10:
            return events
        self.huge_tag = events[-at][1]
        return events[:-at]

    def read_row(self, element: etree._Element) -> None:
        if not isinstance(element.tag, str):
            return
        self.assign(self.reader.line(element))
        self.row = (element.tag, element.get("id"))
        self.reader.read(element)

    def assign(self, next_row_line: int | None, owner: bool = True) -> None:
        """Give the characters before ``next_row_line`` to the current row (or to none)."""
        keep: list[BadChar] = []
        entity, entity_id = self.row if owner else (None, None)
        for bad in self.pending:
            if next_row_line is not None and bad.line >= next_row_line:
                keep.append(bad)
            else:
                self.out.add("xml_problem", bad_char_row(self.file, bad, entity, entity_id))
        self.pending = keep

    def problem(self, kind: str, line: int | None, column: int | None, detail: str) -> None:
        self.out.add("xml_problem", (self.file, kind, line, column, None, None, None, detail))

    def row_starting_at(self, line: int | None) -> tuple[str, str | None] | None:
        """The row whose start tag begins on ``line`` (Jira starts each row on a line)."""
        if line is None:
            return None
        for lines_before, data in self.recent:
            skip = line - 1 - lines_before
            if skip < 0:
                continue
            start = 0
            for _ in range(skip):
                start = data.find(b"\n", start) + 1
                if start == 0:
                    break
            else:
                match = _ROW_HEAD.match(data, start)
                if match:
                    name, row_id = match.groups()
                    return name.decode("ascii"), row_id.decode(
                        "utf-8", "replace"
                    ) if row_id else None
        return None

    def syntax_error(
        self, error: etree.XMLSyntaxError, chars: CharScanner | None, rest: Iterator[bytes]
    ) -> str:
        """Record the error, then keep looking for forbidden characters to the end."""
        offset = self.reader.line_offset
        line, column = error.position if error.position else (None, None)
        line = None if line is None else line + offset
        message = explain(shift_lines(error.msg or str(error), offset))
        entity, entity_id = self.open_row or self.row_starting_at(line) or self.row
        huge = self.huge_tag
        if huge is not None:  # libxml2's line is where it stopped, rows later: name the tag
            parent = huge.getparent()
            if parent is None or parent.getparent() is None:  # a row itself
                entity, entity_id = huge.tag, huge.get("id")
            line, column = self.reader.line(huge), 1
            message = huge_tag_words(huge, (entity, entity_id), line, error.msg or str(error))
        self.out.add(
            "xml_problem",
            (self.file, "not-well-formed", line, column, entity, entity_id, None, message),
        )
        if chars is not None:
            for block in rest:
                self.mask(chars.feed(block))
            self.mask(chars.finish())
        if line is not None:
            self.assign(line + 1)  # up to the error: the last complete row
        self.assign(None, owner=False)
        return f"entities.xml is not well-formed at line {line}: facts after it were not read"


_LINE_IN_MESSAGE = re.compile(r"\bline (\d+)")
#: libxml2's errors for a start tag (one of its values, or all of them) longer than its
#: 10 MB limit
_START_TAG_LIMITS = ("Buffer size limit exceeded", "AttValue length too long")
#: libxml2's limit for one value or token without XML_PARSE_HUGE (XML_MAX_TEXT_LENGTH)
VALUE_LIMIT = 10_000_000
#: more attributes than any Jira row has (a row has one per non-null column)
_MANY_ATTRIBUTES = 1000
_POSITION_IN_MESSAGE = re.compile(r"\s*,\s*line \d+, column\s*\d*$")
_ROW_HEAD = re.compile(rb"    <([A-Za-z][\w.-]*)(?:[^>\n]*?\bid=\"([^\"]*)\")?")
#: libxml2's safety limits, said so that an administrator can act on them
_LIMITS = (
    (
        "Excessive depth",
        "elements are nested deeper than 256 levels (libxml2's limit; Jira "
        "writes rows two levels deep, so this file was not written by Jira's backup)",
    ),
    (
        "Buffer size limit exceeded",
        "a start tag is longer than 10 MB (libxml2's limit for one value; Jira's values "
        "are far smaller, so the rest of the file could not be checked)",
    ),
    (
        "AttValue length too long",
        "a value is longer than 10 MB (libxml2's limit for one value; Jira's values are "
        "far smaller, so the rest of the file could not be checked)",
    ),
    (
        "huge text node",
        "a text is longer than 10 MB (libxml2's limit for one text; Jira's "
        "text fields are far smaller, so the file is damaged or was not written by Jira)",
    ),
    (
        "too big",
        "a text is longer than 10 MB (libxml2's limit for one text; Jira's text "
        "fields are far smaller, so the file is damaged or was not written by Jira)",
    ),
)


def _tag_chars(element: etree._Element) -> int:
    """The characters of an element's attribute names and values; for more than
    :data:`_MANY_ATTRIBUTES` attributes, :data:`VALUE_LIMIT` unread (lxml finds each
    value by its name, so reading them all takes time quadratic in their number)."""
    if len(element.keys()) > _MANY_ATTRIBUTES:
        return VALUE_LIMIT
    return sum(len(name) + len(value) for name, value in element.attrib.items())


def huge_tag_words(
    element: etree._Element, row: tuple[str | None, str | None], line: int, message: str
) -> str:
    """Where the value over libxml2's limit is and what to do about it; libxml2's own
    position (where it stopped, rows later) is left out of its message."""
    entity, entity_id = row
    names = element.keys()
    if len(names) > _MANY_ATTRIBUTES:
        what = f"it has {len(names):,} attributes"
    else:
        name, value = max(element.items(), key=lambda item: len(item[1]))
        chars = _tag_chars(element)
        if 2 * len(value) >= chars:
            what = f"its {name!s} attribute has {len(value):,} characters"
        else:
            what = f"its {len(names):,} attributes have {chars:,} characters"
    place = f"the {entity} row" + (f" id={entity_id}" if entity_id else "")
    if element.tag != entity:
        place = f"<{element.tag}> in {place}"
    cause = _POSITION_IN_MESSAGE.sub("", message.strip())
    return (
        f"the start tag of {place} at line {line} is longer than 10 MB, libxml2's limit "
        f"({what}), so nothing after it could be checked: shorten or remove that value in "
        f"Jira's database, then take a new backup (libxml2: {cause})"
    )


def explain(message: str) -> str:
    """Put libxml2's limit messages in words an administrator can act on."""
    for needle, words in _LIMITS:
        if needle in message:
            return f"{words}: {message}"
    return message


def shift_lines(message: str, offset: int) -> str:
    """libxml2 names the line of an unclosed tag in its message: make it the file's line."""
    if not offset:
        return message
    return _LINE_IN_MESSAGE.sub(lambda match: f"line {int(match.group(1)) + offset}", message)


def blocks_of(stream: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    return iter(lambda: stream.read(size), b"")


def scan_entities_reference(
    stream: BinaryIO, db: sqlite3.Connection, file: str = FILE
) -> str | None:
    """Scan one entities.xml stream into ``db`` the simple way; why it stopped early, or None."""
    return ReferenceScan(db, file).run(blocks_of(stream))
