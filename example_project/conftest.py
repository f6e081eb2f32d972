"""A site-specific readiness rule, written in Python and added through the plugin's hook.

ACME's contractors have accounts on the server under their own sub-domain.
Their access ends with the migration, so none of their accounts may reach the
Cloud site (they would count against the user tier and keep their access).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pytest_jiramigrate import Finding, Rule, RuleSettings, Threshold, Verdict, rule
from pytest_jiramigrate.facts import Facts


@rule(
    id="no-contractor-accounts",
    title="No user accounts from the contractors' domain",
    why="""
        Contractors lose their Jira access with the migration: an account on their
        domain that reaches Cloud would be billed and could still log in.
    """,
    fix="""
        Deactivate and delete the contractors' accounts on the server (User management,
        filter by e-mail), reassigning their open issues first, then take a new backup.
    """,
    thresholds=[
        Threshold(
            "domain", "contractors.acmecorp.com", "e-mail domain of contractor accounts", "str"
        )
    ],
    sql="""
        select user_name, email_address from cwd_user
        where lower(email_address) like '%@contractors.acmecorp.com';
    """,
)
def no_contractor_accounts(facts: Facts, settings: RuleSettings) -> Verdict:
    domain = settings["domain"].lower()
    rows = facts.query(
        "SELECT user_name, email, active FROM user WHERE lower(email) LIKE '%@' || ? "
        "ORDER BY lower_user_name",
        (domain,),
    )
    mask = facts.mask  # shows identities as pseudonyms under --jira-redact
    findings = []
    for row in rows:
        user, email = mask.user(row["user_name"]), mask.email(row["email"])
        inactive = "" if row["active"] else " (inactive)"
        fields = {"user": user, "email": email, "active": bool(row["active"])}
        findings.append(Finding(f"{user} <{email}>{inactive}", fields))
    if not findings:
        users = facts.scalar("SELECT count(*) FROM user")
        return Verdict(findings, f"None of the {users} users is on {domain}.")
    accounts = "1 user is" if len(findings) == 1 else f"{len(findings)} users are"
    return Verdict(findings, f"{accounts} on the contractors' domain {domain}.")


def pytest_jiramigrate_rules(config: pytest.Config) -> Sequence[Rule]:
    return [no_contractor_accounts]
