"""Streaming rewrites of entities.xml and activeobjects.xml that touch only the rows they fix.

Like ``clean-xml``, nothing is parsed into a tree: the inflated XML is cut at
row starts (Jira writes every entities.xml row on a line of its own, indented
four spaces), one regex per block finds the rows of the entities a fix
concerns, and only those rows are read (their start tag, or lxml on the one
row for a long text) and written anew.  Every other byte is passed through as
it was read.  Memberships to drop and users to re-address are known only
after reading the whole file, so those fixes take one quick inventory pass
first (a regex over the rows of five entities).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from lxml import etree

from pytest_jiramigrate.commands.clean import BLOCK, ByteSink, attribute_values
from pytest_jiramigrate.commands.fix.plan import AO_PREFIX, EmailChange, LongText

#: in Jira's layout every row of entities.xml starts a line indented by four spaces
ROW_START = b"\n    <"
_INDENT = len(ROW_START) - 1
#: a single row larger than this means the file is not in Jira's layout
MAX_ROW = 256 * 1024 * 1024
_ROW_ID = re.compile(rb'\sid="([^"]*)"')
#: the entity of a row, not of a closing tag or comment at the same indent
_ROW_NAME = re.compile(rb"\n    <([A-Za-z_][\w.\-]*)")
_TRAILER = b"___ Entities ___"
_INVENTORY_ROWS = re.compile(
    rb"\n    <(Membership|Group|User|Directory|OSUser|OSPropertyEntry)(\s[^>]*)>"
)
GROUP_USER, GROUP_GROUP = "GROUP_USER", "GROUP_GROUP"
#: the long-text fields per entity; the summary has its own limit
LONG_TEXT_FIELDS = {
    "Issue": ("summary", "description"),
    "Action": ("body",),
    "Worklog": ("body",),
    "CustomFieldValue": ("textvalue",),
}
#: a text limit from which texts over it are found by the gap they leave between
#: row starts (:meth:`EntityRewriter._gaps`); shorter ones by the field's name
GAP_LIMIT = 2048


def long_text_finders(settings: LongText | None) -> tuple[int, list[tuple[bytes, int]]]:
    """How to find the texts over the plan's limits: the window size of the gap search
    (0: none), and the fields with a shorter limit, with their limits."""
    if settings is None:
        return 0, []
    limits = {
        name.encode("ascii"): settings.summary_max_chars
        if name == "summary"
        else settings.max_chars
        for fields in LONG_TEXT_FIELDS.values()
        for name in fields
    }
    long_limits = [limit for limit in limits.values() if limit >= GAP_LIMIT]
    window = (min(long_limits) + 1) // 2 if long_limits else 0
    return window, [(name, limit) for name, limit in limits.items() if limit < GAP_LIMIT]


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


class RewriteError(Exception):
    """The XML cannot be rewritten safely; the message is one line for the user."""


@dataclass(frozen=True)
class Edit:
    """One changed or dropped row, as one line of the change log."""

    fix: str
    entity: str
    id: str
    field: str = ""
    old: str = ""
    new: str = ""
    #: the issue key for issue content, the username for users and memberships
    key: str = ""
    note: str = ""
    #: the issue whose key ``key`` should name, resolved after the rewrite
    issue_id: str = ""

    def record(self) -> dict[str, str]:
        return {
            "fix": self.fix,
            "entity": self.entity,
            "id": self.id,
            "field": self.field,
            "old": self.old,
            "new": self.new,
            "key": self.key,
            "note": self.note,
        }


LOG_FIELDS = tuple(Edit("", "", "").record())


def ao_prefix(app: str) -> str:
    """The activeobjects.xml table prefix of an app: ``AO_`` + last 6 hex digits of md5(key).

    An entry that already is a prefix (``AO_60DB71``) is returned upper-cased.
    """
    if AO_PREFIX.fullmatch(app):
        return app.upper()
    return "AO_" + hashlib.md5(app.encode("utf-8"), usedforsecurity=False).hexdigest()[-6:].upper()


# --------------------------------------------------------------------------- escaping


def escape_attribute(text: str) -> str:
    """``text`` as a double-quoted attribute value, with line breaks kept as references."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
        .replace("\t", "&#9;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
    )


