"""Synthetic Jira site backups with known faults, for tests, examples and benchmarks.

Real customer backups cannot be shipped and the public ones are all older than
Jira 7, so every rule is tested against backups built here.  The output imitates
what Jira 8.x writes (header comment, one row per line indented four spaces,
CDATA children for multi-line fields, the ``___ Entities ___`` trailer), and a
:class:`Manifest` says exactly where each injected fault sits, so a test can
assert a finding down to the line and column instead of "something failed".

Everything is derived from ``SynthSpec.seed``: the same spec gives the same bytes
(dates included), and ``entities.xml`` is streamed into the zip in large blocks,
so a multi-gigabyte backup is written in flat memory.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import io
import json
import math
import queue
import random
import threading
import zipfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol, TypeVar

#: faults injected into the backup zip by :func:`write_backup`
BACKUP_FAULTS: tuple[str, ...] = (
    "control-char",
    "control-char-changeitem",
    "fffe",
    "invalid-utf8",
    "char-ref",
    "email-no-tld",
    "email-special-use",
    "email-example",
    "email-bad-syntax",
    "email-missing",
    "email-duplicate",
    "same-user-two-directories",
    "addon-username",
    "duplicate-user-in-directory",
    "old-version",
    "trailer-mismatch",
    "truncated",
    "nested-folder",
    "missing-activeobjects",
    "admin-groups-both",
    "membership-duplicate",
    "membership-dangling",
    "long-summary",
    "long-description",
    "long-comment",
    "long-custom-text",
    "long-worklog",
    "baseurl-mismatch",
    "baseurl-missing",
    # what the import silently drops, breaks or makes public (rules/after_import.py)
    "app-data",
    "public-project",
    "former-user",
    "missing-group",
    "board-missing-filter",
    "too-many-options",
    "mail-integration",
    "importer-in-backup",
    "free-plan-features",
)

#: the third-party app of the ``app-data`` fault: plugin key, name, version, custom field
APP_FAULT = ("com.acme.jira.timesheets", "Acme Timesheets", "4.2.1", "Billable Hours")
#: options written by ``too-many-options``: one more than Cloud's limit per field
TOO_MANY_OPTIONS = 10_001
#: a user whom ``former-user`` names and the backup does not have
FORMER_USER = "departed.user"
#: a group whom ``missing-group`` names and the backup does not have
MISSING_GROUP = "contractors-emea"
#: the filter id a board points at under ``board-missing-filter``
MISSING_FILTER = 99999

#: faults injected into the media tree by :func:`write_media`
MEDIA_FAULTS: tuple[str, ...] = (
    "missing-attachment-file",
    "orphan-file",
    "size-mismatch",
    "wrapping-folder",
    "stray-file",
)

#: length of the text written by the ``long-*`` faults other than ``long-summary``
LONG_TEXT_CHARS = 40_000
LONG_SUMMARY_CHARS = 300
OLD_VERSION = ("6.4.14", 64029)
#: entities.xml beyond this size needs zip64 records
_ZIP64_THRESHOLD = 1 << 30
_FLUSH_CHARS = 1 << 20
#: stands in for a fault's payload while a row is built, so escaping leaves it alone
_MARK = "\ue000"
_T = TypeVar("_T")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: pre-built sentences per entity pass: choosing words one by one was too slow
_SENTENCE_BITS = 10
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"})


@dataclass
class SynthSpec:
    """What to generate; counts ending in ``_per_issue`` are means and may be floats."""

    seed: int = 0
    jira_version: str = "8.20.10"
    build_number: int = 820010
    base_url: str = "https://jira.acmecorp.com"
    #: value of the ``jira.baseurl`` property; None means the same as ``base_url``
    property_base_url: str | None = None
    email_domain: str = "acmecorp.com"
    encoding: str = "UTF-8"
    users: int = 20
    inactive_users: int = 2
    directories: int = 1
    groups: int = 3
    projects: int = 3
    issues: int = 60
    comments_per_issue: float = 2
    worklogs_per_issue: float = 1
    change_groups_per_issue: float = 2
    custom_text_per_issue: float = 1
    attachments_per_issue: float = 1
    links_per_issue: float = 0.5
    faults: Sequence[str] = ()
    os_user_format: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.faults) - set(BACKUP_FAULTS))
        if unknown:
            raise ValueError(f"unknown backup faults {unknown}; known: {', '.join(BACKUP_FAULTS)}")
        self.faults = tuple(self.faults)
        if self.users < 5:
            raise ValueError("users must be at least 5 (the e-mail faults need distinct users)")
        if self.projects < 1:
            raise ValueError("projects must be at least 1")

    def has(self, fault: str) -> bool:
        return fault in self.faults


@dataclass
class Manifest:
    """What :func:`write_backup` wrote: the ground truth tests assert findings against."""

    spec: SynthSpec
    zip_path: str
    entities_member: str
    activeobjects_member: str | None
    jira_version: str
    build_number: int
    #: rows actually written per entity (the trailer may disagree: ``trailer-mismatch``)
    counts: dict[str, int] = field(default_factory=dict)
    users: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    media_faults: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    def write(self, path: Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    def fault(self, name: str) -> dict[str, Any]:
        """The one record of fault ``name`` (backup or media); KeyError if absent."""
        for record in [*self.faults, *self.media_faults]:
            if record["fault"] == name:
                return record
        raise KeyError(name)


# --------------------------------------------------------------------------- plan


def _words(text: str) -> tuple[str, ...]:
    """A word list written as prose, so a long list stays readable."""
    return tuple(text.split())


_FIRST_NAMES = _words(
    "John Mary Alice Bob Carol David Erin Frank Grace Heidi Ivan Judy Mallory Niaj "
    "Olivia Peggy Rupert Sybil Trent Victor Walter Yvonne Zoe Liam Emma Noah Ava "
    "Lucas Mia Ethan"
)
_LAST_NAMES = _words(
    "Doe Smith Jones Brown Taylor Wilson Davies Evans Thomas Johnson Roberts Walker "
    "Wright Robinson Thompson White Hughes Edwards Green Hall Wood Harris Lewis "
    "Martin Jackson Clarke"
)
_PROJECT_NAMES = (
    ("ACME", "Acme Platform"),
    ("WEB", "Website"),
    ("OPS", "Operations"),
    ("HR", "People Team"),
    ("MOB", "Mobile Apps"),
    ("DATA", "Data Warehouse"),
    ("SEC", "Security"),
    ("FIN", "Finance Tools"),
)
#: the second project was renamed: its media folder keeps this first key
_RENAMED_ORIGINAL_KEY = "SITE"
_EXTRA_GROUPS = ("developers", "qa-team", "support", "product-managers", "designers")
_WORDS = _words(
    "login page error timeout database index report export import user session cache "
    "server client request response build deploy release sprint backlog ticket "
    "customer invoice payment search filter dashboard widget email notification queue "
    "worker migration schema upgrade plugin permission group project board workflow "
    "status"
)
_ATTACHMENT_KINDS = (
    ("screenshot.png", "image/png", True),
    ("photo.jpg", "image/jpeg", True),
    ("server.log", "text/plain", False),
    ("report.pdf", "application/pdf", False),
    ("data.csv", "text/csv", False),
    ("archive.zip", "application/zip", False),
)
_STATUSES = (("1", "Open"), ("3", "In Progress"), ("5", "Resolved"), ("6", "Closed"))


@dataclass
class _User:
    id: int
    directory_id: int
    username: str
    first: str
    last: str
    email: str | None
    active: bool
    key: str

    def record(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "email": self.email,
            "directory_id": self.directory_id,
            "active": self.active,
            "id": str(self.id),
            "key": self.key,
        }


@dataclass
class _Group:
    id: int
    name: str
    directory_id: int


@dataclass
class _Project:
    id: int
    key: str
    original_key: str
    name: str
    lead: str
    first_issue: int
    issue_count: int
    counter: int


@dataclass(frozen=True)
class Attachment:
    """One FileAttachment row and where its file lives in the media tree."""

    id: int
    issue_id: int
    issue_key: str
    issue_number: int
    project_key: str
    project_original_key: str
    filename: str
    mimetype: str
    filesize: int
    thumbnailable: bool

    def bucketed_dir(self) -> str:
        bucket = math.ceil(self.issue_number / 10000) * 10000
        return f"data/attachments/{self.project_original_key}/{bucket}/{self.issue_key}"

    def legacy_dir(self) -> str:
        return f"data/attachments/{self.project_key}/{self.issue_key}"


def _below(rng: random.Random, n: int) -> int:
    """A uniform integer in ``[0, n)``; ``randrange`` costs several times more per row."""
    return int(rng.random() * n)


def _pick(rng: random.Random, items: Sequence[_T]) -> _T:
    return items[int(rng.random() * len(items))]


def _per_issue(rng: random.Random, mean: float) -> int:
    """A count whose average over many issues is ``mean``."""
    whole = int(mean)
    return whole + (1 if rng.random() < mean - whole else 0)


class _Plan:
    """Every decision about the backup, made once, before any row is written.

    Per-issue counts live in compact arrays so that a million-issue backup stays
    at a few megabytes; row text is generated later, pass by pass.
    """

    def __init__(self, spec: SynthSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.version, self.build = (
            OLD_VERSION if spec.has("old-version") else (spec.jira_version, spec.build_number)
        )
        self.export_time = datetime(2021, 1, 4, 9, 0, 0, tzinfo=timezone.utc) + timedelta(
            seconds=self.rng.randrange(3 * 365 * 86400), milliseconds=self.rng.randrange(1000)
        )
        self.start_time = self.export_time - timedelta(days=700)
        self.start_seconds = int(self.start_time.timestamp())
        self.directories = max(spec.directories, 2 if spec.has("same-user-two-directories") else 1)
        self.users = self._plan_users()
        self.groups, self.memberships = self._plan_groups()
        self.projects = self._plan_projects()
        self.issue_project = array("I")
        self.issue_number = array("I")
        for index, project in enumerate(self.projects):
            for number in range(1, project.issue_count + 1):
                self.issue_project.append(index)
                self.issue_number.append(number)
        n = spec.issues
        self.comments = self._counts(spec.comments_per_issue)
        self.worklogs = self._counts(spec.worklogs_per_issue)
        self.change_groups = self._counts(spec.change_groups_per_issue)
        self.custom_texts = self._counts(spec.custom_text_per_issue)
        self.attachments = self._counts(spec.attachments_per_issue)
        self.links = self._counts(spec.links_per_issue)
        self.targets: dict[str, int] = {}
        self._place_issue_faults(n)

    # users and groups ------------------------------------------------------

    def _plan_users(self) -> list[_User]:
        spec, rng = self.spec, self.rng
        users: list[_User] = []
        taken: set[str] = set()
        first_ldap = spec.users - spec.users // 3 if self.directories > 1 else spec.users
        for index in range(spec.users):
            if index == 0:
                first, last, username = "Site", "Admin", "admin"
            else:
                first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
                username = (first[0] + last).lower()
                suffix = 2
                while username in taken:
                    username, suffix = f"{(first[0] + last).lower()}{suffix}", suffix + 1
            taken.add(username)
            directory = 1 if index < first_ldap else 2 + index % (self.directories - 1)
            user_id = 10000 + index
            users.append(
                _User(
                    id=user_id,
                    directory_id=directory,
                    username=username,
                    first=first,
                    last=last,
                    email=f"{username}@{spec.email_domain}",
                    active=index < spec.users - spec.inactive_users or index == 0,
                    key=username if index < spec.users // 2 else f"JIRAUSER{user_id}",
                )
            )
        self._apply_user_faults(users)
        return users

    def _apply_user_faults(self, users: list[_User]) -> None:
        spec = self.spec
        domain = spec.email_domain
        candidates = iter(users[1:])

        def victim() -> _User:
            """The next user to damage: each user fault gets its own, never the admin."""
            user = next(candidates, None)
            if user is None:
                raise ValueError(f"{len(users)} users are too few for the faults {spec.faults}")
            return user

        self.user_faults: list[dict[str, Any]] = []

        def damage(fault: str, make_email: Callable[[_User], str | None]) -> None:
            if spec.has(fault):
                user = victim()
                user.email = make_email(user)
                self.user_faults.append(
                    {"fault": fault, "user": user.username, "email": user.email}
                )

        damage("email-no-tld", lambda u: f"{u.username}@{domain.rsplit('.', 1)[0]}")
        damage("email-special-use", lambda u: f"{u.username}@build.local")
        damage("email-example", lambda u: f"{u.username}@example.com")
        damage("email-bad-syntax", lambda u: f"{u.first.lower()},{u.last.lower()}@{domain}")
        damage("email-missing", lambda u: None)
        next_id = 10000 + len(users)
        if spec.has("email-duplicate"):
            original, twin = victim(), victim()
            assert original.email is not None
            twin.email = original.email[0].upper() + original.email[1:]
            self.user_faults.append(
                {
                    "fault": "email-duplicate",
                    "users": [original.username, twin.username],
                    "emails": [original.email, twin.email],
                    "email": original.email.lower(),
                }
            )
        if spec.has("same-user-two-directories"):
            source = victim()
            source.directory_id = 1
            users.append(dataclasses.replace(source, id=next_id, directory_id=2))
            next_id += 1
            self.user_faults.append(
                {
                    "fault": "same-user-two-directories",
                    "user": source.username,
                    "email": source.email,
                    "directory_ids": [1, 2],
                }
            )
        if spec.has("addon-username"):
            name = "addon_com.example.app"
            users.append(_User(next_id, 1, name, "Example", "App", f"{name}@{domain}", True, name))
            next_id += 1
            self.user_faults.append({"fault": "addon-username", "user": name})
        if spec.has("duplicate-user-in-directory"):
            source = victim()
            twin = dataclasses.replace(source, id=next_id, username=source.username.capitalize())
            users.append(twin)
            self.user_faults.append(
                {
                    "fault": "duplicate-user-in-directory",
                    "user": source.username.lower(),
                    "usernames": [source.username, twin.username],
                    "directory_id": source.directory_id,
                    "ids": [str(source.id), str(twin.id)],
                }
            )

    def _plan_groups(self) -> tuple[list[_Group], list[tuple[_Group, _User]]]:
        spec, rng = self.spec, self.rng
        names = ["jira-administrators", "jira-software-users"]
        names += [
            _EXTRA_GROUPS[i] if i < len(_EXTRA_GROUPS) else f"team-{i}" for i in range(spec.groups)
        ]
        if spec.has("admin-groups-both"):
            names.append("administrators")
        groups = [_Group(10000 + i, name, 1) for i, name in enumerate(names)]
        for directory in range(2, self.directories + 1):
            groups.append(_Group(10000 + len(groups), "jira-software-users", directory))
        by_key = {(g.name, g.directory_id): g for g in groups}
        members: list[tuple[_Group, _User]] = []
        for user in self.users:
            if user.username == "admin" or (
                user.username.startswith("addon_") and user.directory_id == 1
            ):
                members.append((by_key["jira-administrators", 1], user))
            if user.active:
                members.append((by_key["jira-software-users", user.directory_id], user))
            if user.directory_id == 1 and spec.groups and rng.random() < 0.5:
                extra = rng.choice(names[2 : 2 + spec.groups])
                members.append((by_key[extra, 1], user))
        if spec.has("admin-groups-both"):
            members.append((by_key["administrators", 1], self.users[1]))
            members.append((by_key["jira-administrators", 1], self.users[2]))
        return groups, members

    # projects and issues ---------------------------------------------------

    def _plan_projects(self) -> list[_Project]:
        spec = self.spec
        projects: list[_Project] = []
        base, extra = divmod(spec.issues, spec.projects)
        first_issue = 0
        for index in range(spec.projects):
            key, name = (
                _PROJECT_NAMES[index]
                if index < len(_PROJECT_NAMES)
                else (f"PRJ{index}", f"Project {index}")
            )
            count = base + (1 if index < extra else 0)
            original = _RENAMED_ORIGINAL_KEY if index == 1 else key
            lead = self.users[index % len(self.users)].key
            projects.append(
                _Project(10000 + index, key, original, name, lead, first_issue, count, count)
            )
            first_issue += count
        if spec.projects > 1 and projects[1].issue_count:
            projects[0].counter += 1  # the issue moved out to the second project kept its old key
        return projects

    def _counts(self, mean: float) -> array[int]:
        rng = self.rng
        return array("I", (_per_issue(rng, mean) for _ in range(self.spec.issues)))

    def _place_issue_faults(self, n: int) -> None:
        """Choose the issue of each content fault and make sure it has the row the fault needs."""
        wanted = {
            "control-char": (n // 2, None),
            "char-ref": (n // 3, None),
            "invalid-utf8": (n // 4, None),
            "fffe": ((2 * n) // 3, self.comments),
            "control-char-changeitem": ((3 * n) // 4, self.change_groups),
            "long-summary": (n // 5, None),
            "long-description": (n // 6, None),
            "long-comment": (n // 7, self.comments),
            "long-custom-text": (n // 8, self.custom_texts),
            "long-worklog": (n // 9, self.worklogs),
            "truncated": (n // 2, self.worklogs),
        }
        for fault, (issue, counts) in wanted.items():
            if not self.spec.has(fault):
                continue
            if n == 0:
                raise ValueError(f"fault {fault!r} needs at least one issue")
            self.targets[fault] = issue
            if counts is not None and counts[issue] == 0:
                counts[issue] = 1

    def issue_key(self, index: int) -> str:
        return f"{self.projects[self.issue_project[index]].key}-{self.issue_number[index]}"

    def when(self, index: int, offset_minutes: int = 0) -> str:
        """A row timestamp, as Jira writes it: ``2021-03-04 10:11:12.345``.

        Formatted by arithmetic with the date part cached, because strftime per
        row was a large share of the generation time.
        """
        seconds = self.start_seconds + (index * 7 + offset_minutes) * 60
        day, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        millis = (index * 37 + offset_minutes) % 1000
        return f"{_day_text(day)} {hours:02d}:{rest // 60:02d}:{rest % 60:02d}.{millis:03d}"

    def actor(self, rng: random.Random) -> str:
        return self.users[_below(rng, len(self.users))].key


@functools.lru_cache(maxsize=4096)
def _day_text(day: int) -> str:
    """``YYYY-MM-DD`` of a day counted from the Unix epoch."""
    return (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%d")


def iter_attachments(spec: SynthSpec) -> Iterator[Attachment]:
    """The attachments :func:`write_backup` writes for ``spec``, in row order."""
    plan = _Plan(spec)
    yield from _attachments(plan)


def _attachments(plan: _Plan) -> Iterator[Attachment]:
    rng = random.Random(f"{plan.spec.seed}:attachments")
    next_id = 10000
    for index in range(plan.spec.issues):
        project = plan.projects[plan.issue_project[index]]
        for _ in range(plan.attachments[index]):
            name, mimetype, image = _pick(rng, _ATTACHMENT_KINDS)
            yield Attachment(
                id=next_id,
                issue_id=10000 + index,
                issue_key=plan.issue_key(index),
                issue_number=plan.issue_number[index],
                project_key=project.key,
                project_original_key=project.original_key,
                filename=f"{_pick(rng, _WORDS)}-{name}",
                mimetype=mimetype,
                filesize=int(rng.lognormvariate(8, 1.2)) + 64,
                thumbnailable=image,
            )
            next_id += 1


# --------------------------------------------------------------------------- XML text


def _cdata(text: str, split_lines: bool = False) -> str:
    """CDATA as Jira writes it: ``]]>`` splits the value into adjacent sections.

    ``split_lines`` also gives every line break its own section, another shape
    seen in real backups; a reader must join adjacent sections either way.
    """
    body = "]]]]><![CDATA[>".join(text.split("]]>"))
    if split_lines:
        body = "]]><![CDATA[\n]]><![CDATA[".join(body.split("\n"))
    return f"<![CDATA[{body}]]>"


def _row(entity: str, fields: Iterable[tuple[str, object]], split_lines: bool = False) -> str:
    """One entity row: attributes, or CDATA children for values holding a line break."""
    attrs: list[str] = []
    children: list[str] = []
    for name, value in fields:
        if value is None:
            continue
        if type(value) is int:
            attrs.append(f' {name}="{value}"')
            continue
        text = value if type(value) is str else str(value)
        if "\n" in text:
            children.append(f"        <{name}>{_cdata(text, split_lines)}</{name}>\n")
        elif "&" in text or "<" in text or ">" in text or '"' in text or "'" in text:
            attrs.append(f' {name}="{text.translate(_ESCAPES)}"')
        else:
            attrs.append(f' {name}="{text}"')
    if children:
        return f"    <{entity}{''.join(attrs)}>\n{''.join(children)}    </{entity}>\n"
    return f"    <{entity}{''.join(attrs)}/>\n"


@dataclass
class _Faulty:
    """A row whose text holds ``_MARK`` where the fault's payload goes."""

    text: str
    payload: str
    record: dict[str, Any]


