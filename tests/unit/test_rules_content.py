"""Content rules against small hand-built facts stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from factstore import Store, run, texts

from pytest_jiramigrate.rules import content


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    built = Store(tmp_path / "facts.sqlite", first_id=20000, summarize=True)
    built.project()
    yield built
    built.db.close()


def test_catalogue_order_ids_and_defaults() -> None:
    assert [r.id for r in content.RULES] == [
        "text-field-length",
        "summary-length",
        "per-issue-limits",
        "site-guardrails",
        "server-base-url",
    ]
    assert {r.group for r in content.RULES} == {"content"}
    assert content.text_field_length.defaults() == {"max_chars": 32767}
    assert content.summary_length.defaults() == {"max_chars": 255}
    assert content.per_issue_limits.defaults() == {
        "max_attachments": 2000,
        "max_comments": 5000,
        "max_worklogs": 5000,
        "max_issue_links": 2000,
        "max_remote_links": 2000,
    }
    assert content.site_guardrails.defaults() == {"max_issues": 18_000_000, "max_projects": 8400}
    assert content.site_guardrails.severity == "warning"
    assert content.server_base_url.severity == "error"


# --- text-field-length -----------------------------------------------------------------


def test_text_fields_over_the_limit_are_named_by_issue_and_field(store: Store) -> None:
    first = store.issue(2, description=40_000)
    second = store.issue(12, description=None)
    store.comment(first, 32_767)  # exactly at the limit: fine
    long_comment = store.comment(second, 32_768)
    long_value = store.custom_text(first, "10010", 50_000)
    long_worklog = store.worklog(second, 33_000)
    orphan = store.comment("99999", 40_001)  # a comment whose issue is not in the backup

    verdict = run(content.text_field_length, store)

    assert texts(verdict) == [
        "ACME-2 description: 40,000 characters",
        f"ACME-2 custom field 10010 (value {long_value}): 50,000 characters",
        f"ACME-12 comment {long_comment}: 32,768 characters",
        f"ACME-12 worklog {long_worklog} comment: 33,000 characters",
        f"issue 99999 comment {orphan}: 40,001 characters",
    ]
    assert verdict.findings[0].fields["entity"] == "Issue"
    assert verdict.findings[2].fields["issue"] == "ACME-12"
    assert (verdict.observed, verdict.limit) == (50_000, 32_767)
    assert verdict.summary == (
        "Jira Cloud cannot store 5 text fields longer than 32,767 characters"
        " (the longest has 50,000)."
    )


def test_text_fields_within_the_limit_pass(store: Store) -> None:
    issue = store.issue(1, description=32_767)
    store.comment(issue, 500)
    store.worklog(issue, 30)

    verdict = run(content.text_field_length, store)

    assert verdict.findings == ()
    assert (verdict.observed, verdict.limit) == (32_767, 32_767)
    assert "32,767" in verdict.summary


def test_text_field_limit_is_configurable(store: Store) -> None:
    issue = store.issue(1, description=1_000)
    comment = store.comment(issue, 600)

    verdict = run(content.text_field_length, store, max_chars=500)

    assert texts(verdict) == [
        "ACME-1 description: 1,000 characters",
        f"ACME-1 comment {comment}: 600 characters",
    ]


# --- summary-length ----------------------------------------------------------------------


def test_long_summaries_are_named(store: Store) -> None:
    store.issue(1, summary=255)
    store.issue(7, summary=300)

    verdict = run(content.summary_length, store)

    assert texts(verdict) == ["ACME-7 summary: 300 characters"]
    assert (verdict.observed, verdict.limit) == (300, 255)
    assert verdict.summary.startswith("Jira Cloud rejects 1 issue whose summary")


def test_summaries_within_the_limit_pass_and_limit_is_configurable(store: Store) -> None:
    store.issue(1, summary=200)

    assert run(content.summary_length, store).findings == ()
    assert texts(run(content.summary_length, store, max_chars=100)) == [
        "ACME-1 summary: 200 characters"
    ]


# --- per-issue-limits --------------------------------------------------------------------


def test_per_issue_limits_name_issue_what_count_and_limit(store: Store) -> None:
    busy = store.issue(3)
    linked = store.issue(4)
    calm = store.issue(5)
    for _ in range(3):
        store.attachment(busy)
        store.comment(busy)
        store.worklog(busy)
    store.attachment(calm)
    store.link(busy, linked)
    store.link(calm, linked)  # ACME-4 has two links: one outward, one inward

    verdict = run(
        content.per_issue_limits,
        store,
        max_attachments=2,
        max_comments=2,
        max_worklogs=3,
        max_issue_links=1,
    )

    assert texts(verdict) == [
        "ACME-3: 3 attachments (limit 2)",
        "ACME-3: 3 comments (limit 2)",
        "ACME-4: 2 issue links (limit 1)",
    ]
    assert verdict.findings[2].fields == {
        "issue": "ACME-4",
        "issue_id": linked,
        "what": "issue links",
        "count": 2,
        "limit": 1,
    }
    assert verdict.properties["most_worklogs_per_issue"] == "3"
    assert verdict.summary.endswith("are exceeded on 2 issues.")


def test_per_issue_limits_pass_with_defaults(store: Store) -> None:
    issue = store.issue(1)
    store.attachment(issue)
    store.comment(issue)

    verdict = run(content.per_issue_limits, store)

    assert verdict.findings == ()
    assert verdict.properties["most_attachments_per_issue"] == "1"
    assert verdict.properties["most_issue_links_per_issue"] == "0"


def test_per_issue_limits_count_remote_links(store: Store) -> None:
    busy, calm = store.issue(6), store.issue(7)
    for _ in range(3):
        store.remote_link(busy)
    store.remote_link(calm)

    verdict = run(content.per_issue_limits, store, max_remote_links=2)

    assert texts(verdict) == ["ACME-6: 3 remote links (limit 2)"]
    assert verdict.findings[0].fields["what"] == "remote links"
    assert verdict.summary.endswith("are exceeded on 1 issue.")
    assert run(content.per_issue_limits, store, max_remote_links=3).findings == ()


# --- site-guardrails ---------------------------------------------------------------------


def test_site_guardrails_pass_with_defaults(store: Store) -> None:
    store.issue(1)

    verdict = run(content.site_guardrails, store)

    assert verdict.findings == ()
    assert verdict.summary.startswith("The site has 1 issue in 1 project, within")


def test_site_guardrails_report_each_exceeded_count(store: Store) -> None:
    for number in (1, 2, 3):
        store.issue(number)

    verdict = run(content.site_guardrails, store, max_issues=2, max_projects=1)

    assert texts(verdict) == ["3 issues (guardrail 2)"]
    assert verdict.observed == "3 issues, 1 project"
    assert "beyond" in verdict.summary


# --- server-base-url ---------------------------------------------------------------------


def with_base_urls(store: Store, stored: str | None, header: str | None) -> Store:
    if stored is not None:
        store.db.execute("INSERT INTO property VALUES ('jira.baseurl', ?)", (stored,))
    if header is not None:
        store.db.execute("INSERT INTO meta VALUES ('base_url', ?)", (header,))
    return store


def test_base_url_passes_when_both_agree_and_records_them(store: Store) -> None:
    with_base_urls(store, "https://jira.acme.com/jira", "HTTPS://Jira.Acme.com/jira/")

    verdict = run(content.server_base_url, store)

    assert verdict.findings == ()
    assert verdict.properties == {
        "jira_baseurl": "https://jira.acme.com/jira",
        "header_base_url": "HTTPS://Jira.Acme.com/jira/",
    }
    assert verdict.summary.startswith("Select https://jira.acme.com/jira in the import's")


def test_base_url_header_that_disagrees_is_a_warning_naming_both(store: Store) -> None:
    with_base_urls(store, "https://jira.acme.com", "https://jira.acme.com/JIRA")

    verdict = run(content.server_base_url, store)

    assert verdict.findings == ()
    assert [advisory.text for advisory in verdict.advisories] == [
        "the jira.baseurl property is https://jira.acme.com but the entities.xml header says"
        " https://jira.acme.com/JIRA"
    ]
    assert verdict.summary.startswith("Select https://jira.acme.com in the import's")
    assert set(verdict.properties) == {"jira_baseurl", "header_base_url"}


def test_base_url_passes_from_the_property_when_the_header_has_none(store: Store) -> None:
    with_base_urls(store, "https://jira.acme.com", None)

    verdict = run(content.server_base_url, store)

    assert verdict.findings == ()
    assert verdict.advisories == ()
    assert "header has no Base URL line; the property is what counts" in verdict.summary


@pytest.mark.parametrize(("stored", "header"), [(None, "https://jira.acme.com"), (" ", "")])
def test_base_url_fails_without_the_property(
    store: Store, stored: str | None, header: str | None
) -> None:
    with_base_urls(store, stored, header)

    verdict = run(content.server_base_url, store)

    assert texts(verdict) == ["the jira.baseurl property is not set"]
    assert "jira.baseurl" in verdict.summary


def test_normalized_url_ignores_case_of_scheme_and_host_and_trailing_slash() -> None:
    assert content.normalized_url("HTTP://Jira.Example.COM:8080/Path/") == (
        "http://jira.example.com:8080/Path"
    )
    assert content.normalized_url("https://jira.acme.com/") == "https://jira.acme.com"