def cdata(text: str, encoding: str) -> bytes:
    """``text`` as CDATA in ``encoding``, a ``]]>`` in it split across two sections as Jira
    does; a character the encoding lacks goes between sections as a character reference,
    since a reference inside CDATA would be read as its six letters."""
    body = text.replace("]]>", "]]]]><![CDATA[>")
    try:
        encoded = body.encode(encoding)
    except UnicodeEncodeError:
        encoded = b"".join(_cdata_character(char, encoding) for char in body)
    return b"<![CDATA[" + encoded + b"]]>"


def _cdata_character(char: str, encoding: str) -> bytes:
    try:
        return char.encode(encoding)
    except UnicodeEncodeError:
        return b"]]>&#%d;<![CDATA[" % ord(char)


# --------------------------------------------------------------------------- rows


def start_tag_end(element: bytes) -> int:
    """Where the start tag ends (the index after its ``>``): values escape every ``>``."""
    end = element.find(b">")
    return len(element) if end < 0 else end + 1


def element_end(element: bytes, entity: str) -> int:
    """Where the row's element ends; the trailer comment may follow the last row."""
    tag_end = start_tag_end(element)
    if element[tag_end - 2 : tag_end] == b"/>":
        return tag_end
    closing = b"</" + entity.encode("ascii") + b">"
    end = element.rfind(closing)
    return tag_end if end < 0 else end + len(closing)


def set_attribute(element: bytes, name: str, value: bytes) -> bytes:
    """The row with attribute ``name`` set to the escaped ``value`` (added when missing)."""
    tag_end = start_tag_end(element)
    tag = element[:tag_end]
    pattern = re.compile(rb"(\s" + re.escape(name.encode("ascii")) + rb')="[^"]*"')
    new_tag, found = pattern.subn(lambda m: m.group(1) + b'="' + value + b'"', tag, count=1)
    if not found:
        close = tag_end - 2 if tag.endswith(b"/>") else tag_end - 1
        new_tag = tag[:close] + b" " + name.encode("ascii") + b'="' + value + b'"' + tag[close:]
    return new_tag + element[tag_end:]


def next_row_start(buffer: bytes, position: int, end: int | None = None) -> int:
    """Where the next row starts before ``end``: a line at four spaces that is not a
    row's closing tag (``end``, or the buffer's length, when there is none)."""
    stop = len(buffer) if end is None else end
    while True:
        position = buffer.find(ROW_START, position, stop)
        if position < 0:
            return stop
        if buffer[position + len(ROW_START) : position + len(ROW_START) + 1] != b"/":
            return position
        position += 1


def row_start_before(buffer: bytes, position: int) -> int:
    """Where the row that holds ``position`` starts (-1: none): the last line at four
    spaces before it that is not a closing tag, such as one in a text of HTML."""
    end = position + 1
    while True:
        start = buffer.rfind(ROW_START, 0, end)
        if start < 0 or buffer[start + len(ROW_START) : start + len(ROW_START) + 1] != b"/":
            return start
        end = start + len(ROW_START) - 1


def last_row_start(buffer: bytes) -> int:
    """Where the last row that surely starts in ``buffer`` starts (-1: none).

    A line at four spaces that ends the buffer may still turn out to be a
    closing tag, so it counts only once the byte after its ``<`` is there.
    """
    end = len(buffer) - len(ROW_START)
    while True:
        position = buffer.rfind(ROW_START, 0, end)
        if position < 0 or buffer[position + len(ROW_START)] != ord("/"):
            return position
        end = position


@dataclass
class Inventory:
    """What the fixes must know about the whole file before rewriting any row."""

    group_ids: set[str] = field(default_factory=set)
    user_ids: set[str] = field(default_factory=set)
    #: (lower-case username, directory id) -> User row id
    users: dict[tuple[str, str], str] = field(default_factory=dict)
    directories: dict[str, str] = field(default_factory=dict)
    os_users: dict[str, str] = field(default_factory=dict)
    #: OSPropertyEntry id of an OSUser's e-mail -> the OSUser's id
    os_emails: dict[str, str] = field(default_factory=dict)
    #: (parentId, childId, membershipType) -> ids of the Membership rows
    memberships: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    membership_types: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    def add(self, entity: bytes, attributes: dict[str, str]) -> None:
        row_id = attributes.get("id", "")
        if entity == b"Group":
            self.group_ids.add(row_id)
        elif entity == b"User":
            self.user_ids.add(row_id)
            name = attributes.get("lowerUserName") or attributes.get("userName", "").lower()
            self.users[name, attributes.get("directoryId", "")] = row_id
        elif entity == b"Directory":
            self.directories[row_id] = attributes.get("directoryName", "")
        elif entity == b"OSUser":
            self.os_users[row_id] = attributes.get("name", "")
        elif entity == b"OSPropertyEntry":
            if (
                attributes.get("entityName") == "OSUser"
                and attributes.get("propertyKey") == "email"
            ):
                self.os_emails[row_id] = attributes.get("entityId", "")
        else:
            key = (
                attributes.get("parentId", ""),
                attributes.get("childId", ""),
                attributes.get("membershipType", ""),
            )
            self.memberships.setdefault(key, []).append(row_id)
            self.membership_types[row_id] = key


