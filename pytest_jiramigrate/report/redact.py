"""``--jira-redact``: pseudonyms for the people named in a readiness report.

A readiness report travels: it is attached to tickets, pasted into chat and
sent to consultants.  Its findings name users by username, display name and
e-mail address, which are personal data.  Redaction replaces each of them by a
keyed pseudonym (HMAC-SHA256, truncated), so that:

* the same person gets the same pseudonym in every output of a run and in
  every run made with the same key, so two reports can still be compared;
* nobody without the key can go back from a pseudonym to the person (the
  HMAC cannot be inverted, and without the key it cannot be recomputed for a
  guessed name either);
* the verdicts stay readable: an address keeps its shape (``user-…@domain-….com``),
  the users of one domain stay grouped (local part and domain are hashed
  apart), and the reason texts ("has no top-level domain") are kept.

Public suffixes (``com``, ``co.uk``) and special-use or reserved names
(``local``, ``corp``, ``example.com``) stay visible: each is shared by
millions of unrelated registrants, so it says nothing about who a user is,
while it is exactly what an e-mail verdict is about (``.local`` is reserved,
``example.com`` is denied).  The registrable label in front of the suffix,
which names the organisation, is always hashed, and so is a last label that
is no known top-level domain (``acme.intra``), since that could be a
company's own name.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pytest_jiramigrate.core.emails import (
    DEFAULT_DENY_DOMAINS,
    SPECIAL_USE_NAMES,
    public_suffix_list,
)
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.rules.base import Finding, Verdict
from pytest_jiramigrate.rules.outcome import Outcome

KEY_ENVIRONMENT = "JIRAMIGRATE_REDACT_KEY"
KEY_FILE = "redact.key"

#: Hex digits kept of each HMAC: 32 bits, so collisions are unlikely below
#: tens of thousands of users, while a pseudonym stays short enough to read.
DIGEST_CHARS = 8

#: Finding fields whose values are usernames (strings, lists, or dict keys).
USER_FIELDS = frozenset(
    {
        "user", "users", "member", "members", "nested", "child_name", "lower_child_name",
        "user_name", "lower_user_name", "user_key", "lead", "author", "assignee", "reporter",
    }
)  # fmt: skip
EMAIL_FIELDS = frozenset({"email", "emails", "lower_email", "email_address"})
NAME_FIELDS = frozenset({"display_name", "first_name", "last_name", "full_name"})

#: A run of characters that can make up a username, address or domain.
TOKEN = re.compile(r"[\w.@+%-]+")
TOKEN_CHARS = re.compile(r"[\w@+%-]")


def load_key(cache_dir: Path) -> bytes:
    """The redaction key: ``$JIRAMIGRATE_REDACT_KEY``, else one kept in ``cache_dir``.

    A key generated once per machine and kept in pytest's cache makes the
    pseudonyms of successive runs comparable; the environment variable lets a
    team share one key between machines and CI.
    """
    configured = os.environ.get(KEY_ENVIRONMENT, "")
    if configured:
        return configured.encode("utf-8")
    path = cache_dir / KEY_FILE
    if path.is_file() and path.stat().st_size > 0:
        return path.read_bytes()
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode("ascii")
    partial = path.with_name(f".{KEY_FILE}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(key)
    os.replace(partial, path)
    return key


@dataclass(frozen=True)
class Redactor:
    """Keyed pseudonyms for usernames, display names, e-mail addresses and domains."""

    key: bytes

    def digest(self, kind: str, value: str) -> str:
        """HMAC of a case-folded value: Jira compares usernames and addresses without case."""
        message = f"{kind}\0{value.lower()}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()[:DIGEST_CHARS]

    def user(self, name: str) -> str:
        return f"user-{self.digest('user', name)}"

    def name(self, display_name: str) -> str:
        return f"name-{self.digest('name', display_name)}"

    def email(self, address: str) -> str:
        """``user-…@domain-….tld``; an empty address stays empty ("no e-mail" is a verdict)."""
        if not address:
            return address
        local, at, domain = address.rpartition("@")
        if not at:
            return f"mail-{self.digest('mail', address)}"
        return f"user-{self.digest('local', local)}@{self.domain(domain)}"

    def domain(self, domain: str) -> str:
        """Hash the labels that name an organisation; keep a public or reserved suffix."""
        bare = domain.rstrip(".")
        root = domain[len(bare) :]
        suffix = visible_suffix(bare)
        if suffix is not None and len(suffix) == len(bare):
            return domain
        hashed = f"domain-{self.digest('domain', bare)}"
        if suffix is not None:
            return f"{hashed}.{bare[len(bare) - len(suffix) :]}{root}"
        _, dot, last = bare.rpartition(".")
        if not dot:
            return f"{hashed}{root}"
        return f"{hashed}.{self.tld(last)}{root}"

    def tld(self, label: str) -> str:
        """An unknown last label, which may be a company's own name (``acme.intranet1``)."""
        return f"tld-{self.digest('tld', label)}"


