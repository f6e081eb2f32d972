"""Content rules: text lengths, per-issue and site-wide data limits, and the server's base URL.

Jira Cloud enforces limits that Server and Data Center do not (Atlassian's
data limits and JRACLOUD-68949); the import rejects or truncates what
exceeds them.  Every offender is named by its issue key, so that the
administrator can find it in the server UI or with the rule's SQL.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import urlsplit, urlunsplit

from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.rules.base import (
    Finding,
    Rule,
    RuleSettings,
    Threshold,
    Verdict,
    passed,
    plural,
    rule,
)

#: Cloud's limit for multi-line text (JRACLOUD-68949)
TEXT_LIMIT = 32_767


def issue_label(row: sqlite3.Row) -> str:
    """The issue key, or ``issue <id>`` for a row whose issue is not in the backup."""
    return row["key"] or f"issue {row['issue_id']}"


#: Long text per field, joined to its issue; ``kind`` orders description, comment,
#: custom field, worklog within one issue; rows of issues missing from the backup come last.
_LONG_TEXT = """
SELECT t.*, i.key FROM (
    SELECT 1 AS kind, 'Issue' AS entity, id, id AS issue_id, NULL AS custom_field,
           description_len AS length, line FROM issue WHERE description_len > :max
    UNION ALL
    SELECT 2, 'Action', id, issue_id, NULL, body_len, line FROM comment WHERE body_len > :max
    UNION ALL
    SELECT 3, 'CustomFieldValue', id, issue_id, custom_field, text_len, line
           FROM custom_text WHERE text_len > :max
    UNION ALL
    SELECT 4, 'Worklog', id, issue_id, NULL, comment_len, line
           FROM worklog WHERE comment_len > :max
) AS t LEFT JOIN issue AS i ON i.id = t.issue_id
ORDER BY i.id IS NULL, i.project_id, i.number, t.issue_id, t.kind,
         CAST(t.id AS INTEGER), t.id
"""

_LONGEST_TEXT = """
SELECT max(coalesce((SELECT max(description_len) FROM issue), 0),
           coalesce((SELECT max(body_len) FROM comment), 0),
           coalesce((SELECT max(text_len) FROM custom_text), 0),
           coalesce((SELECT max(comment_len) FROM worklog), 0))
