"""The offline e-mail validators behind the email-syntax, email-tld and email-domain rules."""

from __future__ import annotations

import socket

import pytest

from pytest_jiramigrate.core import emails
from pytest_jiramigrate.core.emails import (
    domain_problem,
    pattern_advisory,
    syntax_problem,
    tld_problem,
)

PATTERN = emails.ATLASSIAN_PATTERN


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("jdoe@acme.com", None),
        ("John.Doe@Example.COM", None),
        ("first.last-x_y%z@mail.acme.co.uk", None),
        ("jdoe@xn--bcher-kva.de", None),
        # special-use names are email-domain's fault, not a syntax fault
        ("x@host.local", None),
        ("a" * 64 + "@acme.com", None),
        ("a" * 65 + "@acme.com", "The local part is 65 characters (limit 64)"),
        ("", "The address is empty"),
        ("   ", "The address is empty"),
        ("jdoe", "An email address must have an @-sign"),
        ("@example.com", "There must be something before the @-sign"),
        ("a,b@example.net", "The email address contains invalid characters before the @-sign: ','"),
        ("a..b@acme.com", "An email address cannot have two periods in a row"),
        ("jdoe@acme.com.", "An email address cannot end with a period"),
        (
            "jdoe @acme.com",
            "The email address contains invalid characters before the @-sign: SPACE",
        ),
        (
            '"r white"x@acme.com',
            "Extra character(s) found after close quote: 'x'",
        ),
    ],
)
def test_syntax_problem(address: str, reason: str | None) -> None:
    assert syntax_problem(address) == reason


@pytest.mark.parametrize(
    ("address", "advisory"),
    [
        ("bob+jira@acme.com", f"Atlassian's pattern {PATTERN} does not allow '+'"),
        ("o'brien@acme.com", f"Atlassian's pattern {PATTERN} does not allow \"'\""),
        ('"rwhite"@acmecorp.com', f"Atlassian's pattern {PATTERN} does not allow '\"'"),
        ("jdoe@bücher.de", f"Atlassian's pattern {PATTERN} does not allow 'ü'"),
        ("jürgen@acme.com", f"Atlassian's pattern {PATTERN} does not allow 'ü'"),
        (
            "john_doe@company",
            f"Atlassian's pattern {PATTERN} requires a domain ending in '.' and letters",
        ),
        (
            "jturner@localhost",
            f"Atlassian's pattern {PATTERN} requires a domain ending in '.' and letters",
        ),
    ],
)
def test_valid_addresses_the_kb_pattern_refuses_are_advisories(address: str, advisory: str) -> None:
    assert syntax_problem(address) is None
    assert pattern_advisory(address) == advisory


@pytest.mark.parametrize("address", ["jdoe@acme.com", "a,b@example.net", "a..b@acme.com", ""])
def test_no_advisory_for_what_the_pattern_accepts_or_the_rfcs_refuse(address: str) -> None:
    assert pattern_advisory(address) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("jdoe@acme.com", None),
        ("JDOE@ACME.COM", None),
        ("jdoe@acme.co.uk", None),
        ("jdoe@пример.рф", None),
        ("jdoe@xn--e1afmkfd.xn--p1ai", None),
        ("jdoe@example.com", None),
        ("john_doe@company", "The domain 'company' has no top-level domain"),
        ("jturner@localhost", "The domain 'localhost' has no top-level domain"),
        ("a@b.c.d", "'.d' is not a top-level domain"),
        ("x@host.local", "'.local' is not a top-level domain"),
        ("jdoe@acme.corp", "'.corp' is not a top-level domain"),
        ("jdoe@acme.com.", "The domain 'acme.com.' ends with a dot instead of a top-level domain"),
        ("jdoe", "The address has no domain part"),
        ("jdoe@", "The address has no domain part"),
    ],
)
def test_tld_problem(address: str, reason: str | None) -> None:
    assert tld_problem(address) == reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("jdoe@acme.com", None),
        ("jdoe@Mail.Acme.COM", None),
        ("jdoe@пример.рф", None),
        ("jdoe@notexample.com", None),
        (
            "x@host.local",
            "'host.local' is reserved for special use: .local (RFC 6762 (multicast DNS))",
        ),
        ("jturner@localhost", "'localhost' is reserved for special use: .localhost (RFC 6761)"),
        ("qa@build.test", "'build.test' is reserved for special use: .test (RFC 6761)"),
        ("a@nowhere.invalid", "'nowhere.invalid' is reserved for special use: .invalid (RFC 6761)"),
        ("a@mail.home.arpa", "'mail.home.arpa' is reserved for special use: .home.arpa (RFC 8375)"),
        (
            "a@acme.lan",
            "'acme.lan' is reserved for special use: .lan (RFC 6762 appendix G (private use))",
        ),
        ("a@example.com", "'example.com' is on the deny list (example.com)"),
        ("a,b@example.net", "'example.net' is on the deny list (example.net)"),
        ("@example.com", "'example.com' is on the deny list (example.com)"),
        ("a@mail.Example.ORG", "'mail.example.org' is on the deny list (example.org)"),
        ("a@co.uk", "The registrable domain of 'co.uk' cannot be determined"),
        ("a@b.c.d", "The registrable domain of 'b.c.d' cannot be determined"),
        ("john_doe@company", "The registrable domain of 'company' cannot be determined"),
        ("jdoe", "The address has no domain part"),
    ],
)
def test_domain_problem_with_default_lists(address: str, reason: str | None) -> None:
    assert domain_problem(address) == reason


def test_deny_list_matches_the_domain_and_its_subdomains_only() -> None:
    deny = ("Acme.com",)
    assert domain_problem("a@acme.com", (), deny) == "'acme.com' is on the deny list (acme.com)"
    assert domain_problem("a@sales.acme.com.", (), deny) == (
        "'sales.acme.com' is on the deny list (acme.com)"
    )
    assert domain_problem("a@notacme.com", (), deny) is None
    assert domain_problem("a@example.com", (), deny) is None


@pytest.mark.parametrize("address", ["a@example.com", "x@host.local", "a@co.uk", "a@mail.b.c.d"])
def test_allow_list_wins_over_every_other_reason(address: str) -> None:
    allow = ("example.com", "host.local", "co.uk", "b.c.d")
    assert domain_problem(address, allow, ("example.com",)) is None


def test_validators_never_touch_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    emails.public_suffix_list.cache_clear()
    assert syntax_problem("fresh@network-free.example.net") is None
    assert tld_problem("fresh@network-free.de") is None
    assert domain_problem("fresh@network-free.fr", (), ()) is None


def test_public_suffix_list_is_built_once() -> None:
    assert emails.public_suffix_list() is emails.public_suffix_list()