def visible_suffix(domain: str) -> str | None:
    """The longest public, special-use or reserved suffix of ``domain``, or None."""
    lowered = domain.lower()
    found = [public_suffix_list().publicsuffix(lowered) or ""]
    for name in [*SPECIAL_USE_NAMES, *DEFAULT_DENY_DOMAINS]:
        if lowered == name or lowered.endswith("." + name):
            found.append(name)
    longest = max(found, key=len)
    return longest or None


def known_identities(facts: Facts) -> tuple[set[str], set[str]]:
    """Every username and e-mail address the backup holds: what redaction must find in text.

    Memberships and project leads may name users that have no user row (a
    dangling membership is exactly such a finding), so they are read too.
    """
    users = {
        row[0]
        for sql in (
            "SELECT user_name FROM user",
            "SELECT lower_user_name FROM user",
            "SELECT user_key FROM app_user",
            "SELECT lower_user_name FROM app_user",
            "SELECT child_name FROM membership WHERE membership_type != 'GROUP_GROUP'",
            "SELECT lead FROM project",
        )
        for row in facts.db.execute(sql)
        if row[0]
    }
    emails = {row[0] for row in facts.db.execute("SELECT email FROM user") if row[0]}
    return users, emails


def known_names(facts: Facts) -> set[str]:
    """Display names and "first last" names: personal data, masked as ``name-…``."""
    rows = facts.db.execute(
        "SELECT display_name, trim(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))"
        " FROM user"
    )
    return {name for row in rows for name in row if name and len(name) > 1}


class Replacer:
    """Replaces known identities as whole tokens, longest first, without regard to case.

    Candidates are indexed by their first token, so a text is scanned once
    whatever the number of users: one dictionary look-up per token.
    """

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.index: dict[str, list[tuple[int, str, str]]] = defaultdict(list)

    def add(self, original: str, pseudonym: str) -> None:
        first = TOKEN.match(original)
        if not original or first is None or first.start() != 0:
            return
        key = first.group().rstrip(".").lower() or first.group().lower()
        candidates = self.index[key]
        candidates.append((len(original), original.lower(), pseudonym))
        candidates.sort(key=lambda candidate: -candidate[0])

    def add_user(self, name: str) -> None:
        self.add(name, self.redactor.user(name))

    def add_name(self, display_name: str) -> None:
        self.add(display_name, self.redactor.name(display_name))

    def add_email(self, address: str) -> None:
        self.add(address, self.redactor.email(address))
        domain = address.rpartition("@")[2]
        if domain:
            self.add_domain(domain)

    def add_domain(self, domain: str) -> None:
        """A domain is named in reason texts ("The domain 'acme' has no top-level domain")."""
        bare = domain.rstrip(".")
        suffix = visible_suffix(bare)
        if not bare or (suffix is not None and len(suffix) == len(bare)):
            return
        self.add(bare, self.redactor.domain(bare))
        _, dot, last = bare.rpartition(".")
        if dot and suffix is None:
            self.add(f".{last}", f".{self.redactor.tld(last)}")

    def __call__(self, text: str) -> str:
        pieces: list[str] = []
        position = 0
        while (token := TOKEN.search(text, position)) is not None:
            start = token.start()
            pieces.append(text[position:start])
            word = token.group().rstrip(".") or token.group()
            position = start + len(word)
            replaced = self._known_at(text, start, word)
            if replaced is not None:
                pseudonym, position = replaced
                pieces.append(pseudonym)
            elif "@" in word.strip("@"):
                pieces.append(self.redactor.email(word))
            else:
                pieces.append(word)
        pieces.append(text[position:])
        return "".join(pieces)

    def _known_at(self, text: str, start: int, word: str) -> tuple[str, int] | None:
        for length, lowered, pseudonym in self.index.get(word.lower(), ()):
            end = start + length
            if text[start:end].lower() == lowered and _ends_token(text, end):
                return pseudonym, end
        return None


