"""One facts-store builder for the rule tests: rows added one call at a time.

A rule test builds the few rows its case needs (users, groups, memberships,
permissions, a project's issues and their children) rather than a whole
synthetic backup, and checks the rule on them with :func:`run`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from pytest_jiramigrate import facts as facts_store
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.rules.base import Rule, RuleSettings, Verdict
from pytest_jiramigrate.rules.site import CloudSite


class Store:
    """A facts store filled row by row, with Jira-like ids handed out in order.

    ``summarize``: derive the per-issue counts and e-mail verdicts each time the
    facts are read, as the scan does once it has read the rows.
    """

    def __init__(self, path: Path, *, first_id: int = 10000, summarize: bool = False) -> None:
        self.db: sqlite3.Connection = facts_store.create(path)
        self.next_id = first_id
        self.summarize = summarize

    def _id(self) -> str:
        self.next_id += 1
        return str(self.next_id)

    # users, groups, permissions

    def user(self, name: str, directory: str = "1") -> str:
        user_id = self._id()
        self.db.execute(
            "INSERT INTO user (id, directory_id, user_name, lower_user_name, active, email)"
            " VALUES (?, ?, ?, ?, 1, ?)",
            (user_id, directory, name, name.lower(), f"{name.lower()}@acme.com"),
        )
        return user_id

    def group(self, name: str, directory: str = "1") -> str:
        group_id = self._id()
        self.db.execute(
            "INSERT INTO grp (id, name, lower_name, directory_id, active, type)"
            " VALUES (?, ?, ?, ?, 1, 'GROUP')",
            (group_id, name, name.lower(), directory),
        )
        return group_id

    def membership(
        self,
        parent_id: str,
        parent_name: str,
        child_id: str,
        child_name: str,
        kind: str = "GROUP_USER",
        directory: str = "1",
    ) -> str:
        membership_id = self._id()
        self.db.execute(
            "INSERT INTO membership VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                membership_id,
                parent_id,
                child_id,
                kind,
                parent_name,
                parent_name.lower(),
                child_name,
                child_name.lower(),
                directory,
                int(membership_id) - 9000,
            ),
        )
        return membership_id

    def add(self, group: str, *users: str) -> None:
        """Create a group holding new users (or reuse existing rows with the same names)."""
        group_id = self._existing("grp", "lower_name", group) or self.group(group)
        for name in users:
            user_id = self._existing("user", "lower_user_name", name) or self.user(name)
            self.membership(group_id, group, user_id, name)

    def nest(self, parent: str, child: str) -> None:
        parent_id = self._existing("grp", "lower_name", parent) or self.group(parent)
        child_id = self._existing("grp", "lower_name", child) or self.group(child)
        self.membership(parent_id, parent, child_id, child, kind="GROUP_GROUP")

    def permission(self, group: str, permission: str) -> None:
        self.db.execute(
            "INSERT INTO global_permission VALUES (?, ?, ?)", (self._id(), permission, group)
        )

    def _existing(self, table: str, column: str, name: str) -> str | None:
        row = self.db.execute(
            f"SELECT id FROM {table} WHERE {column} = ?", (name.lower(),)
        ).fetchone()
        return None if row is None else str(row[0])

    # a project's issues and their children

    def project(self, key: str = "ACME", name: str = "Acme", project_id: str = "10000") -> None:
        self.db.execute(
            "INSERT INTO project VALUES (?, ?, ?, ?, 'bob', '')", (project_id, name, key, key)
        )

    def issue(self, number: int, summary: int = 20, description: int | None = 100) -> str:
        issue_id = str(10000 + number)
        self.db.execute(
            "INSERT INTO issue VALUES (?, ?, ?, '10000', ?, ?, ?)",
            (issue_id, f"ACME-{number}", number, summary, description, number),
        )
        return issue_id

    def comment(self, issue_id: str, length: int = 10) -> str:
        comment_id = self._id()
        self.db.execute("INSERT INTO comment VALUES (?, ?, ?, 1)", (comment_id, issue_id, length))
        return comment_id

    def worklog(self, issue_id: str, length: int = 10) -> str:
        worklog_id = self._id()
        self.db.execute("INSERT INTO worklog VALUES (?, ?, ?, 1)", (worklog_id, issue_id, length))
        return worklog_id

    def custom_text(self, issue_id: str, field: str, length: int) -> str:
        value_id = self._id()
        self.db.execute(
            "INSERT INTO custom_text VALUES (?, ?, ?, ?, 1)", (value_id, issue_id, field, length)
        )
        return value_id

    def attachment(self, issue_id: str) -> None:
        self.db.execute(
            "INSERT INTO attachment VALUES (?, ?, 'a.txt', 10, 'text/plain')",
            (self._id(), issue_id),
        )

    def link(self, source: str, destination: str) -> None:
        self.db.execute(
            "INSERT INTO issue_link VALUES (?, ?, ?, 'Relates')", (self._id(), source, destination)
        )

    def remote_link(self, issue_id: str) -> None:
        self.db.execute("INSERT INTO remote_link VALUES (?, ?)", (self._id(), issue_id))

    def facts(self) -> Facts:
        if self.summarize:
            facts_store.summarize(self.db)
        return Facts(self.db)


def run(rule: Rule, store: Store, site: CloudSite | None = None, **limits: Any) -> Verdict:
    """Check ``rule`` on ``store`` with its defaults, ``limits`` overriding them."""
    settings = RuleSettings(
        severity=rule.severity,
        max_findings=0,
        limits={**rule.defaults(), **limits},
        site=site or CloudSite(),
    )
    return rule.check(store.facts(), settings)


def texts(verdict: Verdict) -> list[str]:
    return [finding.text for finding in verdict.findings]
