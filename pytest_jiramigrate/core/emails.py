"""Offline e-mail address checks for the user rules.

Jira Cloud's site import stops at "Importing users and groups" when an
address is one its identity platform refuses.  Atlassian names three kinds of
fault (guide "Use Jira Site Import to migrate from server to cloud", section
"If there are errors with usernames or emails"): the address must end in a
top-level domain, must use a valid domain, and must be unique.  Atlassian's
KB "Resolve invalid email addresses when migrating to the Cloud" adds a
syntax check, with a PostgreSQL pattern stricter than its own MySQL and
Oracle queries (which accept ``+``, apostrophes and more): an address the
RFCs call malformed is a fault (:func:`syntax_problem`), one the RFCs allow
but that pattern refuses is an advisory (:func:`pattern_advisory`).

Each validator returns a short reason, or None when the address passes, and
never touches the network: ``email-validator`` runs with deliverability
checks off, and ``publicsuffixlist`` reads the list it ships with.  Thousands
of users share a handful of domains, so the per-domain verdicts are cached.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from functools import cache, lru_cache

import email_validator
from publicsuffixlist import PublicSuffixList

#: RFC 2606 reserved names; Atlassian's import is known to fail on @example.com.
DEFAULT_DENY_DOMAINS: tuple[str, ...] = ("example.com", "example.net", "example.org")


#: How a reason shows the domain it is about: as it is, or masked (``--jira-redact``).
Show = Callable[[str], str]


def as_is(value: str) -> str:
    return value


#: RFC 5321 section 4.5.3.1.1: a local part holds at most 64 octets.
LOCAL_PART_LIMIT = 64

#: The PostgreSQL pattern of Atlassian's KB "Resolve invalid email addresses when
#: migrating to the Cloud"; the same KB's MySQL and Oracle queries are looser.
ATLASSIAN_PATTERN = r"^[A-Za-z0-9._%-]+@[A-Za-z0-9.-]+[.][A-Za-z]+$"
_ATLASSIAN_RE = re.compile(ATLASSIAN_PATTERN)

#: Names reserved for special or private use: no mailbox under them can be
#: reached from the Internet, so Cloud cannot use them as an account's e-mail.
#: A name also covers its subdomains (``x@mail.corp.local``).
SPECIAL_USE_NAMES: dict[str, str] = {
    "localhost": "RFC 6761",
    "invalid": "RFC 6761",
    "test": "RFC 6761",
    "example": "RFC 6761",
    "local": "RFC 6762 (multicast DNS)",
    "intranet": "RFC 6762 appendix G (private use)",
    "internal": "RFC 6762 appendix G; ICANN reserved it for private use in 2024",
    "private": "RFC 6762 appendix G (private use)",
    "corp": "RFC 6762 appendix G (private use)",
    "home": "RFC 6762 appendix G (private use)",
    "lan": "RFC 6762 appendix G (private use)",
    "onion": "RFC 7686",
    "alt": "RFC 9476",
    "home.arpa": "RFC 8375",
    "arpa": "RFC 3172 (infrastructure only)",
}


@cache
def public_suffix_list() -> PublicSuffixList:
    """The ICANN section of the public suffix list bundled with the package.

    Built once per process (parsing takes tens of milliseconds); unknown TLDs
    are not accepted, so ``.d`` or ``.corp`` is not mistaken for a real one.
    """
    return PublicSuffixList(accept_unknown=False, only_icann=True)


def _domain_part(address: str) -> str:
    """What follows the last ``@``, or ``""`` when there is no ``@`` at all."""
    _, at, domain = address.rpartition("@")
    return domain if at else ""


def _neutralize_special_use_tld(address: str) -> str:
    """Hide a special-use last label from email-validator's syntax check.

    email-validator 2.x always rejects its ``SPECIAL_USE_DOMAIN_NAMES`` and
    has no switch for it, but such names are a *domain* fault, reported by
    :func:`domain_problem`.  The special-use test is the only one that depends
    on which letters a label holds, so swapping the label for an equally long
    ``xxx`` leaves every other syntax verdict unchanged.
    """
    head, at, domain = address.rpartition("@")
    labels, dot, last = domain.rpartition(".")
    if last.lower() not in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        return address
    return f"{head}{at}{labels}{dot}{'x' * len(last)}"


def syntax_problem(address: str) -> str | None:
    """Why ``address`` is malformed by the RFCs (5321, 5322, 6531), or None when it is not."""
    if not address.strip():
        return "The address is empty"
    local_part = address.rpartition("@")[0]
    if len(local_part) > LOCAL_PART_LIMIT:
        return f"The local part is {len(local_part)} characters (limit {LOCAL_PART_LIMIT})"
    return _validator_problem(address)


def pattern_advisory(address: str) -> str | None:
    """Why the KB's PostgreSQL pattern refuses an address the RFCs allow, or None.

    Valid addresses it refuses (``bob+jira@``, ``o'brien@``, a quoted local
    part, non-ASCII letters) are worth a look, not a failure: the same KB's
    MySQL and Oracle queries accept them.
    """
    if _ATLASSIAN_RE.match(address) or syntax_problem(address) is not None:
        return None
    return _atlassian_mismatch(address)


#: a domain email_validator accepts, to check a local part on its own
_SHORT_DOMAIN = "x.io"
#: RFC 5321's limit on a whole address, which email_validator enforces
_ADDRESS_LIMIT = 254


def _validator_problem(address: str) -> str | None:
    """email_validator's verdict on ``address``.

    Thousands of addresses share a handful of domains, and checking a domain
    (IDNA, label rules) is most of the cost: the two halves are checked
    apart, the domain once per domain.
    """
    local_part, at, domain = address.rpartition("@")
    if not at or len(address) > _ADDRESS_LIMIT:
        return _validate(address)
    return _validate(f"{local_part}@{_SHORT_DOMAIN}") or _domain_syntax_problem(domain)


@functools.lru_cache(maxsize=4096)
def _domain_syntax_problem(domain: str) -> str | None:
    return _validate(f"x@{domain}")


def _validate(address: str) -> str | None:
    try:
        # No DNS: deliverability is not checked and dotless domains are left to
        # tld_problem, so the verdict is about syntax only.
        email_validator.validate_email(
            _neutralize_special_use_tld(address),
            check_deliverability=False,
            globally_deliverable=False,
            allow_quoted_local=True,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except email_validator.EmailNotValidError as error:
        return str(error).removesuffix(".")
    return None


def _atlassian_mismatch(address: str) -> str:
    """Say which characters Atlassian's pattern refuses, the part an administrator must change."""
    local_part, _, domain = address.rpartition("@")
    refused = sorted(set(re.sub(r"[A-Za-z0-9._%-]", "", local_part)))
    refused += sorted(set(re.sub(r"[A-Za-z0-9.-]", "", domain)) - set(refused))
    if refused:
        listed = ", ".join(repr(char) for char in refused)
        return f"Atlassian's pattern {ATLASSIAN_PATTERN} does not allow {listed}"
    return f"Atlassian's pattern {ATLASSIAN_PATTERN} requires a domain ending in '.' and letters"


