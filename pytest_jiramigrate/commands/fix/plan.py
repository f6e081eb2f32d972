"""The fix plan (``fixes.yaml``) and the e-mail CSV it names, validated before any work.

A plan decides what is rewritten in a customer's backup, so it is read as
strictly as ``jiramigrate.yaml``: the same YAML reader (no anchors, no tags,
bounded size), and every unknown key, wrong type or bad value is an error
naming ``file:line: key``.  Every fix is off unless the plan names it::

    characters: true               # or {replace: "?"}: what clean-xml does
    memberships: true              # drop duplicate and dangling Membership rows
    emails: emails.csv             # the e-mail rules' export CSV plus a new_email column
    long-text:                     # cut texts over Cloud's limits: loses data
      marker: " [cut for Jira Cloud]"
    app-data: [com.example.app, AO_4AEACD]   # drop these apps' activeobjects.xml tables
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode

from pytest_jiramigrate.commands.clean import MARKUP_CHARACTERS
from pytest_jiramigrate.config.converters import boolean, names, text, whole_number
from pytest_jiramigrate.config.reader import (
    ConfigError,
    Document,
    compose,
    describe,
    is_null,
    mapping_entries,
    read_section,
    read_text,
    refuse_unknown,
)
from pytest_jiramigrate.rules.content import TEXT_LIMIT
from pytest_jiramigrate.scan.xmlchars import is_xml_char

#: the summary limit of the ``summary-length`` rule
SUMMARY_LIMIT = 255
FIXES = ("characters", "memberships", "emails", "long-text", "app-data")
#: an AO table prefix as written in a plan: ``AO_`` and six hex digits
AO_PREFIX = re.compile(r"AO_[0-9A-F]{6}", re.IGNORECASE)
#: the columns of the e-mail CSV that say which user to change
EMAIL_USER_COLUMN = "user"
NEW_EMAIL_COLUMN = "new_email"
_PLAIN_ADDRESS = re.compile(r"[^\s@<>\"'&]+@[^\s@<>\"'&]+")


class PlanError(ConfigError):
    """The plan or its e-mail CSV cannot be used; one line naming file, line and key."""


@dataclass(frozen=True)
class LongText:
    """Cut texts over Cloud's limits, ending each cut text with ``marker``."""

    marker: str
    max_chars: int = TEXT_LIMIT
    summary_max_chars: int = SUMMARY_LIMIT


@dataclass(frozen=True)
class EmailChange:
    """One row of the e-mail CSV: give ``user`` (in ``directory``, when given) ``new_email``."""

    user: str
    new_email: str
    line: int
    directory_id: str = ""
    directory: str = ""


@dataclass(frozen=True)
class Plan:
    """What to fix; an empty plan fixes nothing and copies the backup as it is."""

    path: Path | None = None
    #: the character written for each forbidden one ("" removes them); None: fix off
    characters: str | None = None
    memberships: bool = False
    emails: Path | None = None
    long_text: LongText | None = None
    #: plugin keys and AO prefixes whose activeobjects.xml tables are dropped
    app_data: tuple[str, ...] = ()

    def enabled(self) -> list[str]:
        """The names of the fixes this plan turns on, in the documented order."""
        on = {
            "characters": self.characters is not None,
            "memberships": self.memberships,
            "emails": self.emails is not None,
            "long-text": self.long_text is not None,
            "app-data": bool(self.app_data),
        }
        return [name for name in FIXES if on[name]]


def load_plan(path: Path) -> Plan:
    """Read and validate the plan at ``path``; paths in it are relative to its directory."""
    if not path.is_file():
        raise PlanError("not found or not a file; give the path of a YAML fix plan", path=path)
    document = Document(path)
    try:
        root = compose(document, read_text(path))
    except ConfigError as error:
        raise PlanError(error.message, path=error.path, line=error.line, key=error.key) from None
    try:
        return _read_plan(document, root, path)
    except PlanError:
        raise
    except ConfigError as error:
        raise PlanError(error.message, path=error.path, line=error.line, key=error.key) from None


def _read_plan(document: Document, root: Node | None, path: Path) -> Plan:
    if root is not None and not is_null(root) and not isinstance(root, MappingNode):
        raise document.error(root, None, f"expected a mapping of fixes ({', '.join(FIXES)})")
    entries = mapping_entries(document, root, "")
    refuse_unknown(document, entries, FIXES, "", what="fix")
    fields: dict[str, object] = {"path": path}
    for name, (_, node) in entries.items():
        if name == "characters":
            fields["characters"] = _characters(document, node)
        elif name == "memberships":
            fields["memberships"] = boolean(document, node, name)
        elif name == "emails":
            fields["emails"] = _emails_csv(document, node, path.parent)
        elif name == "long-text":
            fields["long_text"] = _long_text(document, node)
        else:
            fields["app_data"] = _apps(document, node)
    return Plan(**fields)  # type: ignore[arg-type]


