"""``--jira-redact``: pseudonyms for the people named in a readiness report.

A readiness report travels: it is attached to tickets, pasted into chat and
sent to consultants.  Its findings name users by username, display name and
e-mail address, which are personal data, and the server's base URL names the
organisation.  Redaction replaces each of them by a keyed pseudonym
(HMAC-SHA256, truncated), so that:

* the same person gets the same pseudonym in every output of a run and in
  every run made with the same key, so two reports can still be compared;
* nobody without the key can go back from a pseudonym to the person (the
  HMAC cannot be inverted, and without the key it cannot be recomputed for a
  guessed name either);
* the verdicts stay readable: an address keeps its shape (``user-…@domain-….com``),
  the users of one domain stay grouped (local part and domain are hashed
  apart), the base URL's host shows the same organisation domain as its
  users (``https://host-….domain-….com``), and the reason texts ("has no
  top-level domain") are kept.

Identities are replaced where they enter a finding: a rule reads clear values
from the facts store, compares and counts them, and builds each finding's
fields *and* text from what :attr:`Facts.mask <pytest_jiramigrate.facts.Facts.mask>`
returns, which is a :class:`Redactor` under ``--jira-redact``.  Nothing
rewrites a message afterwards, so a username such as ``1``, ``issues`` or the
server's host name never mangles a number, word or URL of the text.

Where clear data stays: the facts store in pytest's cache directory keeps the
backup's usernames and addresses in clear (the rules need them to find
duplicates, reserved prefixes and domain faults); under ``--jira-redact`` it
is created with mode 0600, like the key and every report written.

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
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

from pytest_jiramigrate.core.emails import (
    DEFAULT_DENY_DOMAINS,
    SPECIAL_USE_NAMES,
    public_suffix_list,
)

KEY_ENVIRONMENT = "JIRAMIGRATE_REDACT_KEY"
KEY_FILE = "redact.key"

#: Hex digits kept of each HMAC: 32 bits, so collisions are unlikely below
#: tens of thousands of users, while a pseudonym stays short enough to read.
DIGEST_CHARS = 8


def load_key(cache_dir: Path) -> bytes:
    """The redaction key: ``$JIRAMIGRATE_REDACT_KEY``, else one kept in ``cache_dir``.

    A key generated once per machine and kept in pytest's cache makes the
    pseudonyms of successive runs comparable; the environment variable lets a
    team share one key between machines and CI.

    Processes that start together (xdist workers, parallel CI jobs) must agree
    on one key: each writes a candidate in full to a private file, links it to
    the key's name (an atomic create that fails when the name exists, like
    ``O_EXCL``, but never exposes a half-written key), and then every process
    reads back the key that won.
    """
    configured = os.environ.get(KEY_ENVIRONMENT, "")
    if configured:
        return configured.encode("utf-8")
    path = cache_dir / KEY_FILE
    if not path.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(secrets.token_hex(32).encode("ascii"))
        try:
            os.link(partial, path)
        except FileExistsError:
            pass  # another process created it first: its key is the one
        finally:
            partial.unlink()
    return path.read_bytes()


@dataclass(frozen=True)
class Redactor:
    """Keyed pseudonyms for usernames, display names, e-mail addresses and domains."""

    key: bytes
    redacting: ClassVar[bool] = True

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
        """Hash the labels that name an organisation; keep a public or reserved suffix.

        The organisation's domain (the label in front of the suffix, with it) is
        hashed on its own and the host labels in front of it apart, so that
        ``jira.acmecorp.com`` (the base URL's host) shows the same
        ``domain-….com`` as its users' ``@acmecorp.com``.
        """
        bare = domain.rstrip(".")
        root = domain[len(bare) :]
        suffix = visible_suffix(bare)
        if suffix is not None and len(suffix) == len(bare):
            return domain
        if suffix is not None:
            before, ending, shown_ending = bare[: -len(suffix) - 1], suffix, suffix
        else:
            before, dot, last = bare.rpartition(".")
            if not dot:
                before, last = bare, ""
            ending, shown_ending = last, self.tld(last) if last else ""
        host, _, label = before.rpartition(".")
        organisation = f"{label}.{ending}" if ending else label
        shown = f"domain-{self.digest('domain', organisation)}"
        if shown_ending:
            shown += f".{shown_ending}"
        if host:
            shown = f"host-{self.digest('host', host)}.{shown}"
        return shown + root

    def tld(self, label: str) -> str:
        """An unknown last label, which may be a company's own name (``acme.intranet1``)."""
        return f"tld-{self.digest('tld', label)}"

    def url(self, url: str) -> str:
        """The URL with its host hashed as a domain (``https://domain-….com:8443/jira``):
        the organisation's domain is hashed as in its users' addresses."""
        parts = urlsplit(url.strip())
        host = parts.hostname
        if not host:
            return f"url-{self.digest('url', url)}"
        netloc = self.domain(host) + (f":{parts.port}" if _has_port(parts.netloc) else "")
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _has_port(netloc: str) -> bool:
    """True when the URL names a port (``host:8080``; an IPv6 literal's colons do not count)."""
    return ":" in netloc.rpartition("]")[2].rpartition("@")[2]


def visible_suffix(domain: str) -> str | None:
    """The longest public, special-use or reserved suffix of ``domain``, or None."""
    lowered = domain.lower()
    found = [public_suffix_list().publicsuffix(lowered) or ""]
    for name in [*SPECIAL_USE_NAMES, *DEFAULT_DENY_DOMAINS]:
        if lowered == name or lowered.endswith("." + name):
            found.append(name)
    longest = max(found, key=len)
    return longest or None
