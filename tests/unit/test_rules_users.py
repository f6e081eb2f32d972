"""The user rules, run on small facts stores written directly (no scanner involved)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_jiramigrate import facts as facts_store
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.rules.base import Rule, RuleSettings, Verdict
from pytest_jiramigrate.rules.site import CloudSite
from pytest_jiramigrate.rules.users import (
    JIRA_ANNUAL_TIERS,
    RULES,
    counted_users,
    email_domain,
    email_present,
    email_syntax,
    email_tld,
    email_unique,
    large_migration_notice,
    tier_band,
    user_count_within_plan,
    user_unique_in_directory,
    username_reserved_prefix,
)

INTERNAL = ("1", "JIRA Internal Directory", 1, "INTERNAL", 1)
LDAP = ("2", "Corporate LDAP", 1, "CONNECTOR", 0)
RETIRED = ("3", "Retired LDAP", 0, "CONNECTOR", 2)


@dataclass(frozen=True)
class U:
    """A `user` row to insert: the columns the user rules read."""

    name: str
    email: str | None
    directory_id: str | None = "1"
    active: int | None = 1
    lower_name: str | None = None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    """Build a facts store from directory tuples and `U` rows; closed after the test."""
    opened: list[Facts] = []

    def build(
        users: Sequence[U], directories: Sequence[tuple[Any, ...]] = (INTERNAL, LDAP)
    ) -> Facts:
        db = facts_store.create(tmp_path / f"facts{len(opened)}.sqlite")
        db.executemany("INSERT INTO directory VALUES (?, ?, ?, ?, ?)", directories)
        db.executemany(
            "INSERT INTO user (id, directory_id, user_name, lower_user_name, active, email,"
            " source, line) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    str(10000 + number),
                    user.directory_id,
                    user.name,
                    user.lower_name or user.name.lower(),
                    user.active,
                    user.email,
                    "User" if user.directory_id else "OSUser",
                    100 + number,
                )
                for number, user in enumerate(users)
            ],
        )
        opened.append(Facts(db))
        return opened[-1]

    yield build
    for facts in opened:
        facts.db.close()


def run(rule: Rule, facts: Facts, limits: dict[str, Any] | None = None, **target: Any) -> Verdict:
    """Run a rule the way the plugin does: its defaults, overridden by ``limits``."""
    settings = RuleSettings(
        severity=rule.severity,
        max_findings=0,
        limits={**rule.defaults(), **(limits or {})},
        site=CloudSite(**target),
    )
    return rule.check(facts, settings)


def users_named(verdict: Verdict) -> list[str]:
    return [finding.fields["user"] for finding in verdict.findings]


def test_catalogue_lists_the_public_ids_in_order_with_their_documentation() -> None:
    assert [rule.id for rule in RULES] == [
        "email-present",
        "email-syntax",
        "email-tld",
        "email-domain",
        "email-unique",
        "username-reserved-prefix",
        "user-unique-in-directory",
        "user-count-within-plan",
        "site-import-eligibility",
        "large-migration-notice",
    ]
    for rule in RULES:
        assert rule.group == "users"
        assert rule.needs == ("entities",)
        assert rule.title and rule.why and rule.fix
        assert "cwd_user" in rule.sql
    assert large_migration_notice.severity == "warning"


# -- which users count --------------------------------------------------------


def test_counted_users_shadow_by_directory_position_and_skip_disabled_directories(
    store: Any,
) -> None:
    facts = store(
        [
            U("bob", "bob@internal.com", "1"),
            U("bob", "bob@ldap.com", "2"),
            U("ghost", "ghost@acme.com", "3"),
            U("old", "old@acme.com", "1", active=0),
            U("legacy", "legacy@acme.com", None),
        ],
        directories=(INTERNAL, LDAP, RETIRED),
    )
    counted = {user.user_name: user for user in counted_users(facts)}
    assert sorted(counted) == ["bob", "legacy", "old"]
    # Corporate LDAP has position 0, so its bob shadows the internal one
    assert counted["bob"].email == "bob@ldap.com"
    assert counted["bob"].directory == "Corporate LDAP"
    assert counted["old"].active is False
    assert counted["legacy"].directory is None


# -- email-present -----------------------------------------------------------


def test_email_present_names_users_without_an_address(store: Any) -> None:
    facts = store([U("jdoe", None), U("blank", "  ", "2"), U("ok", "ok@acme.com")])
    verdict = run(email_present, facts)
    assert users_named(verdict) == ["blank", "jdoe"]
    assert (
        verdict.findings[1].text == "jdoe (directory 'JIRA Internal Directory'): no e-mail address"
    )
    assert verdict.findings[0].fields["directory_id"] == "2"
    assert verdict.summary == "2 users have no e-mail address."


def test_email_present_passes_when_everyone_has_one(store: Any) -> None:
    facts = store([U("jdoe", "jdoe@acme.com"), U("old", "old@acme.com", active=0)])
    verdict = run(email_present, facts)
    assert verdict.findings == ()
    assert verdict.summary == "All 2 users have an e-mail address."


def test_email_present_checks_inactive_users_too(store: Any) -> None:
    verdict = run(email_present, store([U("old", None, active=0)]))
    assert users_named(verdict) == ["old"]


# -- email-syntax ------------------------------------------------------------


def test_email_syntax_names_malformed_addresses(store: Any) -> None:
    facts = store([U("ab", "a,b@example.net"), U("anon", "@example.com"), U("ok", "ok@acme.com")])
    verdict = run(email_syntax, facts)
    assert [(f.fields["user"], f.fields["email"]) for f in verdict.findings] == [
        ("ab", "a,b@example.net"),
        ("anon", "@example.com"),
    ]
    assert verdict.findings[0].text == (
        "ab <a,b@example.net> (directory 'JIRA Internal Directory'): The email address"
        " contains invalid characters before the @-sign: ','"
    )
    assert verdict.summary == "2 users have an e-mail address that the RFCs call malformed."
    assert verdict.advisories == ()


def test_email_syntax_warns_of_valid_addresses_the_kb_pattern_refuses(store: Any) -> None:
    facts = store(
        [U("bob", "bob+jira@acme.com"), U("rw", '"rwhite"@acmecorp.com'), U("ok", "ok@acme.com")]
    )
    verdict = run(email_syntax, facts)
    assert verdict.findings == ()
    assert [(a.fields["user"], a.fields["email"]) for a in verdict.advisories] == [
        ("bob", "bob+jira@acme.com"),
        ("rw", '"rwhite"@acmecorp.com'),
    ]
    assert "does not allow '+'" in verdict.advisories[0].text
    assert verdict.summary == (
        "All 3 users have an e-mail address that is well-formed. 2 valid addresses are refused"
        " by the stricter pattern of Atlassian's KB."
    )


def test_email_syntax_passes_well_formed_addresses(store: Any) -> None:
    facts = store([U("jdoe", "John.Doe@Acme.com"), U("x", "x@host.local"), U("none", None)])
    verdict = run(email_syntax, facts)
    assert verdict.findings == ()
    assert verdict.summary == "All 2 users have an e-mail address that is well-formed."


# -- email-tld ---------------------------------------------------------------


def test_email_tld_names_addresses_without_a_top_level_domain(store: Any) -> None:
    facts = store([U("jdoe", "jdoe@acmecorp"), U("jturner", "jturner@localhost", "2")])
    verdict = run(email_tld, facts)
    assert verdict.findings[0].text == (
        "jdoe <jdoe@acmecorp> (directory 'JIRA Internal Directory'):"
        " The domain 'acmecorp' has no top-level domain"
    )
    assert dict(verdict.findings[0].fields) == {
        "user": "jdoe",
        "display_name": None,
        "email": "jdoe@acmecorp",
        "directory": "JIRA Internal Directory",
        "directory_id": "1",
        "line": 100,
        "reason": "The domain 'acmecorp' has no top-level domain",
    }
    assert users_named(verdict) == ["jdoe", "jturner"]
    assert verdict.summary == "2 users have an e-mail address without a top-level domain."


def test_email_tld_passes_real_top_level_domains(store: Any) -> None:
    facts = store([U("jdoe", "jdoe@acme.com"), U("ivan", "ivan@пример.рф")])
    verdict = run(email_tld, facts)
    assert verdict.findings == ()
    assert verdict.summary == "All 2 users have an e-mail address with a top-level domain."


# -- email-domain ------------------------------------------------------------


def test_email_domain_names_special_use_and_denied_domains(store: Any) -> None:
    facts = store(
        [
            U("jturner", "jturner@localhost"),
            U("anon", "@example.com"),
            U("ab", "a,b@example.net"),
            U("ok", "ok@acme.com"),
        ]
    )
    verdict = run(email_domain, facts)
    assert {f.fields["user"]: f.fields["reason"] for f in verdict.findings} == {
        "jturner": "'localhost' is reserved for special use: .localhost (RFC 6761)",
        "anon": "'example.com' is on the deny list (example.com)",
        "ab": "'example.net' is on the deny list (example.net)",
    }
    assert verdict.summary == "3 users have an e-mail address on a domain Cloud does not accept."


def test_email_domain_follows_the_target_allow_and_deny_lists(store: Any) -> None:
    facts = store([U("qa", "qa@example.com"), U("sales", "sales@eu.acme.com")])
    allowed = run(email_domain, facts, allow_domains=("example.com",))
    assert allowed.findings == ()
    assert allowed.summary == "All 2 users have an e-mail address on an accepted domain."
    denied = run(email_domain, facts, deny_domains=("acme.com",))
    assert users_named(denied) == ["sales"]


# -- email-unique ------------------------------------------------------------


def test_email_unique_lists_every_user_of_a_shared_address(store: Any) -> None:
    facts = store(
        [
            U("bob", "bob@acme.com", "1"),
            U("robert", "Bob@Acme.com", "2"),
            U("alice", "alice@acme.com"),
        ]
    )
    verdict = run(email_unique, facts)
    assert [f.text for f in verdict.findings] == [
        "bob@acme.com: bob (JIRA Internal Directory), robert (Corporate LDAP)"
    ]
    assert verdict.findings[0].fields["users"] == ["bob", "robert"]
    assert verdict.findings[0].fields["email"] == "bob@acme.com"
    assert verdict.summary == "1 e-mail address is shared by more than one user (2 users in all)."


def test_email_unique_counts_one_username_in_several_directories_once(store: Any) -> None:
    facts = store([U("bob", "bob@acme.com", "1"), U("bob", "bob@acme.com", "2"), U("none", None)])
    verdict = run(email_unique, facts)
    assert verdict.findings == ()
    assert verdict.summary == "The 1 user has a unique e-mail address."


def test_email_unique_ignores_copies_in_disabled_directories(store: Any) -> None:
    facts = store(
        [U("bob", "bob@acme.com", "1"), U("robert", "bob@acme.com", "3")],
        directories=(INTERNAL, RETIRED),
    )
    assert run(email_unique, facts).findings == ()


# -- username-reserved-prefix ------------------------------------------------


def test_username_reserved_prefix_is_case_insensitive(store: Any) -> None:
    facts = store([U("Addon_Jira", "a@acme.com", active=0), U("my_addon_x", "m@acme.com")])
    verdict = run(username_reserved_prefix, facts)
    assert users_named(verdict) == ["Addon_Jira"]
    assert verdict.findings[0].text == (
        "Addon_Jira <a@acme.com> (directory 'JIRA Internal Directory'):"
        " starts with the reserved prefix addon_"
    )
    assert verdict.summary == "1 username starts with the reserved prefix addon_."


def test_username_reserved_prefix_passes_ordinary_names(store: Any) -> None:
    verdict = run(username_reserved_prefix, store([U("addonuser", "a@acme.com")]))
    assert verdict.findings == ()
    assert verdict.summary == "No username starts with addon_ (1 user checked)."


# -- user-unique-in-directory ------------------------------------------------


def test_user_unique_in_directory_names_both_rows(store: Any) -> None:
    facts = store([U("jdoe", "j@acme.com"), U("JDoe", "jd@acme.com", lower_name="jdoe")])
    verdict = run(user_unique_in_directory, facts)
    assert [f.text for f in verdict.findings] == [
        "jdoe appears 2 times (directory 'JIRA Internal Directory'): jdoe, JDoe"
    ]
    fields = verdict.findings[0].fields
    assert fields["user"] == "jdoe"
    assert fields["users"] == ["jdoe", "JDoe"]
    assert fields["lines"] == [100, 101]
    assert verdict.summary == "1 username appears more than once in the same directory."


def test_user_unique_in_directory_allows_one_name_in_several_directories(store: Any) -> None:
    facts = store([U("jdoe", "j@acme.com", "1"), U("jdoe", "j@acme.com", "2")])
    verdict = run(user_unique_in_directory, facts)
    assert verdict.findings == ()
    assert verdict.summary == "No username appears twice in one directory (2 users checked)."


# -- user-count-within-plan and large-migration-notice ------------------------


def population(active: int, inactive: int = 0) -> list[U]:
    return [U(f"user{n}", f"user{n}@acme.com") for n in range(active)] + [
        U(f"gone{n}", f"gone{n}@acme.com", active=0) for n in range(inactive)
    ]


def test_free_plan_fails_over_its_limit(store: Any) -> None:
    verdict = run(user_count_within_plan, store(population(11)), plan="free")
    assert [f.text for f in verdict.findings] == [
        "The backup has 11 users with product access, counted as all active users, as the"
        " backup names no access groups, more than the Free plan's limit of 10 users"
    ]
    assert (verdict.observed, verdict.limit) == (11, 10)


def test_free_plan_counts_active_users_only(store: Any) -> None:
    verdict = run(user_count_within_plan, store(population(10, inactive=5)), plan="free")
    assert verdict.findings == ()
    assert verdict.summary == (
        "The backup has 10 users with product access, counted as all active users, as the"
        " backup names no access groups, within the Free plan's 10 users."
    )


def test_annual_tier_too_small_names_the_tier_needed(store: Any) -> None:
    facts = store(population(125, inactive=3))
    verdict = run(user_count_within_plan, facts, billing="annual", user_tier=100)
    assert verdict.summary == (
        "125 users with product access need the annual tier for 101-125 users or above,"
        " but the target's tier is 100 users."
    )
    assert verdict.findings[0].fields["needed_tier"] == "101-125"
    assert (verdict.observed, verdict.limit) == (125, 100)


def test_annual_tier_band_follows_the_configured_tiers(store: Any) -> None:
    """Atlassian's guide example: with tiers ...100, 200..., 125 users need 101-200."""
    facts = store(population(125))
    verdict = run(
        user_count_within_plan,
        facts,
        {"annual_tiers": ("10", "100", "200")},  # as the YAML config delivers a list
        plan="premium",
        billing="annual",
        user_tier=100,
    )
    assert verdict.findings[0].fields["needed_tier"] == "101-200"