def take_inventory(blocks: Iterable[bytes], encoding: str) -> Inventory:
    """One regex pass over the rows of the entities the membership and e-mail fixes need."""
    inventory = Inventory()
    carry = b""
    for block in blocks:
        buffer = carry + block
        newline = buffer.rfind(b"\n")
        if newline <= 0:
            carry = buffer
            continue
        for entity, attributes in _INVENTORY_ROWS.findall(buffer, 0, newline + 1):
            inventory.add(entity, attribute_values(attributes, encoding))
        carry = buffer[newline:]
    for entity, attributes in _INVENTORY_ROWS.findall(carry + b"\n"):
        inventory.add(entity, attribute_values(attributes, encoding))
    return inventory


def memberships_to_drop(inventory: Inventory) -> dict[str, str]:
    """Membership ids to drop, with why: duplicates (the lowest id stays) and dangling ids."""
    drops: dict[str, str] = {}
    for (parent, child, kind), ids in inventory.memberships.items():
        ordered = sorted(ids, key=lambda i: (int(i) if i.isdigit() else float("inf"), i))
        for duplicate in ordered[1:]:
            drops[duplicate] = f"duplicate of id {ordered[0]}"
        children = inventory.user_ids if kind == GROUP_USER else inventory.group_ids
        if parent not in inventory.group_ids:
            reason = f"parentId {parent} has no Group row"
        elif kind in (GROUP_USER, GROUP_GROUP) and child not in children:
            reason = f"childId {child} has no {'User' if kind == GROUP_USER else 'Group'} row"
        else:
            continue
        for row_id in ordered:
            drops.setdefault(row_id, reason)
    return drops


def email_targets(
    inventory: Inventory, changes: Iterable[EmailChange], fixes: RowFixes
) -> list[tuple[EmailChange, str]]:
    """Fill in the new addresses by User id and OSUser e-mail property id; the rows of the
    CSV that name no user, or an OSUser without an e-mail property row to change.

    A row without a directory changes the user in every directory it is in,
    as Jira's directory shadowing makes them one user.
    """
    unmatched: list[tuple[EmailChange, str]] = []
    os_by_name = {name.lower(): row_id for row_id, name in inventory.os_users.items()}
    os_property = {user: entry for entry, user in inventory.os_emails.items()}
    for change in changes:
        found = [
            row_id
            for (name, directory), row_id in inventory.users.items()
            if name == change.user.lower()
            and change.directory_id in ("", directory)
            and change.directory in ("", directory, inventory.directories.get(directory))
        ]
        for row_id in found:
            fixes.user_emails[row_id] = change.new_email
        os_user = os_by_name.get(change.user.lower())
        if os_user is not None and os_user in os_property:
            fixes.property_emails[os_property[os_user]] = (change.new_email, change.user)
        elif not found:
            unmatched.append((change, "has no e-mail property row" if os_user else "is not"))
    return unmatched


# --------------------------------------------------------------------------- entities.xml


@dataclass
class RowFixes:
    """The row-level fixes of entities.xml and what they need to know."""

    drop_memberships: dict[str, str] = field(default_factory=dict)
    user_emails: dict[str, str] = field(default_factory=dict)
    #: OSPropertyString id -> (new address, username) on pre-4.3 backups
    property_emails: dict[str, tuple[str, str]] = field(default_factory=dict)
    long_text: LongText | None = None

    def by_id(self) -> dict[str, Container[str]]:
        """The ids of the rows to change, per entity, for the fixes that name rows by id."""
        ids: dict[str, Container[str]] = {
            "Membership": self.drop_memberships,
            "User": self.user_emails,
            "OSPropertyString": self.property_emails,
        }
        return {entity: chosen for entity, chosen in ids.items() if chosen}

    def any(self) -> bool:
        return bool(self.by_id()) or self.long_text is not None