@dataclass
class _Cut:
    """The partial row at which a ``truncated`` backup ends."""

    text: str
    record: dict[str, Any]


class _BinarySink(Protocol):
    """Where encoded XML goes: a zip member, or a byte counter when sizing."""

    def write(self, data: bytes, /) -> int: ...


class _BackgroundWriter:
    """Hands encoded blocks to a second thread that compresses and writes them.

    zlib releases the GIL while deflating, so compression runs alongside row
    generation instead of after it; the bounded queue keeps memory flat.
    """

    def __init__(self, raw: _BinarySink) -> None:
        self.raw = raw
        self.blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._drain, name="synth-deflate", daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while (block := self.blocks.get()) is not None:
            if self.error is None:
                try:
                    self.raw.write(block)
                except BaseException as exc:  # re-raised on the generating thread
                    self.error = exc

    def write(self, data: bytes, /) -> int:
        if self.error is not None:
            raise self.error
        self.blocks.put(data)
        return len(data)

    def close(self) -> None:
        self.blocks.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


class _Stream:
    """Encodes text into a binary stream in large blocks, tracking lines and bytes.

    Line and byte positions are what a fault record needs; counting line breaks
    per block keeps that cheap.
    """

    def __init__(self, raw: _BinarySink, encoding: str) -> None:
        self.raw = raw
        self.encoding = encoding
        self.pending: list[str] = []
        self.pending_chars = 0
        self.lines = 0
        self.bytes = 0

    def write(self, text: str) -> None:
        self.pending.append(text)
        self.pending_chars += len(text)
        if self.pending_chars >= _FLUSH_CHARS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        block = "".join(self.pending)
        data = block.encode(self.encoding, "surrogateescape")
        self.raw.write(data)
        self.lines += block.count("\n")
        self.bytes += len(data)
        self.pending, self.pending_chars = [], 0

    def write_faulty(self, row: _Faulty) -> dict[str, Any]:
        """Write ``row`` with its payload in place; return its record with the position."""
        self.flush()
        at = row.text.index(_MARK)
        before = row.text[:at]
        line_start = before.rfind("\n") + 1
        record = {
            **row.record,
            "line": self.lines + before.count("\n") + 1,
            "column": at - line_start + 1,
            "offset": self.bytes + len(before.encode(self.encoding, "surrogateescape")),
        }
        self.write(row.text.replace(_MARK, row.payload))
        return record