def _characters(document: Document, node: Node) -> str | None:
    """``true`` removes forbidden characters, ``{replace: C}`` writes C instead."""
    if isinstance(node, ScalarNode) and not is_null(node):
        return "" if boolean(document, node, "characters") else None
    settings = read_section(document, node, "characters", {"replace": text})
    replacement: str = settings.get("replace", "")
    if replacement and (
        len(replacement) != 1
        or not is_xml_char(ord(replacement))
        or replacement in MARKUP_CHARACTERS
    ):
        raise document.error(
            node,
            "characters.replace",
            f"{replacement!r} must be a single character XML allows, other than < > & \" '",
        )
    return replacement


def _emails_csv(document: Document, node: Node, base: Path) -> Path:
    written = Path(text(document, node, "emails"))
    csv_path = written if written.is_absolute() else base / written
    if not csv_path.is_file():
        raise document.error(node, "emails", f"{csv_path} is not a file; give the e-mail CSV")
    return csv_path


def _long_text(document: Document, node: Node) -> LongText:
    fields = {
        "marker": text,
        "max_chars": whole_number(1),
        "summary_max_chars": whole_number(1),
    }
    settings = read_section(document, node, "long-text", fields)
    if "marker" not in settings:
        raise document.error(
            node, "long-text.marker", "required: the text that ends every cut text"
        )
    marker: str = settings["marker"]
    if any(not is_xml_char(ord(char)) or char in "\r\n" for char in marker):
        raise document.error(node, "long-text.marker", "must be one line of characters XML allows")
    long_text = LongText(**settings)
    if len(marker) >= min(long_text.max_chars, long_text.summary_max_chars):
        raise document.error(node, "long-text.marker", "is longer than the limit it cuts to")
    return long_text


def _apps(document: Document, node: Node) -> tuple[str, ...]:
    apps = names(document, node, "app-data")
    if not apps:
        raise document.error(
            node, "app-data", f"expected plugin keys or AO prefixes, got {describe(node)}"
        )
    for index, (item, app) in enumerate(zip(node.value, apps, strict=True)):
        if not app or any(char.isspace() for char in app):
            raise document.error(
                item, f"app-data[{index}]", f"expected a plugin key or AO_XXXXXX, got {app!r}"
            )
    return apps


# --------------------------------------------------------------------------- e-mail CSV


def unneutralise(cell: str) -> str:
    """A cell as the backup holds it: the exports prefix ``'`` to cells that look like formulas."""
    return cell[1:] if cell.startswith("'") and cell[1:2] in ("=", "+", "-", "@") else cell


def read_email_changes(path: Path) -> list[EmailChange]:
    """The filled-in rows of the e-mail CSV; rows with an empty ``new_email`` are skipped.

    The CSV that ``--jira-export`` writes for an e-mail rule is the template:
    its ``user``, ``directory`` and ``directory_id`` columns say which user
    to change, and the administrator adds ``new_email``.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            reader = csv.DictReader(stream)
            header = reader.fieldnames or []
            for column in (EMAIL_USER_COLUMN, NEW_EMAIL_COLUMN):
                if column not in header:
                    raise PlanError(
                        f"no {column!r} column; add it to the e-mail rule's export CSV",
                        path=path,
                        line=1,
                    )
            changes = [
                _email_change(path, reader.line_num, record)
                for record in reader
                if (record.get(NEW_EMAIL_COLUMN) or "").strip()
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise PlanError(f"cannot read the e-mail CSV: {error}", path=path) from None
    _refuse_conflicts(path, changes)
    return changes


def _email_change(path: Path, line: int, record: dict[str, str]) -> EmailChange:
    user = unneutralise((record.get(EMAIL_USER_COLUMN) or "").strip())
    new_email = (record.get(NEW_EMAIL_COLUMN) or "").strip()
    if not user:
        raise PlanError("empty user", path=path, line=line, key=EMAIL_USER_COLUMN)
    if not _PLAIN_ADDRESS.fullmatch(new_email):
        raise PlanError(
            f"{new_email!r} is not an e-mail address", path=path, line=line, key=NEW_EMAIL_COLUMN
        )
    return EmailChange(
        user=user,
        new_email=new_email,
        line=line,
        directory_id=(record.get("directory_id") or "").strip(),
        directory=unneutralise((record.get("directory") or "").strip()),
    )


def _refuse_conflicts(path: Path, changes: list[EmailChange]) -> None:
    seen: dict[tuple[str, str, str], EmailChange] = {}
    for change in changes:
        who = (change.user.lower(), change.directory_id, change.directory)
        first = seen.setdefault(who, change)
        if first.new_email.lower() != change.new_email.lower():
            raise PlanError(
                f"{change.user} is given {first.new_email} on line {first.line} and"
                f" {change.new_email} here",
                path=path,
                line=change.line,
                key=NEW_EMAIL_COLUMN,
            )
