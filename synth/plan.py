"""The synthetic site: users, groups, projects, issues and attachments, all from the seed."""

from __future__ import annotations

import dataclasses
import functools
import math
import random
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from synth.spec import OLD_VERSION, SynthSpec

_T = TypeVar("_T")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: pre-built sentences per entity pass: choosing words one by one was too slow
SENTENCE_BITS = 10


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
WORDS = _words(
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
STATUSES = (("1", "Open"), ("3", "In Progress"), ("5", "Resolved"), ("6", "Closed"))


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


def below(rng: random.Random, n: int) -> int:
    """A uniform integer in ``[0, n)``; ``randrange`` costs several times more per row."""
    return int(rng.random() * n)


def pick(rng: random.Random, items: Sequence[_T]) -> _T:
    return items[int(rng.random() * len(items))]


def per_issue_count(rng: random.Random, mean: float) -> int:
    """A count whose average over many issues is ``mean``."""
    whole = int(mean)
    return whole + (1 if rng.random() < mean - whole else 0)


class Plan:
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
        return array("I", (per_issue_count(rng, mean) for _ in range(self.spec.issues)))

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
        return self.users[below(rng, len(self.users))].key


@functools.lru_cache(maxsize=4096)
def _day_text(day: int) -> str:
    """``YYYY-MM-DD`` of a day counted from the Unix epoch."""
    return (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%d")


def iter_attachments(spec: SynthSpec) -> Iterator[Attachment]:
    """The attachments :func:`write_backup` writes for ``spec``, in row order."""
    plan = Plan(spec)
    yield from plan_attachments(plan)


def plan_attachments(plan: Plan) -> Iterator[Attachment]:
    rng = random.Random(f"{plan.spec.seed}:attachments")
    next_id = 10000
    for index in range(plan.spec.issues):
        project = plan.projects[plan.issue_project[index]]
        for _ in range(plan.attachments[index]):
            name, mimetype, image = pick(rng, _ATTACHMENT_KINDS)
            yield Attachment(
                id=next_id,
                issue_id=10000 + index,
                issue_key=plan.issue_key(index),
                issue_number=plan.issue_number[index],
                project_key=project.key,
                project_original_key=project.original_key,
                filename=f"{pick(rng, WORDS)}-{name}",
                mimetype=mimetype,
                filesize=int(rng.lognormvariate(8, 1.2)) + 64,
                thumbnailable=image,
            )
            next_id += 1