# --------------------------------------------------------------------------- entities


_Rows = Iterator["str | _Faulty | _Cut"]


class _EntityWriter:
    """Generates each entity's rows from the plan; one method per entity."""

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.spec = plan.spec
        pool = random.Random(f"{plan.spec.seed}:sentences")
        self.sentences = [
            " ".join(pool.choice(_WORDS) for _ in range(pool.randint(3, 14))).capitalize()
            for _ in range(1 << _SENTENCE_BITS)
        ]

    def rng(self, entity: str) -> random.Random:
        """A stream per entity, so each pass is reproducible on its own."""
        return random.Random(f"{self.spec.seed}:{entity}")

    def text(self, rng: random.Random) -> str:
        """A sentence without final stop (a summary, a short comment)."""
        return self.sentences[rng.getrandbits(_SENTENCE_BITS)]

    def paragraph(self, rng: random.Random, lines: int) -> str:
        body = "\n".join(
            self.sentences[rng.getrandbits(_SENTENCE_BITS)] + "." for _ in range(lines)
        )
        if rng.random() < 0.2:
            body += "\n{code}if (rows[ids[0]]>0) return;{code}"
        return body

    def entities(self) -> list[tuple[str, Callable[[], _Rows]]]:
        """Entity name and row generator, in the alphabetical order Jira exports them."""
        os_format = self.spec.os_user_format
        table: dict[str, Callable[[], _Rows]] = {
            "Action": self.actions,
            "Avatar": self.avatars,
            "ChangeGroup": self.change_groups,
            "ChangeItem": self.change_items,
            "CustomField": self.custom_fields,
            "CustomFieldValue": self.custom_field_values,
            "FileAttachment": self.file_attachments,
            "GlobalPermissionEntry": self.global_permissions,
            "Issue": self.issues,
            "IssueLink": self.issue_links,
            "IssueLinkType": self.issue_link_types,
            "IssueType": self.issue_types,
            "LicenseRoleGroup": self.license_role_groups,
            "MovedIssueKey": self.moved_issue_keys,
            "Notification": self.notifications,
            "OSCurrentStep": self.current_steps,
            "OSPropertyEntry": self.property_entries,
            "OSPropertyString": self.property_strings,
            "Priority": self.priorities,
            "Project": self.project_rows,
            "ProjectKey": self.project_keys,
            "Status": self.statuses,
            "UserHistoryItem": self.user_history,
            "Worklog": self.worklogs,
            **self.after_import_entities(),
        }
        if os_format:
            table |= {
                "OSGroup": self.os_groups,
                "OSMembership": self.os_memberships,
                "OSUser": self.os_users,
            }
        else:
            table |= {
                "ApplicationUser": self.application_users,
                "Directory": self.directory_rows,
                "Group": self.group_rows,
                "Membership": self.membership_rows,
                "User": self.user_rows,
            }
        return sorted(table.items())

    # users, groups, permissions ----------------------------------------------

    def directory_rows(self) -> _Rows:
        created = self.plan.when(0, -100_000)
        for number in range(1, self.plan.directories + 1):
            internal = number == 1
            name = "JIRA Internal Directory" if internal else "Corporate LDAP"
            if number > 2:
                name = f"Corporate LDAP {number - 1}"
            yield _row(
                "Directory",
                (
                    ("id", number),
                    ("directoryName", name),
                    ("lowerDirectoryName", name.lower()),
                    ("createdDate", created),
                    ("updatedDate", created),
                    ("active", 1),
                    ("description", "JIRA default internal directory" if internal else None),
                    (
                        "implementationClass",
                        "com.atlassian.crowd.directory.InternalDirectory"
                        if internal
                        else "com.atlassian.crowd.directory.OpenLDAP",
                    ),
                    ("type", "INTERNAL" if internal else "CONNECTOR"),
                    ("position", number - 1),
                ),
            )

    def user_rows(self) -> _Rows:
        rng = self.rng("User")
        for index, user in enumerate(self.plan.users):
            created = self.plan.when(index, -50_000)
            display = f"{user.first} {user.last}"
            credential = (
                "{PKCS5S2}" + base64.b64encode(rng.randbytes(48)).decode()
                if user.directory_id == 1
                else "nopass"
            )
            yield _row(
                "User",
                (
                    ("id", user.id),
                    ("directoryId", user.directory_id),
                    ("userName", user.username),
                    ("lowerUserName", user.username.lower()),
                    ("active", 1 if user.active else 0),
                    ("createdDate", created),
                    ("updatedDate", created),
                    ("firstName", user.first),
                    ("lowerFirstName", user.first.lower()),
                    ("lastName", user.last),
                    ("lowerLastName", user.last.lower()),
                    ("displayName", display),
                    ("lowerDisplayName", display.lower()),
                    ("emailAddress", user.email),
                    ("lowerEmailAddress", user.email.lower() if user.email else None),
                    ("credential", credential),
                    ("externalId", _uuid(rng)),
                ),
            )

    def application_users(self) -> _Rows:
        seen: set[str] = set()
        for user in self.plan.users:
            lower = user.username.lower()
            if lower in seen:
                continue
            seen.add(lower)
            yield _row(
                "ApplicationUser",
                (("id", user.id), ("userKey", user.key), ("lowerUserName", lower)),
            )

    def group_rows(self) -> _Rows:
        created = self.plan.when(0, -100_000)
        for group in self.plan.groups:
            yield _row(
                "Group",
                (
                    ("id", group.id),
                    ("groupName", group.name),
                    ("lowerGroupName", group.name.lower()),
                    ("active", 1),
                    ("local", 0),
                    ("createdDate", created),
                    ("updatedDate", created),
                    ("description", ""),
                    ("type", "GROUP"),
                    ("directoryId", group.directory_id),
                ),
            )

    def membership_rows(self) -> _Rows:
        next_id = 10000
        rows: list[tuple[int, str, int, str, int]] = [
            (group.id, group.name, user.id, user.username, user.directory_id)
            for group, user in self.plan.memberships
        ]
        if self.spec.has("membership-dangling"):
            rows.append((self.plan.groups[1].id, self.plan.groups[1].name, 99999, "ghost.user", 1))
        duplicate_of = len(rows) // 2 if self.spec.has("membership-duplicate") else -1
        for index, (group_id, group_name, user_id, username, directory) in enumerate(rows):
            copies = 2 if index == duplicate_of else 1
            ids = []
            for _ in range(copies):
                ids.append(str(next_id))
                yield _row(
                    "Membership",
                    (
                        ("id", next_id),
                        ("parentId", group_id),
                        ("childId", user_id),
                        ("membershipType", "GROUP_USER"),
                        ("parentName", group_name),
                        ("lowerParentName", group_name.lower()),
                        ("childName", username),
                        ("lowerChildName", username.lower()),
                        ("directoryId", directory),
                    ),
                )
                next_id += 1
            if index == duplicate_of:
                self.plan.user_faults.append(
                    {
                        "fault": "membership-duplicate",
                        "ids": ids,
                        "group": group_name,
                        "user": username,
                        "parent_id": str(group_id),
                        "child_id": str(user_id),
                    }
                )
            if user_id == 99999:
                self.plan.user_faults.append(
                    {
                        "fault": "membership-dangling",
                        "id": ids[0],
                        "group": group_name,
                        "child_id": str(user_id),
                        "child_name": username,
                    }
                )

    def os_users(self) -> _Rows:
        rng = self.rng("OSUser")
        for user in self.plan.users:
            hashed = base64.b64encode(rng.randbytes(64)).decode()
            yield _row(
                "OSUser", (("id", user.id), ("name", user.username), ("passwordHash", hashed))
            )

    def os_groups(self) -> _Rows:
        for group in self.plan.groups:
            if group.directory_id == 1:
                yield _row("OSGroup", (("id", group.id), ("name", group.name)))

    def os_memberships(self) -> _Rows:
        for index, (group, user) in enumerate(self.plan.memberships):
            yield _row(
                "OSMembership",
                (("id", 10000 + index), ("userName", user.username), ("groupName", group.name)),
            )

    def global_permissions(self) -> _Rows:
        grants = [
            ("ADMINISTER", "jira-administrators"),
            ("SYSTEM_ADMIN", "jira-administrators"),
            ("USE", "jira-software-users"),
        ]
        if self.spec.has("admin-groups-both"):
            grants.append(("ADMINISTER", "administrators"))
        for index, (permission, group) in enumerate(grants):
            yield _row(
                "GlobalPermissionEntry",
                (("id", 10000 + index), ("permission", permission), ("group_id", group)),
            )

    def license_role_groups(self) -> _Rows:
        for index, (group, primary) in enumerate(
            (("jira-software-users", 1), ("jira-administrators", 0))
        ):
            yield _row(
                "LicenseRoleGroup",
                (
                    ("id", 10000 + index),
                    ("licenseRoleName", "jira-software"),
                    ("groupId", group),
                    ("primaryGroup", primary),
                ),
            )

    # properties ---------------------------------------------------------------

    def properties(self) -> list[tuple[int, str, int, str, str]]:
        """(id, entityName, entityId, propertyKey, value) of every string property."""
        spec = self.spec
        props: list[tuple[int, str, int, str, str]] = []
        if spec.has("baseurl-mismatch"):
            base = "http://jira-old.internal:8080/jira"
        else:
            base = spec.property_base_url or spec.base_url
        if not spec.has("baseurl-missing"):
            props.append((1, "jira.properties", 1, "jira.baseurl", base))
        props.append((2, "jira.properties", 1, "jira.title", "Acme Corp Jira"))
        props.append((3, "jira.properties", 1, "jira.mode", "private"))
        if spec.has("mail-integration"):
            props.append((5, "jira.properties", 1, "applinks.application.1a2b3c.name", "Acme Wiki"))
            props.append(
                (
                    6,
                    "jira.properties",
                    1,
                    "applinks.application.1a2b3c.rpc.url",
                    "https://wiki.acmecorp.com",
                )
            )
        if spec.os_user_format:
            for index, user in enumerate(self.plan.users):
                prop_id = 20000 + 2 * index
                props.append((prop_id, "OSUser", user.id, "fullName", f"{user.first} {user.last}"))
                if user.email is not None:
                    props.append((prop_id + 1, "OSUser", user.id, "email", user.email))
        return props

    def property_entries(self) -> _Rows:
        typed = [(prop, 5) for prop in self.properties()]
        typed += [(prop, 1) for prop in self.number_properties()]
        for (prop_id, entity, entity_id, key, _), kind in sorted(typed):
            yield _row(
                "OSPropertyEntry",
                (
                    ("id", prop_id),
                    ("entityName", entity),
                    ("entityId", entity_id),
                    ("propertyKey", key),
                    ("type", kind),
                ),
            )

    def property_strings(self) -> _Rows:
        for prop_id, _, _, _, value in self.properties():
            yield _row("OSPropertyString", (("id", prop_id), ("value", value)))

    # what the import drops, breaks or makes public ------------------------------

    def after_import_entities(self) -> dict[str, Callable[[], _Rows]]:
        """Entities of the after-import rules; most are written only by their fault."""
        return {
            "Component": self.components,
            "CustomFieldOption": self.custom_field_options,
            "IssueSecurityScheme": self.security_schemes,
            "MailServer": self.mail_servers,
            "NodeAssociation": self.scheme_associations,
            "OSPropertyNumber": self.property_numbers,
            "PermissionScheme": self.permission_schemes,
            "PluginVersion": self.plugin_versions,
            "ProjectRole": self.project_roles,
            "ProjectRoleActor": self.project_role_actors,
            "SchemeIssueSecurityLevels": self.security_levels,
            "SchemePermissions": self.scheme_permissions,
            "SearchRequest": self.search_requests,
            "ServiceConfig": self.service_configs,
            "SharePermissions": self.share_permissions,
        }

    def search_requests(self) -> _Rows:
        """The saved filter of each board, and the filters of the public/former faults."""
        for index, project in enumerate(self.plan.projects):
            yield _row(
                "SearchRequest",
                (
                    ("id", 10000 + index),
                    ("name", f"Filter for {project.key} board"),
                    ("author", project.lead),
                    ("user", project.lead),
                    ("request", f"project = {project.key} ORDER BY Rank ASC"),
                ),
            )
        if self.spec.has("public-project"):
            yield _row(
                "SearchRequest",
                (
                    ("id", 10900),
                    ("name", "All open issues"),
                    ("author", "admin"),
                    ("user", "admin"),
                    ("request", "resolution = EMPTY"),
                ),
            )
        if self.spec.has("former-user"):
            yield _row(
                "SearchRequest",
                (
                    ("id", 10901),
                    ("name", "My old filter"),
                    ("author", FORMER_USER),
                    ("user", FORMER_USER),
                    ("request", "assignee = currentUser()"),
                ),
            )

    def share_permissions(self) -> _Rows:
        if self.spec.has("public-project"):
            yield _row(
                "SharePermissions",
                (
                    ("id", 10000),
                    ("entityId", 10900),
                    ("entityType", "SearchRequest"),
                    ("type", "global"),
                ),
            )

    def permission_schemes(self) -> _Rows:
        if self.spec.has("public-project") or self.spec.has("free-plan-features"):
            yield _row("PermissionScheme", (("id", 0), ("name", "Default Permission Scheme")))
        if self.spec.has("free-plan-features"):
            yield _row("PermissionScheme", (("id", 10100), ("name", "Restricted Scheme")))

    def scheme_permissions(self) -> _Rows:
        if self.spec.has("public-project"):
            yield _row(
                "SchemePermissions",
                (
                    ("id", 10000),
                    ("scheme", 0),
                    ("permission", 10),
                    ("permissionKey", "BROWSE_PROJECTS"),
                    ("type", "group"),
                ),
            )

    def scheme_associations(self) -> _Rows:
        if self.spec.has("public-project"):
            yield _row(
                "NodeAssociation",
                (
                    ("sourceNodeId", self.plan.projects[0].id),
                    ("sourceNodeEntity", "Project"),
                    ("sinkNodeId", 0),
                    ("sinkNodeEntity", "PermissionScheme"),
                    ("associationType", "ProjectScheme"),
                ),
            )

    def components(self) -> _Rows:
        if self.spec.has("former-user"):
            yield _row(
                "Component",
                (
                    ("id", 10000),
                    ("project", self.plan.projects[0].id),
                    ("name", "Legacy"),
                    ("lead", FORMER_USER),
                    ("assigneetype", 0),
                ),
            )

    def project_roles(self) -> _Rows:
        if self.spec.has("missing-group") or self.spec.has("free-plan-features"):
            for role_id, name in (
                (10000, "Users"),
                (10001, "Developers"),
                (10002, "Administrators"),
            ):
                yield _row("ProjectRole", (("id", role_id), ("name", name)))
        if self.spec.has("free-plan-features"):
            yield _row("ProjectRole", (("id", 10100), ("name", "Auditors")))

    def project_role_actors(self) -> _Rows:
        if self.spec.has("missing-group"):
            yield _row(
                "ProjectRoleActor",
                (
                    ("id", 10000),
                    ("pid", self.plan.projects[0].id),
                    ("projectroleid", 10001),
                    ("roletype", "atlassian-group-role-actor"),
                    ("roletypeparameter", MISSING_GROUP),
                ),
            )

    def custom_field_options(self) -> _Rows:
        if self.spec.has("too-many-options"):
            for number in range(TOO_MANY_OPTIONS):
                yield _row(
                    "CustomFieldOption",
                    (
                        ("id", 10000 + number),
                        ("customfield", 10001),
                        ("customfieldconfig", 10101),
                        ("sequence", number),
                        ("value", f"Team {number + 1}"),
                        ("disabled", "N"),
                    ),
                )

    def plugin_versions(self) -> _Rows:
        yield _row(
            "PluginVersion",
            (
                ("id", 10000),
                ("name", "Jira Agile"),
                ("key", "com.pyxis.greenhopper.jira"),
                ("version", "8.20.10"),
            ),
        )
        if self.spec.has("app-data"):
            key, name, version, _ = APP_FAULT
            yield _row(
                "PluginVersion", (("id", 10001), ("name", name), ("key", key), ("version", version))
            )

    def mail_servers(self) -> _Rows:
        if self.spec.has("mail-integration"):
            yield _row(
                "MailServer",
                (
                    ("id", 10000),
                    ("name", "Support mailbox"),
                    ("type", "pop"),
                    ("servername", "mail.acmecorp.com"),
                    ("username", "support"),
                ),
            )

    def service_configs(self) -> _Rows:
        if self.spec.has("mail-integration"):
            yield _row(
                "ServiceConfig",
                (
                    ("id", 10000),
                    ("time", 60000),
                    ("clazz", "com.atlassian.jira.service.services.mail.MailFetcherService"),
                    ("name", "Support mail handler"),
                ),
            )

    def security_schemes(self) -> _Rows:
        if self.spec.has("free-plan-features"):
            yield _row("IssueSecurityScheme", (("id", 10000), ("name", "Confidential")))

    def security_levels(self) -> _Rows:
        if self.spec.has("free-plan-features"):
            yield _row(
                "SchemeIssueSecurityLevels",
                (("id", 10000), ("name", "Staff only"), ("scheme", 10000)),
            )

    def number_properties(self) -> list[tuple[int, str, int, str, str]]:
        """Number properties (Jira's booleans): outgoing mail is off, as the guide advises."""
        return [(4, "jira.properties", 1, "jira.mail.send.disabled", "1")]

    def property_numbers(self) -> _Rows:
        for prop_id, _, _, _, value in self.number_properties():
            yield _row("OSPropertyNumber", (("id", prop_id), ("value", value)))

    # configuration -------------------------------------------------------------

    def avatars(self) -> _Rows:
        for index in range(len(self.plan.projects)):
            yield _row(
                "Avatar",
                (
                    ("id", 10100 + index),
                    ("fileName", f"project_{index}.png"),
                    ("contentType", "image/png"),
                    ("avatarType", "project"),
                    ("owner", 10000 + index),
                    ("systemAvatar", 0),
                ),
            )

    def custom_fields(self) -> _Rows:
        fields = (
            (10000, "textarea", "textsearcher", "Customer Notes"),
            (10001, "select", "multiselectsearcher", "Team"),
            (10002, "float", "exactnumber", "Story Points"),
        )
        if self.spec.has("app-data"):
            yield _row(
                "CustomField",
                (
                    ("id", 10003),
                    ("customfieldtypekey", f"{APP_FAULT[0]}:hours"),
                    ("customfieldsearcherkey", f"{APP_FAULT[0]}:hourssearcher"),
                    ("name", APP_FAULT[3]),
                ),
            )
        for field_id, kind, searcher, name in fields:
            yield _row(
                "CustomField",
                (
                    ("id", field_id),
                    (
                        "customfieldtypekey",
                        f"com.atlassian.jira.plugin.system.customfieldtypes:{kind}",
                    ),
                    (
                        "customfieldsearcherkey",
                        f"com.atlassian.jira.plugin.system.customfieldtypes:{searcher}",
                    ),
                    ("name", name),
                ),
            )

    def issue_link_types(self) -> _Rows:
        for index, (name, outward, inward) in enumerate(
            (
                ("Blocks", "blocks", "is blocked by"),
                ("Cloners", "clones", "is cloned by"),
                ("Duplicate", "duplicates", "is duplicated by"),
                ("Relates", "relates to", "relates to"),
            )
        ):
            yield _row(
                "IssueLinkType",
                (
                    ("id", 10000 + index),
                    ("linkname", name),
                    ("inward", inward),
                    ("outward", outward),
                ),
            )

    def issue_types(self) -> _Rows:
        for type_id, name in (("1", "Bug"), ("2", "New Feature"), ("3", "Task")):
            yield _row("IssueType", (("id", type_id), ("sequence", type_id), ("name", name)))

    def priorities(self) -> _Rows:
        for number, name in enumerate(("Highest", "High", "Medium", "Low", "Lowest"), 1):
            yield _row("Priority", (("id", number), ("sequence", number), ("name", name)))

    def statuses(self) -> _Rows:
        for status_id, name in _STATUSES:
            yield _row("Status", (("id", status_id), ("sequence", status_id), ("name", name)))

    def notifications(self) -> _Rows:
        for index, event in enumerate((1, 2, 3, 6)):
            yield _row(
                "Notification",
                (
                    ("id", 10000 + index),
                    ("scheme", 10000),
                    ("eventTypeId", event),
                    ("type", "Current_Assignee"),
                ),
            )

    def user_history(self) -> _Rows:
        rng = self.rng("UserHistoryItem")
        for index in range(min(self.spec.issues, 10)):
            yield _row(
                "UserHistoryItem",
                (
                    ("id", 10000 + index),
                    ("type", "Issue"),
                    ("username", self.plan.actor(rng)),
                    ("lastViewed", 1_600_000_000_000 + index * 60_000),
                    ("entityId", 10000 + index),
                ),
            )

    # projects -------------------------------------------------------------------

    def project_rows(self) -> _Rows:
        for index, project in enumerate(self.plan.projects):
            yield _row(
                "Project",
                (
                    ("id", project.id),
                    ("name", project.name),
                    ("url", ""),
                    ("lead", project.lead),
                    ("description", f"Work of the {project.name} team."),
                    ("key", project.key),
                    ("pcounter", project.counter),
                    ("assigneetype", 3),
                    ("avatar", 10100 + index),
                    ("originalkey", project.original_key),
                    ("projecttype", "software"),
                ),
            )

    def project_keys(self) -> _Rows:
        next_id = 10000
        for project in self.plan.projects:
            keys = [project.key]
            if project.original_key != project.key:
                keys.insert(0, project.original_key)
            for key in keys:
                yield _row(
                    "ProjectKey",
                    (("id", next_id), ("projectId", project.id), ("projectKey", key)),
                )
                next_id += 1

    def moved_issue_keys(self) -> _Rows:
        projects = self.plan.projects
        if len(projects) > 1 and projects[1].issue_count:
            moved = projects[1].first_issue
            old_key = f"{projects[0].key}-{projects[0].counter}"
            yield _row(
                "MovedIssueKey",
                (("id", 10000), ("oldIssueKey", old_key), ("issueId", 10000 + moved)),
            )

    # issues and their children ----------------------------------------------------

    def issues(self) -> _Rows:
        plan, spec, rng = self.plan, self.spec, self.rng("Issue")
        targets = plan.targets
        for index in range(spec.issues):
            issue_id = 10000 + index
            key = plan.issue_key(index)
            summary = self.text(rng)
            description: str | None = (
                self.paragraph(rng, 1 + _below(rng, 4)) if rng.random() < 0.8 else None
            )
            split_lines = rng.random() < 0.25
            status_id = _pick(rng, _STATUSES)[0]
            fault: tuple[str, str, str] | None = None  # name, field, payload
            if targets.get("control-char") == index:
                summary, fault = f"Crash on {_MARK}import", ("control-char", "summary", "\x01")
            elif targets.get("char-ref") == index:
                summary, fault = f"Pasted {_MARK}from mail", ("char-ref", "summary", "&#1;")
            elif targets.get("invalid-utf8") == index:
                description = f"Caf{_MARK} menu is broken\nsince the upgrade"
                fault = ("invalid-utf8", "description", "\udcc3")
            if targets.get("long-summary") == index:
                summary = ("Long summary " * 30)[:LONG_SUMMARY_CHARS]
                self.long_text("long-summary", "Issue", issue_id, key, "summary", summary)
            if targets.get("long-description") == index:
                description = _long_text(rng, LONG_TEXT_CHARS)
                self.long_text(
                    "long-description", "Issue", issue_id, key, "description", description
                )
            fields = (
                ("id", issue_id),
                ("key", key),
                ("number", plan.issue_number[index]),
                ("project", plan.projects[plan.issue_project[index]].id),
                ("reporter", plan.actor(rng)),
                ("assignee", plan.actor(rng)),
                ("creator", plan.actor(rng)),
                ("type", _pick(rng, "123")),
                ("summary", summary),
                ("priority", 1 + _below(rng, 5)),
                ("resolution", 1 if status_id in ("5", "6") else None),
                ("status", status_id),
                ("created", plan.when(index)),
                ("updated", plan.when(index, 600)),
                ("workflowId", issue_id),
                ("description", description),
            )
            text = _row("Issue", fields, split_lines)
            if fault is None:
                yield text
            else:
                name, field_name, payload = fault
                record = {
                    "fault": name,
                    "entity": "Issue",
                    "id": str(issue_id),
                    "issue_key": key,
                    "field": field_name,
                    **_payload_facts(payload),
                }
                yield _Faulty(text, payload, record)

    def long_text(
        self, fault: str, entity: str, row_id: int, key: str, name: str, text: str
    ) -> None:
        self.plan.user_faults.append(
            {
                "fault": fault,
                "entity": entity,
                "id": str(row_id),
                "issue_key": key,
                "field": name,
                "length": len(text),
            }
        )

    def actions(self) -> _Rows:
        plan, rng = self.plan, self.rng("Action")
        next_id = 10000
        fffe_at = plan.targets.get("fffe")
        long_at = plan.targets.get("long-comment")
        for index in range(self.spec.issues):
            for number in range(plan.comments[index]):
                body = (
                    self.paragraph(rng, 2 + _below(rng, 2))
                    if rng.random() < 0.4
                    else self.text(rng)
                )
                first = number == 0
                if first and index == long_at:
                    body = _long_text(rng, LONG_TEXT_CHARS)
                    self.long_text(
                        "long-comment", "Action", next_id, plan.issue_key(index), "body", body
                    )
                if first and index == fffe_at:
                    body = f"Copied from Word{_MARK} here"
                text = _row(
                    "Action",
                    (
                        ("id", next_id),
                        ("issue", 10000 + index),
                        ("author", plan.actor(rng)),
                        ("type", "comment"),
                        ("body", body),
                        ("created", plan.when(index, 60 + number)),
                    ),
                )
                if first and index == fffe_at:
                    record = {
                        "fault": "fffe",
                        "entity": "Action",
                        "id": str(next_id),
                        "issue_key": plan.issue_key(index),
                        "field": "body",
                        **_payload_facts("\ufffe"),
                    }
                    yield _Faulty(text, "\ufffe", record)
                else:
                    yield text
                next_id += 1

    def worklogs(self) -> _Rows:
        plan, rng = self.plan, self.rng("Worklog")
        next_id = 10000
        long_at = plan.targets.get("long-worklog")
        cut_at = plan.targets.get("truncated")
        for index in range(self.spec.issues):
            for number in range(plan.worklogs[index]):
                body = self.text(rng)
                if number == 0 and index == long_at:
                    body = _long_text(rng, LONG_TEXT_CHARS)
                    self.long_text(
                        "long-worklog", "Worklog", next_id, plan.issue_key(index), "body", body
                    )
                started = plan.when(index, 120 + number)
                text = _row(
                    "Worklog",
                    (
                        ("id", next_id),
                        ("issue", 10000 + index),
                        ("author", plan.actor(rng)),
                        ("body", body),
                        ("created", started),
                        ("startdate", started),
                        ("timeworked", 900 * (1 + _below(rng, 32))),
                    ),
                )
                if number == 0 and index == cut_at:
                    # the last entity in the file, so a cut backup still holds every other fault
                    record = {"fault": "truncated", "entity": "Worklog", "id": str(next_id)}
                    yield _Cut(text[: len(text) // 2], record)
                    return
                yield text
                next_id += 1

    def change_groups(self) -> _Rows:
        plan, rng = self.plan, self.rng("ChangeGroup")
        next_id = 10000
        for index in range(self.spec.issues):
            for number in range(plan.change_groups[index]):
                yield _row(
                    "ChangeGroup",
                    (
                        ("id", next_id),
                        ("issue", 10000 + index),
                        ("author", plan.actor(rng)),
                        ("created", plan.when(index, 180 + number)),
                    ),
                )
                next_id += 1

    def change_items(self) -> _Rows:
        plan, rng = self.plan, self.rng("ChangeItem")
        group_id, item_id = 10000, 10000
        target = plan.targets.get("control-char-changeitem")
        for index in range(self.spec.issues):
            for number in range(plan.change_groups[index]):
                old_index = _below(rng, len(_STATUSES))
                old = _STATUSES[old_index]
                new = _STATUSES[(old_index + 1 + _below(rng, len(_STATUSES) - 1)) % len(_STATUSES)]
                yield _row(
                    "ChangeItem",
                    (
                        ("id", item_id),
                        ("group", group_id),
                        ("fieldtype", "jira"),
                        ("field", "status"),
                        ("oldvalue", old[0]),
                        ("oldstring", old[1]),
                        ("newvalue", new[0]),
                        ("newstring", new[1]),
                    ),
                )
                item_id += 1
                before, after = plan.actor(rng), plan.actor(rng)
                faulty = number == 0 and index == target
                text = _row(
                    "ChangeItem",
                    (
                        ("id", item_id),
                        ("group", group_id),
                        ("fieldtype", "jira"),
                        ("field", "assignee"),
                        ("oldvalue", before),
                        ("oldstring", before),
                        ("newvalue", after),
                        ("newstring", f"{_MARK}[0m{after}" if faulty else after),
                    ),
                )
                if faulty:
                    record = {
                        "fault": "control-char-changeitem",
                        "entity": "ChangeItem",
                        "id": str(item_id),
                        "issue_key": plan.issue_key(index),
                        "field": "newstring",
                        **_payload_facts("\x1b"),
                    }
                    yield _Faulty(text, "\x1b", record)
                else:
                    yield text
                item_id += 1
                group_id += 1

    def custom_field_values(self) -> _Rows:
        plan, rng = self.plan, self.rng("CustomFieldValue")
        next_id = 10000
        long_at = plan.targets.get("long-custom-text")
        for index in range(self.spec.issues):
            for number in range(plan.custom_texts[index]):
                text = self.paragraph(rng, 2 + _below(rng, 3))
                if number == 0 and index == long_at:
                    text = _long_text(rng, LONG_TEXT_CHARS)
                    self.long_text(
                        "long-custom-text",
                        "CustomFieldValue",
                        next_id,
                        plan.issue_key(index),
                        "textvalue",
                        text,
                    )
                yield _row(
                    "CustomFieldValue",
                    (
                        ("id", next_id),
                        ("issue", 10000 + index),
                        ("customfield", 10000),
                        ("textvalue", text),
                    ),
                    split_lines=rng.random() < 0.25,
                )
                next_id += 1

    def file_attachments(self) -> _Rows:
        plan, rng = self.plan, self.rng("FileAttachment")
        for attachment in _attachments(plan):
            index = attachment.issue_id - 10000
            yield _row(
                "FileAttachment",
                (
                    ("id", attachment.id),
                    ("issue", attachment.issue_id),
                    ("mimetype", attachment.mimetype),
                    ("filename", attachment.filename),
                    ("created", plan.when(index, 30)),
                    ("filesize", attachment.filesize),
                    ("author", plan.actor(rng)),
                    ("zip", 0),
                    ("thumbnailable", 1 if attachment.thumbnailable else 0),
                ),
            )

    def issue_links(self) -> _Rows:
        plan, rng = self.plan, self.rng("IssueLink")
        next_id = 10000
        total = self.spec.issues
        for index in range(total):
            for sequence in range(plan.links[index]):
                yield _row(
                    "IssueLink",
                    (
                        ("id", next_id),
                        ("linktype", 10000 + _below(rng, 4)),
                        ("source", 10000 + index),
                        ("destination", 10000 + _below(rng, total)),
                        ("sequence", sequence),
                    ),
                )
                next_id += 1

    def current_steps(self) -> _Rows:
        plan = self.plan
        for index in range(self.spec.issues):
            yield _row(
                "OSCurrentStep",
                (
                    ("id", 10000 + index),
                    ("entryId", 10000 + index),
                    ("stepId", 1),
                    ("actionId", 0),
                    ("startDate", plan.when(index)),
                    ("status", "Open"),
                ),
            )


def _uuid(rng: random.Random) -> str:
    hexa = f"{rng.getrandbits(128):032x}"
    return f"{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"


def _long_text(rng: random.Random, chars: int) -> str:
    """Multi-line prose of exactly ``chars`` characters (a pasted log, a spec)."""
    line = " ".join(rng.choice(_WORDS) for _ in range(12)) + "\n"
    return (line * (chars // len(line) + 1))[:chars]


def _payload_facts(payload: str) -> dict[str, Any]:
    if payload == "\udcc3":
        return {"byte": 0xC3}
    if payload.startswith("&#"):
        return {"codepoint": int(payload[2:-1]), "text": payload}
    return {"codepoint": ord(payload)}


# --------------------------------------------------------------------------- entities.xml


def _label(name: str, value: object) -> str:
    """A header or trailer line: values aligned at column 52 as Jira does."""
    return f"     {name:<45} : {value}\n"


def _header(plan: _Plan) -> str:
    spec = plan.spec
    exported = plan.export_time
    sha = hashlib.sha1(f"{plan.version}#{plan.build}".encode()).hexdigest()
    moment = (
        f"{exported:%A}, {exported.day} {exported:%B %Y} "
        f"{exported.hour % 12 or 12}:{exported:%M:%S} {exported:%p} UTC"
    )
    return "".join(
        [
            f'<?xml version="1.0" encoding="{spec.encoding}"?>\n',
            "<!-- \n\n\n___ Exported on _____________________________\n\n",
            _label("on", moment),
            _label("by", "admin ( admin )"),
            "\n___ Environment ____________________________\n\n",
            _label("JIRA Build", f"{plan.version}#{plan.build}-sha1:{sha}"),
            _label("Build Date", f"{exported - timedelta(days=120):%a %b %d 00:00:00 UTC %Y}"),
            _label("JIRA Installation Type", "Standalone"),
            _label("Java Version", "11.0.16 - Eclipse Adoptium"),
            "\n___ Jira Info ______________________________\n\n",
            _label("Version", plan.version),
            _label("Build #", plan.build),
            _label("Base URL", spec.base_url),
            _label("Default Language", "English (United States)"),
            _label("Database Type", "postgres72"),
            "\n\n -->\n",
            f'<entity-engine-xml date="{int(exported.timestamp() * 1000)}">\n',
        ]
    )


def _trailer(counts: dict[str, int]) -> str:
    lines = ["<!-- \n\n\n___ Entities ________________________________\n\n"]
    lines.append(_label("Total", sum(counts.values())))
    lines.append("\n")
    lines.extend(_label(name, counts[name]) for name in sorted(counts))
    lines.append("\n -->\n</entity-engine-xml>")
    return "".join(lines)


def _write_entities(plan: _Plan, raw: _BinarySink, manifest: Manifest) -> None:
    stream = _Stream(raw, plan.spec.encoding)
    stream.write(_header(plan))
    counts: dict[str, int] = {}
    for entity, rows in _EntityWriter(plan).entities():
        written = 0
        for row in rows():
            if isinstance(row, str):
                stream.write(row)
                written += 1
            elif isinstance(row, _Faulty):
                manifest.faults.append(stream.write_faulty(row))
                written += 1
            else:
                stream.write(row.text)
                stream.flush()
                manifest.faults.append({**row.record, "offset": stream.bytes})
                if written:
                    counts[entity] = written
                manifest.counts = counts
                stream.flush()
                return
        if written:
            counts[entity] = written
    manifest.counts = dict(counts)
    declared = dict(counts)
    if plan.spec.has("trailer-mismatch"):
        declared["Issue"] = declared.get("Issue", 0) + 1
        manifest.faults.append(
            {
                "fault": "trailer-mismatch",
                "entity": "Issue",
                "declared": declared["Issue"],
                "written": counts.get("Issue", 0),
            }
        )
    stream.write(_trailer(declared))
    stream.flush()


# --------------------------------------------------------------------------- activeobjects.xml


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


def _ao_rows(plan: _Plan) -> dict[str, list[list[tuple[object, str]]]]:
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


def _app_fault_table() -> tuple[str, tuple[tuple[str, int, int, bool], ...]]:
    """The ``app-data`` fault's table: a third-party app's timesheet rows."""
    columns = (("HOURS", 8, 17, False), ("ID", 4, 10, True), ("ISSUE_ID", -5, 19, False))
    return f"{ao_prefix(APP_FAULT[0])}_TIMESHEET", columns


def _activeobjects(plan: _Plan) -> str:
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
        table_name, app_columns = _app_fault_table()
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


# --------------------------------------------------------------------------- zip


def _zip_info(name: str, plan: _Plan) -> zipfile.ZipInfo:
    """A member with a date from the seed, so the zip's bytes are reproducible."""
    moment = plan.export_time
    info = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _expected_size(spec: SynthSpec) -> int:
    """A generous guess of entities.xml's size, to decide on zip64 before writing."""
    per_issue = 1500 * (
        1
        + spec.comments_per_issue
        + spec.worklogs_per_issue
        + spec.change_groups_per_issue
        + spec.custom_text_per_issue
        + spec.attachments_per_issue
    )
    return int(spec.issues * per_issue + spec.users * 2000)


def write_backup(path: Path, spec: SynthSpec) -> Manifest:
    """Write a site backup zip for ``spec`` at ``path`` and say what is in it."""
    path = Path(path)
    plan = _Plan(spec)
    folder = "backup/" if spec.has("nested-folder") else ""
    with_ao = not spec.has("missing-activeobjects")
    manifest = Manifest(
        spec=spec,
        zip_path=str(path),
        entities_member=f"{folder}entities.xml",
        activeobjects_member=f"{folder}activeobjects.xml" if with_ao else None,
        jira_version=plan.version,
        build_number=plan.build,
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        info = _zip_info(manifest.entities_member, plan)
        large = _expected_size(spec) > _ZIP64_THRESHOLD
        with archive.open(info, "w", force_zip64=large) as member:
            background = _BackgroundWriter(member)
            try:
                _write_entities(plan, background, manifest)
            finally:
                background.close()
        if manifest.activeobjects_member is not None:
            info = _zip_info(manifest.activeobjects_member, plan)
            archive.writestr(info, _activeobjects(plan).encode("utf-8"))
    manifest.users = [user.record() for user in plan.users]
    manifest.faults.extend(plan.user_faults)
    manifest.faults.extend(_structure_faults(spec, manifest, plan))
    return manifest


def _structure_faults(spec: SynthSpec, manifest: Manifest, plan: _Plan) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    if spec.has("old-version"):
        records.append({"fault": "old-version", "version": plan.version, "build": plan.build})
    if spec.has("nested-folder"):
        records.append({"fault": "nested-folder", "member": manifest.entities_member})
    if spec.has("missing-activeobjects"):
        records.append({"fault": "missing-activeobjects"})
    if spec.has("admin-groups-both"):
        records.append(
            {
                "fault": "admin-groups-both",
                "groups": ["administrators", "jira-administrators"],
                "members": {
                    "administrators": [plan.users[1].username],
                    "jira-administrators": sorted(
                        user.username
                        for group, user in plan.memberships
                        if group.name == "jira-administrators"
                    ),
                },
            }
        )
    if spec.has("baseurl-mismatch"):
        records.append(
            {
                "fault": "baseurl-mismatch",
                "header": spec.base_url,
                "property": "http://jira-old.internal:8080/jira",
            }
        )
    if spec.has("baseurl-missing"):
        records.append({"fault": "baseurl-missing", "header": spec.base_url})
    return records + _after_import_faults(spec, plan)


def _after_import_faults(spec: SynthSpec, plan: _Plan) -> list[dict[str, Any]]:
    """What each after-import fault wrote, as its rule's finding names it."""
    first = plan.projects[0]
    records: dict[str, dict[str, Any]] = {
        "app-data": {
            "plugin_key": APP_FAULT[0],
            "app": APP_FAULT[1],
            "version": APP_FAULT[2],
            "prefix": ao_prefix(APP_FAULT[0]),
            "table": _app_fault_table()[0],
            "rows": 2,
            "custom_field": APP_FAULT[3],
            "custom_field_id": "10003",
        },
        "public-project": {
            "scheme": "Default Permission Scheme",
            "permission": "BROWSE_PROJECTS",
            "projects": [first.key],
            "filter": "All open issues",
            "owner": "admin",
        },
        "former-user": {
            "user": FORMER_USER,
            "references": {"component lead": 1, "filter owner": 1},
        },
        "missing-group": {"group": MISSING_GROUP, "project": first.key, "role": "Developers"},
        "board-missing-filter": {"board": f"{first.key} board", "id": 1, "filter": MISSING_FILTER},
        "too-many-options": {"custom_field": "Team", "id": "10001", "options": TOO_MANY_OPTIONS},
        "mail-integration": {
            "application_link": "Acme Wiki",
            "url": "https://wiki.acmecorp.com",
            "mail_server": "Support mailbox",
            "host": "mail.acmecorp.com",
            "mail_handler": "Support mail handler",
        },
        "free-plan-features": {
            "security_scheme": "Confidential",
            "project_role": "Auditors",
            "permission_scheme": "Restricted Scheme",
        },
    }
    if spec.has("importer-in-backup"):
        # nothing is written: the test names this user's address as target.importer_email
        admin = next(user for user in plan.users if user.username == "admin")
        records["importer-in-backup"] = {"user": admin.username, "email": admin.email}
    return [{"fault": name, **record} for name, record in records.items() if spec.has(name)]


# --------------------------------------------------------------------------- media


class _Pattern:
    """Seeded filler bytes: one random block, repeated, so big files are cheap."""

    def __init__(self, seed: int) -> None:
        self.block = random.Random(f"{seed}:media").randbytes(1 << 16)

    def chunks(self, size: int) -> Iterator[bytes]:
        while size > 0:
            piece = self.block[: min(size, len(self.block))]
            size -= len(piece)
            yield piece


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class _MediaFile:
    path: str
    size: int
    header: bytes = b""


def _media_files(
    manifest: Manifest, layout: str, faults: Sequence[str]
) -> tuple[list[_MediaFile], list[dict[str, Any]]]:
    """Every file of the media tree and the fault records, before anything is written."""
    unknown = sorted(set(faults) - set(MEDIA_FAULTS))
    if unknown:
        raise ValueError(f"unknown media faults {unknown}; known: {', '.join(MEDIA_FAULTS)}")
    if layout not in ("bucketed", "legacy"):
        raise ValueError(f"layout must be 'bucketed' or 'legacy', not {layout!r}")
    attachments = list(iter_attachments(manifest.spec))
    files: list[_MediaFile] = []
    records: list[dict[str, Any]] = []
    missing = attachments[len(attachments) // 3] if "missing-attachment-file" in faults else None
    wrong = attachments[len(attachments) // 2] if "size-mismatch" in faults else None
    for attachment in attachments:
        if layout == "bucketed":
            folder = attachment.bucketed_dir()
            path = f"{folder}/{attachment.id}"
        else:
            folder = attachment.legacy_dir()
            path = f"{folder}/{attachment.id}_{attachment.filename}"
        size = attachment.filesize
        if attachment is missing:
            records.append(
                {
                    "fault": "missing-attachment-file",
                    "attachment_id": str(attachment.id),
                    "issue_key": attachment.issue_key,
                    "path": path,
                }
            )
        else:
            if attachment is wrong:
                size += 100
                records.append(
                    {
                        "fault": "size-mismatch",
                        "attachment_id": str(attachment.id),
                        "path": path,
                        "expected": attachment.filesize,
                        "actual": size,
                    }
                )
            files.append(_MediaFile(path, size))
        if attachment.thumbnailable:
            thumb = f"{folder}/thumbs/_thumb_{attachment.id}.png"
            files.append(_MediaFile(thumb, 600, _PNG_SIGNATURE))
    if "orphan-file" in faults and attachments:
        template = attachments[-1]
        orphan_id = template.id + 1000
        folder = template.bucketed_dir() if layout == "bucketed" else template.legacy_dir()
        path = f"{folder}/{orphan_id}"
        files.append(_MediaFile(path, 2048))
        records.append({"fault": "orphan-file", "attachment_id": str(orphan_id), "path": path})
    for avatar in range(10100, 10100 + manifest.spec.projects):
        for variant in ("xsmall_", "small_", "medium_", ""):
            files.append(
                _MediaFile(f"data/avatars/{avatar}_{variant}avatar.png", 900, _PNG_SIGNATURE)
            )
    files.append(_MediaFile("logos/jira-logo-scaled.png", 1500, _PNG_SIGNATURE))
    if "stray-file" in faults:
        files.append(_MediaFile("data/notes.txt", 120))
        files.append(_MediaFile("README.txt", 80))
        records.append({"fault": "stray-file", "paths": ["README.txt", "data/notes.txt"]})
    if "wrapping-folder" in faults:
        for media_file in files:
            media_file.path = f"jira-home/{media_file.path}"
        for record in records:
            if "path" in record:
                record["path"] = f"jira-home/{record['path']}"
            if "paths" in record:
                record["paths"] = [f"jira-home/{p}" for p in record["paths"]]
        records.append({"fault": "wrapping-folder", "prefix": "jira-home/"})
    return files, records


def _file_bytes(media_file: _MediaFile, pattern: _Pattern) -> Iterator[bytes]:
    header = media_file.header[: media_file.size]
    if header:
        yield header
    yield from pattern.chunks(media_file.size - len(header))


def write_media(
    root: Path,
    manifest: Manifest,
    layout: str = "bucketed",
    faults: Sequence[str] = (),
    sparse: bool = False,
) -> list[dict[str, Any]]:
    """Write the media tree (attachments, thumbnails, avatars, logos) under ``root``.

    ``sparse`` makes each attachment a hole of the right size (``truncate``), so
    multi-gigabyte media costs no disk.  Returns the media fault records, which
    are also added to ``manifest.media_faults``.
    """
    files, records = _media_files(manifest, layout, faults)
    pattern = _Pattern(manifest.spec.seed)
    for media_file in files:
        target = Path(root) / media_file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as handle:
            if sparse:
                handle.truncate(media_file.size)
            else:
                for chunk in _file_bytes(media_file, pattern):
                    handle.write(chunk)
    manifest.media_faults.extend(records)
    return records


def write_media_zip(
    zip_path: Path,
    manifest: Manifest,
    layout: str = "bucketed",
    faults: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Like :func:`write_media`, into one zip (as a customer uploads it)."""
    files, records = _media_files(manifest, layout, faults)
    pattern = _Pattern(manifest.spec.seed)
    plan_time = _Plan(manifest.spec).export_time.timetuple()[:6]
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for media_file in files:
            info = zipfile.ZipInfo(media_file.path, date_time=plan_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=media_file.size > _ZIP64_THRESHOLD) as out:
                for chunk in _file_bytes(media_file, pattern):
                    out.write(chunk)
    manifest.media_faults.extend(records)
    return records


# --------------------------------------------------------------------------- sizing and CLI


class _CountingSink(io.RawIOBase):
    """A write-only stream that only counts, to measure output without keeping it."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.size += len(data)
        return len(data)


def entities_size(spec: SynthSpec) -> int:
    """Bytes of entities.xml for ``spec``, by generating it into a counter."""
    plan = _Plan(spec)
    sink = _CountingSink()
    manifest = Manifest(spec, "", "entities.xml", None, plan.version, plan.build)
    _write_entities(plan, sink, manifest)
    return sink.size


def scale_to_megabytes(spec: SynthSpec, megabytes: float) -> SynthSpec:
    """``spec`` with its issue count set so that entities.xml is about ``megabytes`` MB.

    Two small trial runs give the fixed and the per-issue size; the rest is linear.
    """
    small, large = 50, 250
    fixed_plus_small = entities_size(dataclasses.replace(spec, issues=small))
    per_issue = (entities_size(dataclasses.replace(spec, issues=large)) - fixed_plus_small) / (
        large - small
    )
    fixed = fixed_plus_small - per_issue * small
    issues = max(1, round((megabytes * 1_000_000 - fixed) / per_issue))
    return dataclasses.replace(spec, issues=issues)