def tld_problem(address: str, show: Show = as_is) -> str | None:
    """Why ``address`` does not end in an ICANN top-level domain, or None when it does."""
    return _tld_reason(_domain_part(address), show)


@lru_cache(maxsize=4096)
def _tld_reason(domain: str, show: Show) -> str | None:
    if not domain:
        return "The address has no domain part"
    if "." not in domain:
        return f"The domain '{show(domain)}' has no top-level domain"
    last = domain.rpartition(".")[2]
    if not last:
        return f"The domain '{show(domain)}' ends with a dot instead of a top-level domain"
    if not public_suffix_list().is_public(last):
        return f"'.{show(domain).rpartition('.')[2]}' is not a top-level domain"
    return None


def domain_problem(
    address: str,
    allow: Sequence[str] = (),
    deny: Sequence[str] = DEFAULT_DENY_DOMAINS,
    show: Show = as_is,
) -> str | None:
    """Why Cloud would not accept the domain of ``address``, or None.

    A domain on ``allow`` (or under one) always passes.  Otherwise it fails
    when it is a special-use name (:data:`SPECIAL_USE_NAMES`), is on ``deny``
    or under a denied domain (default ``example.com/.net/.org``: Atlassian's
    import is known to fail on them), or when its registrable part cannot be
    determined from the public suffix list (an unknown TLD, or a bare public
    suffix such as ``co.uk``).
    """
    return _domain_reason(
        _normalize_domain(_domain_part(address)),
        tuple(_normalize_domain(name) for name in allow),
        tuple(_normalize_domain(name) for name in deny),
        show,
    )


def _normalize_domain(domain: str) -> str:
    """Lower-case and drop the DNS root dot, so ``Acme.COM.`` compares as ``acme.com``."""
    return domain.strip().lower().removesuffix(".")


def _within(domain: str, name: str) -> bool:
    return domain == name or domain.endswith("." + name)


@lru_cache(maxsize=4096)
def _domain_reason(
    domain: str, allow: tuple[str, ...], deny: tuple[str, ...], show: Show
) -> str | None:
    if any(_within(domain, name) for name in allow):
        return None
    if not domain:
        return "The address has no domain part"
    shown = show(domain)
    special = _special_use_name(domain)
    if special is not None:
        return f"'{shown}' is reserved for special use: .{special} ({SPECIAL_USE_NAMES[special]})"
    denied = next((name for name in deny if _within(domain, name)), None)
    if denied is not None:
        return f"'{shown}' is on the deny list ({show(denied)})"
    if public_suffix_list().privatesuffix(domain) is None:
        return f"The registrable domain of '{shown}' cannot be determined"
    return None


def _special_use_name(domain: str) -> str | None:
    """The most specific special-use name ``domain`` equals or lies under."""
    labels = domain.split(".")
    for start in range(len(labels)):
        suffix = ".".join(labels[start:])
        if suffix in SPECIAL_USE_NAMES:
            return suffix
    return None
