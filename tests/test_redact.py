"""Redaction: no username or address of a synthetic backup survives in a redacted outcome."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pytest_jiramigrate.cache import backup_store
from pytest_jiramigrate.config import load_config
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.report.redact import (
    KEY_ENVIRONMENT,
    Redactor,
    known_identities,
    known_names,
    load_key,
    redact_outcome,
)
from pytest_jiramigrate.rules import archive, content, groups, users
from pytest_jiramigrate.rules.base import Finding, Verdict
from pytest_jiramigrate.rules.outcome import Outcome, evaluate
from pytest_jiramigrate.synth import Manifest, SynthSpec, write_backup

FAULTS = (
    "email-no-tld",
    "email-duplicate",
    "addon-username",
    "admin-groups-both",
    "membership-dangling",
)
RULES = [*archive.RULES, *users.RULES, *groups.RULES, *content.RULES]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Facts, Manifest, list[Outcome]]:
    """A faulty synthetic backup, its facts and the outcome of every backup rule."""
    directory = tmp_path_factory.mktemp("redact")
    manifest = write_backup(directory / "site-backup.zip", SynthSpec(faults=FAULTS))
    store = backup_store(directory / "site-backup.zip", directory, ArchiveLimits(), True)
    facts = Facts.open(store)
    config = load_config(None, RULES)
    outcomes = [evaluate(rule, facts, config.rules[rule.id], "site-backup.zip") for rule in RULES]
    return facts, manifest, outcomes


def outcome_text(outcome: Outcome) -> str:
    """Everything an output can print of an outcome, as one string."""
    verdict = outcome.verdict
    assert verdict is not None, outcome.reason
    findings = [*verdict.findings, *verdict.advisories]
    parts = [outcome.reason, verdict.summary, json.dumps(dict(verdict.properties))]
    parts += [finding.text + json.dumps(dict(finding.fields), default=str) for finding in findings]
    return "\n".join(parts)


def originals(facts: Facts, manifest: Manifest) -> set[str]:
    users_, emails = known_identities(facts)
    listed = {user["username"] for user in manifest.users} | {
        user["email"] for user in manifest.users if user["email"]
    }
    dangling = manifest.fault("membership-dangling")["child_name"]
    return {*users_, *emails, *listed, dangling}


def leaks(text: str, identities: set[str]) -> list[str]:
    """The identities that appear in ``text`` as whole tokens (case-insensitive)."""
    return [
        identity
        for identity in identities
        if re.search(rf"(?<![\w.@+%-]){re.escape(identity)}(?![\w@+%-]|\.\w)", text, re.I)
    ]


def test_no_username_or_address_survives(
    scanned: tuple[Facts, Manifest, list[Outcome]],
) -> None:
    facts, manifest, outcomes = scanned
    identities = originals(facts, manifest)
    users_, emails = known_identities(facts)
    redactor = Redactor(b"test key")
    plain = "\n".join(outcome_text(o) for o in outcomes)
    faulty = [o for o in outcomes if o.findings]
    assert {o.rule.id for o in faulty} >= {
        "email-tld",
        "email-unique",
        "username-reserved-prefix",
        "group-merge-escalation",
        "membership-integrity",
    }
    assert leaks(plain, identities), "the unredacted outcomes must name users, or the test is void"
    for outcome in outcomes:
        redacted = redact_outcome(outcome, redactor, users_, emails, known_names(facts))
        text = outcome_text(redacted)
        assert leaks(text, identities) == [], outcome.rule.id
        assert redacted.findings == outcome.findings
        assert redacted.status == outcome.status


def test_domain_verdicts_survive(scanned: tuple[Facts, Manifest, list[Outcome]]) -> None:
    facts, _manifest, outcomes = scanned
    users_, emails = known_identities(facts)
    email_tld = next(o for o in outcomes if o.rule.id == "email-tld")
    redacted = redact_outcome(email_tld, Redactor(b"k"), users_, emails)
    assert redacted.verdict is not None
    [finding] = redacted.verdict.findings
    assert "has no top-level domain" in finding.text
    assert finding.fields["reason"].endswith("has no top-level domain")
    assert re.fullmatch(r"user-[0-9a-f]{8}", finding.fields["user"])
    assert re.fullmatch(r"user-[0-9a-f]{8}@domain-[0-9a-f]{8}", finding.fields["email"])


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


def test_free_text_replacement_is_whole_token() -> None:
    redactor = Redactor(b"k")
    outcome_rule = users.RULES[0]
    verdict = Verdict(
        findings=[
            Finding(
                "jira (admin) is in jira-administrators; mail jira@acme.com or stranger@other.org.",
                {"members": ["jira", "admin"], "group": "jira-administrators"},
            )
        ],
        summary="admin. Admin",
    )
    config = load_config(None, RULES)
    outcome = Outcome(outcome_rule, "t", config.rules[outcome_rule.id], "failed", verdict)
    redacted = redact_outcome(outcome, redactor, ["admin"], ["jira@acme.com"])
    assert redacted.verdict is not None
    [finding] = redacted.verdict.findings
    jira, admin = redactor.user("jira"), redactor.user("admin")
    assert finding.text == (
        f"{jira} ({admin}) is in jira-administrators; mail {redactor.email('jira@acme.com')}"
        f" or {redactor.email('stranger@other.org')}."
    )
    assert finding.fields == {"members": [jira, admin], "group": "jira-administrators"}
    assert redacted.verdict.summary == f"{admin}. {admin}"


def test_key_from_environment_or_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(KEY_ENVIRONMENT, raising=False)
    first = load_key(tmp_path)
    assert len(first) >= 32
    assert load_key(tmp_path) == first
    assert (tmp_path / "redact.key").stat().st_mode & 0o077 == 0
    assert load_key(tmp_path / "elsewhere") != first
    monkeypatch.setenv(KEY_ENVIRONMENT, "shared team key")
    assert load_key(tmp_path) == b"shared team key"