"""


def _text_field(row: sqlite3.Row) -> str:
    """Which text of the issue is meant: ``description``, ``comment 10200``, ..."""
    kind, row_id = row["kind"], row["id"]
    if kind == 1:
        return "description"
    if kind == 2:
        return f"comment {row_id}"
    if kind == 3:
        return f"custom field {row['custom_field']} (value {row_id})"
    return f"worklog {row_id} comment"


@rule(
    id="text-field-length",
    title="Descriptions, comments, text custom fields and worklog comments fit Cloud's limit",
    why="""
        Jira Cloud stores at most 32,767 characters in a multi-line text field: an issue
        description, a comment, a text custom field value or a worklog comment. Longer text
        is rejected or cut off by the import. (Atlassian, JRACLOUD-68949.)
    """,
    fix="""
        On the server, shorten each listed text: move logs and dumps into an attachment and
        keep a summary in the field, or split a long comment into several. Then take a new
        backup.
    """,
    thresholds=[
        Threshold("max_chars", TEXT_LIMIT, "the most characters Cloud keeps in one text field")
    ],
    sql="""
        -- PostgreSQL; use char_length on MySQL, LEN on SQL Server, dbms_lob.getlength on Oracle
        SELECT p.pkey || '-' || i.issuenum AS issue, 'description' AS field,
               length(i.description) AS chars
        FROM jiraissue i JOIN project p ON p.id = i.project
        WHERE length(i.description) > 32767
        UNION ALL
        SELECT p.pkey || '-' || i.issuenum, 'comment ' || a.id, length(a.actionbody)
        FROM jiraaction a JOIN jiraissue i ON i.id = a.issueid JOIN project p ON p.id = i.project
        WHERE a.actiontype = 'comment' AND length(a.actionbody) > 32767
        UNION ALL
        SELECT p.pkey || '-' || i.issuenum, 'custom field ' || v.customfield, length(v.textvalue)
        FROM customfieldvalue v JOIN jiraissue i ON i.id = v.issue
        JOIN project p ON p.id = i.project
        WHERE length(v.textvalue) > 32767
        UNION ALL
        SELECT p.pkey || '-' || i.issuenum, 'worklog ' || w.id, length(w.worklogbody)
        FROM worklog w JOIN jiraissue i ON i.id = w.issueid JOIN project p ON p.id = i.project
        WHERE length(w.worklogbody) > 32767;
    """,
    group="content",
)
def text_field_length(facts: Facts, settings: RuleSettings) -> Verdict:
    limit = settings["max_chars"]
    findings = []
    for row in facts.query(_LONG_TEXT, {"max": limit}):
        field = _text_field(row)
        findings.append(
            Finding(
                text=f"{issue_label(row)} {field}: {plural(row['length'], 'character')}",
                fields={
                    "issue": row["key"],
                    "issue_id": row["issue_id"],
                    "field": field,
                    "entity": row["entity"],
                    "id": row["id"],
                    "custom_field": row["custom_field"],
                    "characters": row["length"],
                    "line": row["line"],
                },
            )
        )
    longest = facts.scalar(_LONGEST_TEXT) or 0
    if not findings:
        return passed(
            f"Every text field fits {plural(limit, 'character')} (the longest has {longest:,}).",
            observed=longest,
            limit=limit,
        )
    return Verdict(
        findings=findings,
        summary=(
            f"Jira Cloud cannot store {plural(len(findings), 'text field')} longer than"
            f" {plural(limit, 'character')} (the longest has {longest:,})."
        ),
        observed=longest,
        limit=limit,
    )


@rule(
    id="summary-length",
    title="Issue summaries fit Cloud's 255 characters",
    why="""
        Jira Cloud limits an issue summary to 255 characters; Server and Data Center can hold
        longer ones (raised limits, imports, REST clients), and the import rejects them.
        (Atlassian data limits.)
    """,
    fix="""
        On the server, shorten each listed summary (move the rest into the description),
        then take a new backup.
    """,
    thresholds=[Threshold("max_chars", 255, "the most characters of an issue summary")],
    sql="""
        -- PostgreSQL; use char_length on MySQL, LEN on SQL Server
        SELECT p.pkey || '-' || i.issuenum AS issue, length(i.summary) AS chars
        FROM jiraissue i JOIN project p ON p.id = i.project
        WHERE length(i.summary) > 255
        ORDER BY p.pkey, i.issuenum;
    """,
    group="content",
)
def summary_length(facts: Facts, settings: RuleSettings) -> Verdict:
    limit = settings["max_chars"]
    rows = facts.query(
        "SELECT id AS issue_id, key, summary_len, line FROM issue WHERE summary_len > ?"
        " ORDER BY project_id, number, CAST(id AS INTEGER), id",
        (limit,),
    )
    findings = [
        Finding(
            text=f"{issue_label(row)} summary: {plural(row['summary_len'], 'character')}",
            fields={
                "issue": row["key"],
                "issue_id": row["issue_id"],
                "entity": "Issue",
                "id": row["issue_id"],
                "characters": row["summary_len"],
                "line": row["line"],
            },
        )
        for row in rows
    ]
    longest = facts.scalar("SELECT coalesce(max(summary_len), 0) FROM issue")
    if not findings:
        return passed(
            f"Every issue summary fits {plural(limit, 'character')} (the longest has {longest:,}).",
            observed=longest,
            limit=limit,
        )
    return Verdict(
        findings=findings,
        summary=(
            f"Jira Cloud rejects {plural(len(findings), 'issue')} whose summary is longer than"
            f" {plural(limit, 'character')} (the longest has {longest:,})."
        ),
        observed=longest,
        limit=limit,
    )


#: The threshold that limits each per-issue count (the counts: ``facts.PER_ISSUE``).
PER_ISSUE_LIMITS: dict[str, str] = {
    "attachments": "max_attachments",
    "comments": "max_comments",
    "worklogs": "max_worklogs",
    "issue links": "max_issue_links",
    "remote links": "max_remote_links",
}


def _issues_over(facts: Facts, what: str, limit: int) -> list[sqlite3.Row]:
    """Issues with more than ``limit`` of ``what``, with key and position for sorting."""
    return facts.query(
        "SELECT c.issue_id, c.n, i.key, i.project_id, i.number FROM per_issue AS c"
        " LEFT JOIN issue AS i ON i.id = c.issue_id WHERE c.what = ? AND c.n > ?",
        (what, limit),
    )


def _most_per_issue(facts: Facts, what: str) -> int:
    """The highest count of ``what`` on any one issue (an audit property)."""
    return int(facts.scalar("SELECT coalesce(max(n), 0) FROM per_issue WHERE what = ?", (what,)))


@rule(
    id="per-issue-limits",
    title="No issue has more attachments, comments, worklogs or links than Cloud allows",
    why="""
        Jira Cloud allows at most 2,000 attachments, 5,000 comments, 5,000 worklogs,
        2,000 issue links (inward and outward together) and 2,000 remote links on one
        issue; the import fails or drops the rest. (Atlassian, "Jira Cloud data limits".)
    """,
    fix="""
        On the server, reduce each listed issue below the limit: delete obsolete attachments,
        comments or worklogs, or split the issue (move links and attachments to new issues),
        then take a new backup.
    """,
    thresholds=[
        Threshold("max_attachments", 2000, "attachments on one issue"),
        Threshold("max_comments", 5000, "comments on one issue"),
        Threshold("max_worklogs", 5000, "worklogs on one issue"),
        Threshold("max_issue_links", 2000, "issue links on one issue, counting both directions"),
        Threshold("max_remote_links", 2000, "remote links (to web pages, Confluence) on one issue"),
    ],
    sql="""
        SELECT issueid, 'attachments', count(*) FROM fileattachment
        GROUP BY issueid HAVING count(*) > 2000
        UNION ALL
        SELECT issueid, 'comments', count(*) FROM jiraaction WHERE actiontype = 'comment'
        GROUP BY issueid HAVING count(*) > 5000
        UNION ALL
        SELECT issueid, 'worklogs', count(*) FROM worklog
        GROUP BY issueid HAVING count(*) > 5000
        UNION ALL
        SELECT issue, 'issue links', count(*)
        FROM (SELECT source AS issue FROM issuelink
              UNION ALL SELECT destination FROM issuelink) AS ends
        GROUP BY issue HAVING count(*) > 2000
        UNION ALL
        SELECT issueid, 'remote links', count(*) FROM remotelink
        GROUP BY issueid HAVING count(*) > 2000;
        -- issue key of an id: SELECT p.pkey || '-' || i.issuenum FROM jiraissue i
        --                     JOIN project p ON p.id = i.project WHERE i.id = <issueid>
    """,
    group="content",
)
def per_issue_limits(facts: Facts, settings: RuleSettings) -> Verdict:
    found = []
    most: dict[str, str] = {}
    for order, (what, threshold) in enumerate(PER_ISSUE_LIMITS.items()):
        limit = settings[threshold]
        for row in _issues_over(facts, what, limit):
            position = (
                row["key"] is None,
                row["project_id"] or "",
                row["number"] or 0,
                row["issue_id"],
                order,
            )
            finding = Finding(
                text=f"{issue_label(row)}: {plural(row['n'], what.removesuffix('s'))}"
                f" (limit {limit:,})",
                fields={
                    "issue": row["key"],
                    "issue_id": row["issue_id"],
                    "what": what,
                    "count": row["n"],
                    "limit": limit,
                },
            )
            found.append((position, finding))
        most[f"most_{what.replace(' ', '_')}_per_issue"] = str(_most_per_issue(facts, what))
    findings = [finding for _, finding in sorted(found, key=lambda pair: pair[0])]
    if not findings:
        return passed(
            "No issue has more attachments, comments, worklogs, issue links or remote links"
            " than Jira Cloud allows.",
            properties=most,
        )
    issues = len({finding.fields["issue_id"] for finding in findings})
    return Verdict(
        findings=findings,
        summary=(
            "Jira Cloud's per-issue limits on attachments, comments, worklogs, issue links or"
            f" remote links are exceeded on {plural(issues, 'issue')}."
        ),
        observed=len(findings),
        properties=most,
    )


@rule(
    id="site-guardrails",
    title="The site stays within Cloud's guardrails for issues and projects",
    why="""
        Jira Cloud's guardrails are 18,000,000 issues and 8,400 projects per site; a larger
        site is slow to import and to use, and Atlassian asks to be involved beforehand.
        (Atlassian, "Jira Cloud data limits".)
    """,
    fix="""
        Archive or delete projects and issues that need not move to Cloud (or migrate them
        to a second site), then take a new backup; otherwise contact Atlassian support before
        the import.
    """,
    severity="warning",
    thresholds=[
        Threshold("max_issues", 18_000_000, "issues on one Cloud site"),
        Threshold("max_projects", 8_400, "projects on one Cloud site"),
    ],
    sql="""
        SELECT (SELECT count(*) FROM jiraissue) AS issues,
               (SELECT count(*) FROM project) AS projects;
    """,
    group="content",
)
def site_guardrails(facts: Facts, settings: RuleSettings) -> Verdict:
    counts = {
        "issues": facts.scalar("SELECT count(*) FROM issue") or 0,
        "projects": facts.scalar("SELECT count(*) FROM project") or 0,
    }
    limits = {"issues": settings["max_issues"], "projects": settings["max_projects"]}
    findings = [
        Finding(
            text=f"{plural(counts[what], what.removesuffix('s'))} (guardrail {limits[what]:,})",
            fields={"what": what, "count": counts[what], "limit": limits[what]},
        )
        for what in counts
        if counts[what] > limits[what]
    ]
    observed = f"{plural(counts['issues'], 'issue')}, {plural(counts['projects'], 'project')}"
    limit = f"{plural(limits['issues'], 'issue')}, {plural(limits['projects'], 'project')}"
    sizes = (
        f"The site has {plural(counts['issues'], 'issue')}"
        f" in {plural(counts['projects'], 'project')}"
    )
    guardrails = f"{plural(limits['issues'], 'issue')} and {plural(limits['projects'], 'project')}"
    if not findings:
        return passed(
            f"{sizes}, within Jira Cloud's site guardrails of {guardrails}.",
            observed=observed,
            limit=limit,
        )
    return Verdict(
        findings=findings,
        summary=f"{sizes}, beyond Jira Cloud's site guardrails of {guardrails}.",
        observed=observed,
        limit=limit,
    )


def normalized_url(url: str) -> str:
    """The URL with lower-case scheme and host and no trailing slash, for comparison."""
    parts = urlsplit(url.strip())
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), parts.query, "")
    ).rstrip("/")


@rule(
    id="server-base-url",
    title="The backup records the server's base URL, for mapping links to the Cloud site",
    why="""
        During the import Jira Cloud lists the server URLs found in the backup and asks which
        one is the site being migrated, so that links to it point at the new Cloud site. The
        import reads the jira.baseurl property; without it, links keep pointing at the old
        server. The "Base URL" line of the entities.xml header is only a comment (Jira wrote
        none before 4.1): when it disagrees with the property, that is worth a look, not a
        failure. (Atlassian, "Use Jira Site Import to migrate from server to cloud", step 4.)
    """,
    fix="""
        On the server, set Administration > System > General configuration > Base URL to the
        address users reach the site at, then take a new backup; select that URL in the
        import's link-mapping step.
    """,
    sql="""
        SELECT pe.property_key, ps.propertyvalue
        FROM propertyentry pe JOIN propertystring ps ON ps.id = pe.id
        WHERE pe.property_key = 'jira.baseurl';
    """,
    group="content",
)
def server_base_url(facts: Facts, settings: RuleSettings) -> Verdict:
    stored, header = facts.base_url, (facts.meta.get("base_url") or "").strip() or None
    differ = (
        stored is not None
        and header is not None
        and normalized_url(stored) != normalized_url(header)
    )
    # the URLs name the organisation: from here on, only as the mask shows them
    stored, header = (None if url is None else facts.mask.url(url) for url in (stored, header))
    properties = {
        name: value
        for name, value in (("jira_baseurl", stored), ("header_base_url", header))
        if value is not None
    }
    if stored is None:
        finding = Finding("the jira.baseurl property is not set", {"property": "jira.baseurl"})
        return Verdict(
            findings=[finding],
            summary=(
                "The backup does not record the server's base URL (the jira.baseurl property),"
                " so links to the server cannot be mapped to the Cloud site."
            ),
            properties=properties,
        )
    advice = (
        f"Select {stored} in the import's link-mapping step so that links to the server point"
        " at the new Cloud site."
    )
    if differ:
        advisory = Finding(
            f"the jira.baseurl property is {stored} but the entities.xml header says {header}",
            {"jira_baseurl": stored, "header_base_url": header},
        )
        return passed(
            f"{advice} The header comment names another URL, {header}: check which one users"
            " reach the site at.",
            properties=properties,
            advisories=[advisory],
        )
    if header is None:
        advice += " (The entities.xml header has no Base URL line; the property is what counts.)"
    return passed(advice, properties=properties)


RULES: tuple[Rule, ...] = (
    text_field_length,
    summary_length,
    per_issue_limits,
    site_guardrails,
    server_base_url,
)