def _ends_token(text: str, end: int) -> bool:
    """True when a token may end at ``end``: a sentence's full stop ends it, ``.com`` does not."""
    if end >= len(text):
        return True
    if TOKEN_CHARS.match(text[end]):
        return False
    return not (text[end] == "." and end + 1 < len(text) and TOKEN_CHARS.match(text[end + 1]))


def redact_outcome(
    outcome: Outcome,
    redactor: Redactor,
    known_users: Iterable[str],
    known_emails: Iterable[str],
    known_display_names: Iterable[str] = (),
) -> Outcome:
    """A copy of ``outcome`` that names nobody: findings, summary, advisories and reason.

    Fields that hold users or addresses are pseudonymised whole, and what they
    hold is then also replaced wherever the free text repeats it; any other
    e-mail-shaped string is pseudonymised too.
    """
    replacer = Replacer(redactor)
    for name in known_display_names:
        replacer.add_name(name)
    for user in known_users:
        replacer.add_user(user)
    for address in known_emails:
        replacer.add_email(address)
    verdict = outcome.verdict
    if verdict is not None:
        for finding in [*verdict.findings, *verdict.advisories]:
            _learn(finding.fields, replacer)
        verdict = _redact_verdict(verdict, replacer)
    return replace(outcome, verdict=verdict, reason=replacer(outcome.reason))


def _learn(fields: Mapping[str, Any], replacer: Replacer) -> None:
    """Add the identities a finding's structured fields name, for its text."""
    for name, value in fields.items():
        if name in USER_FIELDS and not _names_groups(fields, name):
            for user in _strings(value):
                replacer.add_user(user)
        elif name in EMAIL_FIELDS:
            for address in _strings(value):
                replacer.add_email(address)
        elif name in NAME_FIELDS:
            for display_name in _strings(value):
                replacer.add_name(display_name)


def _names_groups(fields: Mapping[str, Any], name: str) -> bool:
    """A group-in-group membership's child is a group, not a user."""
    return name.endswith("child_name") and fields.get("membership_type") == "GROUP_GROUP"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [key for key in value if isinstance(key, str)]
    if isinstance(value, list | tuple | set | frozenset):
        return [item for item in value if isinstance(item, str)]
    return []


def _redact_verdict(verdict: Verdict, replacer: Replacer) -> Verdict:
    return replace(
        verdict,
        findings=tuple(_redact_finding(finding, replacer) for finding in verdict.findings),
        advisories=tuple(_redact_finding(finding, replacer) for finding in verdict.advisories),
        summary=replacer(verdict.summary),
        observed=_redact_value(verdict.observed, replacer),
        limit=_redact_value(verdict.limit, replacer),
        properties={key: replacer(value) for key, value in verdict.properties.items()},
    )


def _redact_finding(finding: Finding, replacer: Replacer) -> Finding:
    fields = {
        name: _redact_field(name, value, finding.fields, replacer)
        for name, value in finding.fields.items()
    }
    return Finding(text=replacer(finding.text), fields=fields)


def _redact_field(name: str, value: Any, fields: Mapping[str, Any], replacer: Replacer) -> Any:
    redactor = replacer.redactor
    if name in USER_FIELDS and not _names_groups(fields, name):
        return _map_strings(value, redactor.user, replacer)
    if name in EMAIL_FIELDS:
        return _map_strings(value, redactor.email, replacer)
    if name in NAME_FIELDS:
        return _map_strings(value, redactor.name, replacer)
    return _redact_value(value, replacer)


def _map_strings(value: Any, pseudonym: Any, replacer: Replacer) -> Any:
    """Pseudonymise the strings of a user or e-mail field (its dict keys for a mapping)."""
    if isinstance(value, str):
        return pseudonym(value)
    if isinstance(value, Mapping):
        return {
            pseudonym(key) if isinstance(key, str) else key: _redact_value(item, replacer)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [pseudonym(item) if isinstance(item, str) else item for item in value]
    return value


def _redact_value(value: Any, replacer: Replacer) -> Any:
    """Free text anywhere in a JSON-like value: strings, lists and mappings (keys too)."""
    if isinstance(value, str):
        return replacer(value)
    if isinstance(value, Mapping):
        return {
            _redact_value(key, replacer): _redact_value(item, replacer)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact_value(item, replacer) for item in value]
    return value