class EntityRewriter:
    """Rewrites entities.xml fed block by block; holds back only the row being read."""

    def __init__(self, fixes: RowFixes, encoding: str, edits: list[Edit]) -> None:
        self.fixes = fixes
        self.encoding = encoding
        self.edits = edits
        self.dropped: dict[str, int] = {}
        self._carry = b""
        self._ids = fixes.by_id()
        names = b"|".join(re.escape(name.encode("ascii")) for name in self._ids)
        self._rows = re.compile(rb"\n    <(" + names + rb")[\s/>]") if names else None
        self._windows, self._short_texts = long_text_finders(fixes.long_text)

    def feed(self, block: bytes) -> bytes:
        buffer = self._carry + block
        cut = last_row_start(buffer)
        if cut <= 0:
            if len(buffer) > MAX_ROW:
                raise RewriteError(
                    "entities.xml is not in Jira's layout (one row per line, indented four"
                    " spaces), so its rows cannot be rewritten one by one"
                )
            self._carry = buffer
            return b""
        self._carry = buffer[cut:]
        return self._rewrite(buffer[:cut])

    def finish(self) -> bytes:
        tail = self._rewrite(self._carry)
        self._carry = b""
        return self._recount(tail)

    def _rewrite(self, region: bytes) -> bytes:
        """The region (whole rows) with every row a fix concerns rewritten."""
        pieces = []
        written = 0
        for start in self._candidates(region):
            if start < written:
                continue
            name = _ROW_NAME.match(region, start)
            if name is None:
                continue
            entity = name.group(1).decode("ascii")
            end = next_row_start(region, start + 1)
            element = region[start + _INDENT : end]
            stop = element_end(element, entity)
            new = self._fix_row(entity, element[:stop])
            if new is None:
                pieces.append(region[written:start])
                pieces.append(element[stop:])
            else:
                pieces.append(region[written : start + _INDENT])
                pieces.append(new)
                pieces.append(element[stop:])
            written = end
        if not written:
            return region
        pieces.append(region[written:])
        return b"".join(pieces)

    def _candidates(self, region: bytes) -> list[int]:
        """Where the rows a fix may change start, found with as little Python per row as can be.

        Most rows are left alone, and deciding that without reading them keeps
        the rewrite near the speed of a copy: rows named by id are told by
        their ``id`` attribute, and long texts are found without looking at
        every row (see :meth:`_gaps` and :meth:`_short_text_hits`).  A row
        found here that needs no change is written back as it was.
        """
        starts = set()
        if self._rows is not None:
            for match in self._rows.finditer(region):
                start = match.start()
                tag_end = region.find(b">", start)
                found = _ROW_ID.search(region, start, tag_end)
                chosen = self._ids[match.group(1).decode("ascii")]
                if found is not None and found.group(1).decode("ascii", "replace") in chosen:
                    starts.add(start)
        hits = [*self._gaps(region), *self._short_text_hits(region)]
        starts.update(row_start_before(region, hit) for hit in hits)
        starts.discard(-1)
        return sorted(starts)

    def _gaps(self, region: bytes) -> Iterator[int]:
        """Where a text over a long limit may be: in a window with no row start in it.

        A text of more than ``limit`` characters holds no row start (an attribute
        value has no line break; a text element that did would be cut short at
        it, not parse and never be cut) and spans more than ``limit`` bytes, so
        it covers a whole window of half that size.  Rows are dense, so each
        window costs one short ``find``, and the regions between long texts are
        never scanned byte by byte: this is what keeps the long-text fix near a
        copy's speed.
        """
        window = self._windows
        if not window:
            return
        for start in range(0, len(region) - window + 1, window):
            if next_row_start(region, start, start + window) >= start + window:
                yield start

    def _short_text_hits(self, region: bytes) -> Iterator[int]:
        """Where a field with a short limit (the summary) holds more bytes than its limit:
        an attribute value, or a text element, found by its name at C speed."""
        for name, limit in self._short_texts:
            position = region.find(name)
            while position >= 0:
                after = position + len(name)
                if region.startswith(b'="', after):
                    end = region.find(b'"', after + 2)
                    if end < 0 or end - (after + 2) > limit:
                        yield position
                elif region.startswith(b">", after) and region[position - 1 : position] == b"<":
                    closing = region.find(b"</" + name + b">", after + 1)
                    if closing < 0 or closing - (after + 1) > limit:
                        yield position
                position = region.find(name, after)

    def _fix_row(self, entity: str, row: bytes) -> bytes | None:
        """The row as it is to be written, or None to drop it."""
        if entity in LONG_TEXT_FIELDS and len(row) <= self._shortest_limit(entity):
            return row  # a text of more characters than the row has bytes cannot be there
        attributes = attribute_values(row[: start_tag_end(row)], self.encoding)
        row_id = attributes.get("id", "")
        if entity == "Membership":
            reason = self.fixes.drop_memberships.get(row_id)
            if reason is None:
                return row
            self.dropped[entity] = self.dropped.get(entity, 0) + 1
            self.edits.append(
                Edit(
                    "memberships",
                    entity,
                    row_id,
                    old=f"{attributes.get('parentName', '')} > {attributes.get('childName', '')}",
                    key=attributes.get("childName", ""),
                    note=f"row dropped: {reason}",
                )
            )
            return None
        if entity == "User" and row_id in self.fixes.user_emails:
            return self._readdress(row, attributes, self.fixes.user_emails[row_id])
        if entity == "OSPropertyString" and row_id in self.fixes.property_emails:
            new, user = self.fixes.property_emails[row_id]
            self.edits.append(
                Edit("emails", entity, row_id, "value", attributes.get("value", ""), new, key=user)
            )
            return set_attribute(row, "value", self._encode(escape_attribute(new)))
        if entity in LONG_TEXT_FIELDS:
            return self._cut(entity, row, attributes)
        return row

    def _shortest_limit(self, entity: str) -> int:
        settings = self.fixes.long_text
        if settings is None:
            return MAX_ROW
        if entity == "Issue":
            return min(settings.summary_max_chars, settings.max_chars)
        return settings.max_chars

    def _readdress(self, row: bytes, attributes: dict[str, str], new: str) -> bytes:
        user = attributes.get("userName", "")
        self.edits.append(
            Edit(
                "emails",
                "User",
                attributes.get("id", ""),
                "emailAddress",
                attributes.get("emailAddress", ""),
                new,
                key=user,
            )
        )
        row = set_attribute(row, "emailAddress", self._encode(escape_attribute(new)))
        return set_attribute(row, "lowerEmailAddress", self._encode(escape_attribute(new.lower())))

    def _cut(self, entity: str, row: bytes, attributes: dict[str, str]) -> bytes:
        """Cut each text field of the row that is over its limit."""
        assert self.fixes.long_text is not None
        settings = self.fixes.long_text
        for name in LONG_TEXT_FIELDS[entity]:
            limit = settings.summary_max_chars if name == "summary" else settings.max_chars
            if len(row) <= limit:
                continue  # a text of more characters than the row has bytes cannot be there
            text = self._value(row, name, attributes)
            if text is None or len(text) <= limit:
                continue
            kept = text[: limit - len(settings.marker)] + settings.marker
            row = self._replace_value(row, name, attributes, kept)
            row_id = attributes.get("id", "")
            issue_id = row_id if entity == "Issue" else attributes.get("issue", "")
            self.edits.append(
                Edit(
                    "long-text",
                    entity,
                    row_id,
                    name,
                    f"{len(text)} characters",
                    f"{len(kept)} characters",
                    key=attributes.get("key", ""),
                    note=f"data lost: {len(text) - len(kept) + len(settings.marker)} characters"
                    f" cut, {len(text)} before",
                    issue_id=issue_id,
                )
            )
        return row

    def _value(self, row: bytes, name: str, attributes: dict[str, str]) -> str | None:
        if name in attributes:
            return attributes[name]
        if b"<" + name.encode("ascii") + b">" not in row:
            return None
        try:
            element = etree.fromstring(row.decode(self.encoding), _PARSER)
        except (etree.XMLSyntaxError, UnicodeDecodeError, ValueError):
            return None  # a row the characters fix did not clean: left as it is
        child = element.find(name)
        return None if child is None else "".join(str(text) for text in child.itertext())

    def _replace_value(self, row: bytes, name: str, attributes: dict[str, str], text: str) -> bytes:
        if name in attributes:
            return set_attribute(row, name, self._encode(escape_attribute(text)))
        opening, closing = f"<{name}>".encode("ascii"), f"</{name}>".encode("ascii")
        start, end = row.find(opening), row.rfind(closing)
        return (
            row[:start] + opening + cdata(text, self.encoding) + closing + row[end + len(closing) :]
        )

    def _encode(self, text: str) -> bytes:
        return text.encode(self.encoding, "xmlcharrefreplace")

    def _recount(self, tail: bytes) -> bytes:
        """The trailer with the counts of the entities whose rows were dropped lowered."""
        at = tail.find(_TRAILER)
        if at < 0 or not self.dropped:
            return tail
        trailer = tail[at:]
        total = sum(self.dropped.values())
        for entity, count in [*self.dropped.items(), ("Total", total)]:
            trailer = lower_count(trailer, entity, count)
        return tail[:at] + trailer