def test_annual_tier_large_enough_passes(store: Any) -> None:
    verdict = run(user_count_within_plan, store(population(12)), billing="annual", user_tier=25)
    assert verdict.findings == ()
    assert verdict.summary == "12 users with product access fit the annual tier of 25 users."


def test_annual_tier_unset_passes_and_reports_the_tier_needed(store: Any) -> None:
    verdict = run(user_count_within_plan, store(population(1)), billing="annual")
    assert verdict.findings == ()
    assert verdict.summary == (
        "1 user with product access needs the annual tier for 1-10 users or above"
        " (target.user_tier is not set)."
    )
    assert (verdict.observed, verdict.limit) == (1, 10)
    assert verdict.properties == {
        "needed_tier": "1-10",
        "counting": "all active users, as the backup names no access groups",
    }


def test_monthly_billing_has_no_tier_check(store: Any) -> None:
    verdict = run(user_count_within_plan, store(population(30)), billing="monthly", user_tier=10)
    assert verdict.findings == ()
    assert verdict.observed == 30


@pytest.mark.parametrize(
    ("users", "band"),
    [(0, (10, "1-10")), (10, (10, "1-10")), (11, (25, "11-25")), (50000, (50000, "45001-50000"))],
)
def test_tier_band(users: int, band: tuple[int, str]) -> None:
    assert tier_band(JIRA_ANNUAL_TIERS, users) == band


def test_tier_band_above_the_largest_tier() -> None:
    assert tier_band(JIRA_ANNUAL_TIERS, 50001) is None


def test_large_migration_notice_over_the_default_threshold(store: Any) -> None:
    verdict = run(large_migration_notice, store(population(1001)))
    assert [f.text for f in verdict.findings] == [
        "The backup has 1,001 active users, more than 1,000: contact Atlassian support"
        " at least two weeks before the import"
    ]
    assert (verdict.observed, verdict.limit) == (1001, 1000)


def test_large_migration_notice_ignores_inactive_users(store: Any) -> None:
    verdict = run(large_migration_notice, store(population(3, inactive=2)), {"users": 3})
    assert verdict.findings == ()
    assert verdict.summary == (
        "The backup has 3 active users, not more than 3: no advance notice to Atlassian is needed."
    )
