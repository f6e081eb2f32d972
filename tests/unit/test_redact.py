"""Redaction: identities are masked where they enter a finding, and nothing else changes.

A rule reads clear values, compares and counts them, and builds every finding
from what ``facts.mask`` returns.  Run every rule twice on the same facts, in
clear and with a Redactor as the mask: the verdicts must be the same, no
identity may survive, and every other token of every text (numbers, words,
URLs) must be exactly as in clear, even when usernames are ``1``, ``8``,
``admin``, ``issues``, ``jira`` or the server's host name.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_jiramigrate.cache import backup_store
from pytest_jiramigrate.config import load_config
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.report.redact import KEY_ENVIRONMENT, Redactor, load_key
from pytest_jiramigrate.rules import after_import, archive, content, groups, users
from pytest_jiramigrate.rules.outcome import Outcome, evaluate
from synth import Manifest, SynthSpec, write_backup

FAULTS = (
    "email-no-tld",
    "email-duplicate",
    "addon-username",
    "admin-groups-both",
    "membership-dangling",
    "duplicate-user-in-directory",
    "former-user",
    "public-project",
)
#: every backup rule that runs without a setting (importer-account's masking is tested with
#: its setting in test_rules_after_import_facts.py)
RULES = [
    *archive.RULES,
    *users.RULES,
    *groups.RULES,
    *content.RULES,
    *(
        rule
        for rule in after_import.RULES
        if rule.id not in ("importer-account", "free-plan-restrictions")
    ),
]
#: usernames that are also numbers, words of the messages, and the base URL's host
TRICKY_NAMES = ("1", "8", "admin", "issues", "jira")
BASE_URL = "http://jira:8080"
#: the synth's header still names its own base URL, which now disagrees
HEADER_URL = SynthSpec().base_url
KEY = b"test key"
#: what separates the tokens of a finding's text (an address or username holds none)
SEPARATORS = re.compile(r"[\s,;:()<>']+")
IDENTITY_FIELDS = {"user": "user", "users": "user", "members": "user", "email": "email"}


@pytest.fixture(scope="module")
def tricky_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    """A faulty synthetic backup's facts, with usernames renamed to the tricky names.

    ``admin`` stays ``admin`` (the synth's administrator); the base URL's host is
    ``jira``, which is also a username.
    """
    directory = tmp_path_factory.mktemp("redact")
    manifest = write_backup(directory / "site-backup.zip", SynthSpec(faults=FAULTS))
    cached = backup_store(directory / "site-backup.zip", directory, ArchiveLimits(), True)
    store = directory / "tricky.sqlite"
    shutil.copyfile(cached, store)
    db = sqlite3.connect(store)
    victims = [
        row[0]
        for row in db.execute(
            "SELECT lower_user_name FROM user WHERE lower_user_name NOT IN ('admin')"
            " AND lower_user_name NOT LIKE 'addon%' ORDER BY id LIMIT 4"
        )
    ]
    for old, new in zip(victims, [name for name in TRICKY_NAMES if name != "admin"], strict=True):
        db.execute(
            "UPDATE user SET user_name = ?, lower_user_name = ? WHERE lower_user_name = ?",
            (new, new, old),
        )
        db.execute(
            "UPDATE membership SET child_name = ?, lower_child_name = ? WHERE lower_child_name = ?",
            (new, new, old),
        )
    db.execute("UPDATE property SET value = ? WHERE key = 'jira.baseurl'", (BASE_URL,))
    db.commit()
    db.close()
    return store, manifest


def outcomes(store: Path, redactor: Redactor | None) -> dict[str, Outcome]:
    facts = Facts(sqlite3.connect(store))
    if redactor is not None:
        facts.mask = redactor
    config = load_config(None, RULES)
    return {
        rule.id: evaluate(rule, facts, config.rules[rule.id], "site-backup.zip") for rule in RULES
    }


@pytest.fixture(scope="module")
def both(tricky_store: tuple[Path, Manifest]) -> tuple[dict[str, Outcome], dict[str, Outcome]]:
    store, _manifest = tricky_store
    return outcomes(store, None), outcomes(store, Redactor(KEY))


def identities(store: Path) -> tuple[set[str], set[str]]:
    db = sqlite3.connect(store)
    names = {row[0] for row in db.execute("SELECT user_name FROM user")}
    names |= {
        row[0]
        for row in db.execute(
            "SELECT child_name FROM membership WHERE membership_type = 'GROUP_USER'"
        )
    }
    names |= {row[0] for row in db.execute("SELECT user_key FROM user_ref")}
    emails = {row[0] for row in db.execute("SELECT email FROM user WHERE email != ''")}
    return names, emails


def findings(outcome: Outcome) -> list:
    verdict = outcome.verdict
    assert verdict is not None, outcome.reason
    return [*verdict.findings, *verdict.advisories]


def test_the_renamed_users_are_named_in_clear_so_the_test_is_not_void(
    both: tuple[dict[str, Outcome], dict[str, Outcome]],
) -> None:
    clear, _ = both
    named = {
        user
        for outcome in clear.values()
        for finding in findings(outcome)
        for user in [finding.fields.get("user"), *finding.fields.get("members", [])]
        if user
    }
    assert {"admin", "jira", "issues"} & named
    assert {"1", "8"} & named
    assert clear["server-base-url"].verdict is not None
    assert BASE_URL in clear["server-base-url"].verdict.summary


def test_redaction_changes_no_verdict_and_no_summary(
    both: tuple[dict[str, Outcome], dict[str, Outcome]],
) -> None:
    clear, redacted = both
    masked_url = Redactor(KEY).url(BASE_URL)
    assert re.fullmatch(r"http://domain-[0-9a-f]{8}:8080", masked_url)
    for rule_id, outcome in clear.items():
        other = redacted[rule_id]
        assert (other.status, other.findings) == (outcome.status, outcome.findings), rule_id
        assert outcome.verdict is not None and other.verdict is not None
        expected = outcome.verdict.summary.replace(BASE_URL, masked_url).replace(
            HEADER_URL, Redactor(KEY).url(HEADER_URL)
        )
        assert other.verdict.summary == expected, rule_id
    guardrails = redacted["site-guardrails"].verdict
    assert guardrails is not None
    assert "18,000,000 issues and 8,400 projects" in guardrails.summary
    assert f"Select {masked_url} in the import's link-mapping step" in str(
        redacted["server-base-url"].verdict
    )


def test_every_finding_token_is_unchanged_or_the_mask_of_an_identity(
    both: tuple[dict[str, Outcome], dict[str, Outcome]], tricky_store: tuple[Path, Manifest]
) -> None:
    clear, redacted = both
    names, emails = identities(tricky_store[0])
    redactor = Redactor(KEY)
    masks = {name: redactor.user(name) for name in names}
    masks.update({email: redactor.email(email) for email in emails})
    masks.update({email.lower(): redactor.email(email) for email in emails})
    domains = {email.rpartition("@")[2] for email in emails}
    masks.update({domain: redactor.domain(domain) for domain in domains if domain})
    checked = 0
    for rule_id, outcome in clear.items():
        if rule_id == "server-base-url":
            continue  # its URL is checked whole above
        for plain, masked in zip(findings(outcome), findings(redacted[rule_id]), strict=True):
            plain_tokens = SEPARATORS.split(plain.text)
            masked_tokens = SEPARATORS.split(masked.text)
            assert len(plain_tokens) == len(masked_tokens), (plain.text, masked.text)
            for before, after in zip(plain_tokens, masked_tokens, strict=True):
                assert after == before or after == masks.get(before), (rule_id, before, after)
                checked += before != after
            for field, kind in IDENTITY_FIELDS.items():
                value = plain.fields.get(field)
                values = value if isinstance(value, list) else [value] if value else []
                shown = masked.fields.get(field)
                shown_values = shown if isinstance(shown, list) else [shown] if shown else []
                mask = redactor.user if kind == "user" else redactor.email
                assert shown_values == [mask(item) for item in values], (rule_id, field)
    assert checked > 10


def test_no_identity_survives_in_any_redacted_text(
    both: tuple[dict[str, Outcome], dict[str, Outcome]], tricky_store: tuple[Path, Manifest]
) -> None:
    _, redacted = both
    names, emails = identities(tricky_store[0])
    words = {name for name in names if not name.isdigit() and name not in TRICKY_NAMES}
    for outcome in redacted.values():
        for finding in findings(outcome):
            text = finding.text + json.dumps(dict(finding.fields), default=str)
            for email in emails:
                assert email.lower() not in text.lower(), (outcome.rule.id, email)
            for name in words:
                assert not re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", text, re.I), (
                    outcome.rule.id,
                    name,
                )


def test_pseudonyms_are_stable_per_key() -> None:
    one, same, other = Redactor(b"one"), Redactor(b"one"), Redactor(b"two")
    assert one.user("Alice") == same.user("alice")
    assert one.user("alice") != other.user("alice")
    assert one.email("bob@acme.com") == same.email("BOB@Acme.com")
    assert one.email("bob@acme.com") != other.email("bob@acme.com")
    local_a, _, domain_a = one.email("a@acme.co.uk").partition("@")
    local_b, _, domain_b = one.email("b@acme.co.uk").partition("@")
    assert domain_a == domain_b and domain_a.endswith(".co.uk") and "acme" not in domain_a
    assert local_a != local_b


def test_a_quoted_local_part_is_masked_with_its_domain() -> None:
    redactor = Redactor(b"k")
    masked = redactor.email('"rwhite"@acmecorp.com')
    assert re.fullmatch(r"user-[0-9a-f]{8}@domain-[0-9a-f]{8}\.com", masked)
    assert masked.partition("@")[2] == redactor.email("jdoe@acmecorp.com").partition("@")[2]


@pytest.mark.parametrize(
    ("url", "shape"),
    [
        (
            "https://jira.acmecorp.com/jira",
            r"https://host-[0-9a-f]{8}\.domain-[0-9a-f]{8}\.com/jira",
        ),
        ("http://jira:8080", r"http://domain-[0-9a-f]{8}:8080"),
        ("https://acmecorp.co.uk:8443/", r"https://domain-[0-9a-f]{8}\.co\.uk:8443/"),
        ("not a url", r"url-[0-9a-f]{8}"),
    ],
)
def test_the_base_url_hides_the_organisation_like_its_addresses(url: str, shape: str) -> None:
    assert re.fullmatch(shape, Redactor(b"k").url(url))


def test_the_base_url_host_shows_the_same_organisation_domain_as_its_users() -> None:
    redactor = Redactor(b"k")
    host = redactor.url("https://jira.acmecorp.com").removeprefix("https://")
    organisation = redactor.email("a@ACMEcorp.com").partition("@")[2]
    assert re.fullmatch(r"domain-[0-9a-f]{8}\.com", organisation)
    assert host.endswith("." + organisation) and host.startswith("host-")
    assert redactor.email("b@mail.acmecorp.com").endswith("." + organisation)
    assert redactor.domain("jira.other.com") != host


@pytest.mark.parametrize(
    ("address", "kept"),
    [
        ("x@mail.corp.local", ".local"),
        ("x@example.com", "@example.com"),
        ("x@acme.com", ".com"),
        ("x@acmecorp", None),
        ("x@acme.intranet1", None),
    ],
)
def test_public_and_reserved_suffixes_stay_visible(address: str, kept: str | None) -> None:
    pseudonym = Redactor(b"k").email(address)
    organisation = address.partition("@")[2].split(".")[0]
    if kept is None:
        assert organisation not in pseudonym
        assert "." not in pseudonym or ".tld-" in pseudonym
    else:
        assert pseudonym.endswith(kept)
        assert kept.startswith("@") or organisation not in pseudonym


def test_key_from_environment_or_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(KEY_ENVIRONMENT, raising=False)
    first = load_key(tmp_path)
    assert len(first) >= 32
    assert load_key(tmp_path) == first
    assert (tmp_path / "redact.key").stat().st_mode & 0o077 == 0
    assert load_key(tmp_path / "elsewhere") != first
    assert {path.name for path in tmp_path.iterdir()} == {"redact.key", "elsewhere"}
    monkeypatch.setenv(KEY_ENVIRONMENT, "shared team key")
    assert load_key(tmp_path) == b"shared team key"


def _key_of(
    directory: str, start: multiprocessing.synchronize.Event, out: multiprocessing.Queue
) -> None:  # type: ignore[type-arg]
    start.wait()
    out.put(load_key(Path(directory)))


@pytest.fixture
def no_key_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(KEY_ENVIRONMENT, raising=False)
    yield


@pytest.mark.usefixtures("no_key_environment")
@pytest.mark.parametrize("trial", range(10))
def test_processes_starting_together_agree_on_one_key(tmp_path: Path, trial: int) -> None:
    context = multiprocessing.get_context("fork")
    start, out = context.Event(), context.Queue()
    workers = [context.Process(target=_key_of, args=(str(tmp_path), start, out)) for _ in range(4)]
    for worker in workers:
        worker.start()
    start.set()
    keys = [out.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert len(set(keys)) == 1
    assert keys[0] == (tmp_path / "redact.key").read_bytes()
    assert [path.name for path in tmp_path.iterdir()] == ["redact.key"]