def lower_count(trailer: bytes, entity: str, by: int) -> bytes:
    """The trailer with ``entity``'s count lowered by ``by``, its layout kept."""
    pattern = re.compile(rb"(\n\s*" + re.escape(entity.encode("ascii")) + rb"\s*:\s*)(\d+)")
    match = pattern.search(trailer)
    if match is None:
        return trailer
    count = str(int(match.group(2)) - by).encode("ascii")
    return trailer[: match.start(2)] + count + trailer[match.end(2) :]


# --------------------------------------------------------------------------- activeobjects.xml

_AO_START = re.compile(rb'\n  <(table name|data tableName)="([^"]*)"')
_AO_CLOSING = {b"table name": b"\n  </table>", b"data tableName": b"\n  </data>"}
#: longer than any start tag the regex must see whole
_AO_LOOKBEHIND = 1024


class AppDataDropper:
    """Drops the ``<table>`` definitions and ``<data>`` blocks of the named apps' tables."""

    def __init__(self, apps: Iterable[str], edits: list[Edit]) -> None:
        self.prefixes = {ao_prefix(app): app for app in apps}
        self.edits = edits
        self._pending = b""
        self._closing: bytes | None = None
        self._rows = 0
        self._table = ""

    def app_of(self, table: str) -> str | None:
        """The app (as the plan names it) that owns ``table``, if it is to be dropped."""
        prefix = table[:9].upper()
        return self.prefixes.get(prefix) if table[9:10] == "_" else None

    def feed(self, block: bytes) -> bytes:
        buffer = self._pending + block
        out: list[bytes] = []
        position = 0
        while True:
            if self._closing is not None:
                end = buffer.find(self._closing, position)
                if end < 0:
                    keep = max(position, len(buffer) - len(self._closing))
                    self._rows += buffer.count(b"<row>", position, keep)
                    position = keep
                    break
                self._rows += buffer.count(b"<row>", position, end)
                self._log()
                position = end + len(self._closing)
                self._closing = None
                continue
            match = _AO_START.search(buffer, position)
            if match is None:
                safe = max(position, len(buffer) - _AO_LOOKBEHIND)
                out.append(buffer[position:safe])
                position = safe
                break
            table = match.group(2).decode("utf-8", "replace")
            if self.app_of(table) is None:
                out.append(buffer[position : match.end()])
                position = match.end()
                continue
            tag_end = buffer.find(b">", match.end())
            if tag_end < 0:
                out.append(buffer[position : match.start()])
                position = match.start()
                break
            out.append(buffer[position : match.start()])
            self._table = f"{'table' if match.group(1) == b'table name' else 'data'}:{table}"
            self._rows = 0
            position = tag_end + 1
            if buffer[tag_end - 1 : tag_end] == b"/":
                self._log()
            else:
                self._closing = _AO_CLOSING[match.group(1)]
        self._pending = buffer[position:]
        return b"".join(out)

    def finish(self) -> bytes:
        if self._closing is not None:
            raise RewriteError(f"activeobjects.xml ends inside {self._table}; it is cut short")
        tail, self._pending = self._pending, b""
        return tail

    def _log(self) -> None:
        kind, table = self._table.split(":", 1)
        app = self.app_of(table) or ""
        what = "table definition" if kind == "table" else f"{self._rows} rows"
        self.edits.append(
            Edit("app-data", kind, table, key=app, note=f"{what} dropped: app data not migrated")
        )


# --------------------------------------------------------------------------- plumbing


class FilterSink:
    """A sink that passes what is written through a rewriter on its way to ``sink``."""

    def __init__(self, rewriter: EntityRewriter | AppDataDropper, sink: ByteSink) -> None:
        self.rewriter = rewriter
        self.sink = sink

    def write(self, data: bytes, /) -> int:
        rewritten = self.rewriter.feed(bytes(data))
        if rewritten:
            self.sink.write(rewritten)
        return len(data)

    def close(self) -> None:
        self.sink.write(self.rewriter.finish())


def blocks(stream: BinaryIO) -> Iterator[bytes]:
    while block := stream.read(BLOCK):
        yield block
