"""The report renderers (Markdown summary, CSV exports, rule listing) and the CI examples."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from pytest_jiramigrate.config import load_config
from pytest_jiramigrate.facts import Facts, create
from pytest_jiramigrate.report import model
from pytest_jiramigrate.report.exports import EXPORT_MANIFEST, write_exports
from pytest_jiramigrate.report.listing import render_rules
from pytest_jiramigrate.report.markdown import escape, render_summary
from pytest_jiramigrate.report.model import OUTCOME_ORDER, outcome_rank, readiness
from pytest_jiramigrate.rules import archive, content, groups, media, users
from pytest_jiramigrate.rules.base import Finding, RuleSettings, Verdict
from pytest_jiramigrate.rules.outcome import Outcome, Status, evaluate, unchecked_status
from pytest_jiramigrate.rules.site import CloudSite

HOSTILE_USER = "=cmd|' /C calc'!A0"
CI_DIR = Path(__file__).parents[2] / "example_project" / "ci"


def rule_entry(rule_id: str, outcome: str, items: list[dict[str, Any]], **extra: Any) -> dict:
    return {
        "id": rule_id,
        "title": f"title of {rule_id}",
        "target": "site-backup.zip",
        "severity": "warning" if outcome == "warning" else "error",
        "outcome": outcome,
        "findings": len(items),
        "threshold": 0,
        "message": f"{len(items)} offenders of {rule_id}.",
        "items": items,
        **extra,
    }


def user_item(user: str, email: str, **extra: Any) -> dict[str, Any]:
    return {
        "email": email,
        "user": user,
        "directory": "JIRA Internal Directory",
        **extra,
        "detail": f"{user} <{email}>",
    }


@pytest.fixture
def report() -> dict[str, Any]:
    hostile = user_item(HOSTILE_USER, "<script>alert(1)</script>@acme.com", display_name="a|b")
    return {
        "schema": "jiramigrate-report/1",
        "backup": {
            "path": "/data/site-backup.zip",
            "name": "site-backup.zip",
            "sha256": "bbbf79f0dfd565ae2db14530dd29de6077f6ff78b5995e80af2f5ce0006533dc",
            "jira_version": "8.20.10",
            "jira_build": "820010",
            "base_url": "https://jira.example.org",
            "counts": {"users": 41, "issues": 120, "attachment_bytes": 712_797},
        },
        "config": {},
        "rules": [
            rule_entry("backup-archive", "passed", []),
            rule_entry(
                "email-tld",
                "failed",
                [hostile] + [user_item(f"user{n}", f"user{n}@acme") for n in range(14)],
            ),
            rule_entry(
                "text-field-length",
                "failed",
                [{"issue_key": "ACME-1", "length": 40_000, "field": "description", "detail": "d"}],
            ),
            rule_entry(
                "group-merge-escalation", "warning", [{"group": "g", "members": ["a", "b"]}]
            ),
            rule_entry("email-present", "skipped", []),
        ],
    }


# --- the decisions every report shares (pytest_jiramigrate.rules.outcome) ---------------------


def test_outcome_order_lists_every_status_once_worst_first() -> None:
    assert sorted(OUTCOME_ORDER) == sorted(get_args(Status))
    assert sorted(["passed", "skipped", "error", "failed", "warning"], key=outcome_rank) == [
        "failed",
        "error",
        "warning",
        "skipped",
        "passed",
    ]
    assert outcome_rank("unheard-of") == len(OUTCOME_ORDER)


@pytest.mark.parametrize(
    ("statuses", "verdict"),
    [
        ((), "not-checked"),
        (("skipped",), "ready"),
        (("passed", "skipped"), "ready"),
        (("passed", "warning"), "warnings"),
        (("warning", "error"), "not-ready"),
        (("passed", "failed"), "not-ready"),
    ],
)
def test_readiness_fails_closed(statuses: tuple[str, ...], verdict: str) -> None:
    assert readiness(statuses) == verdict


@pytest.mark.parametrize(
    ("severity", "status"), [("error", "error"), ("warning", "skipped"), ("off", "skipped")]
)
def test_a_rule_not_checked_is_an_error_only_where_it_could_fail_the_run(
    tmp_path: Path, severity: str, status: str
) -> None:
    """One decision for the three ways a rule goes unchecked: its input is missing, its
    setting is unset, or it never ran (-k): error-severity keeps the gate shut."""
    rule = media.attachments_present  # needs the media, which this store lacks
    settings = RuleSettings(severity=severity, max_findings=0, limits={}, site=CloudSite())
    db = create(tmp_path / "facts.sqlite")
    db.close()
    facts = Facts.open(tmp_path / "facts.sqlite")
    try:
        missing = evaluate(rule, facts, settings, "media")
    finally:
        facts.db.close()
    unrun = model.unrun_entry(rule, "media", settings)
    assert unchecked_status(severity) == unrun["outcome"] == status
    if severity != "off":
        assert missing.status == status and missing.reason.startswith("not checked")
    assert model.unchecked([unrun]) == ([unrun] if severity == "error" else [])


def many_findings_outcome(count: int) -> Outcome:
    """A failed email-tld outcome with ``count`` offenders."""
    rule = users.email_tld
    found = [Finding(f"user{n} <user{n}@acme>", {"user": f"user{n}"}) for n in range(count)]
    settings = RuleSettings("error", 0, rule.defaults(), CloudSite(), subject="site.zip")
    return Outcome(rule, "site.zip", settings, "failed", Verdict(found, f"{count} offenders."))


@pytest.mark.parametrize(("max_stored", "stored"), [(3, 3), (0, 0), (10, 10), (None, 10)])
def test_rule_entry_stores_at_most_max_stored_items_and_counts_the_rest(
    max_stored: int | None, stored: int
) -> None:
    """The cap keeps the report small; ``findings`` stays the full count."""
    entry = model.rule_entry(many_findings_outcome(10), max_stored)
    assert entry["findings"] == 10
    assert [item["user"] for item in entry["items"]] == [f"user{n}" for n in range(stored)]
    assert entry["items_omitted"] == 10 - stored


def test_every_renderer_says_how_many_findings_the_report_left_out(tmp_path: Path) -> None:
    """Markdown, HTML and CSV count the findings the entry did not store, and name the
    setting that stores them."""
    from pytest_jiramigrate.report.html import findings_list

    entry = model.rule_entry(many_findings_outcome(25), 4)
    report = model.build_report({}, {}, [entry])
    note = "more (the report stores the first 4; raise report.max_stored to see all)"

    summary = render_summary(report, max_offenders=2)
    assert "- and 23 " + note.replace("max_stored", "max\\_stored") in summary
    assert "user1 " in summary and "user2 " not in summary

    html = findings_list(entry)
    assert "email-tld (site.zip): 25 findings" in html
    assert html.count("<tr>") == 4 and f"and 21 {note}" in html

    write_exports(report, tmp_path)
    rows = read_csv(tmp_path / "email-tld.csv")
    assert rows[0] == ["user", "detail"]
    assert [row[0] for row in rows[1:5]] == ["user0", "user1", "user2", "user3"]
    assert rows[5] == ["", f"… and 21 {note}"]
    assert len(rows) == 6


def test_a_report_that_stores_every_finding_adds_no_note(tmp_path: Path) -> None:
    entry = model.rule_entry(many_findings_outcome(3), 3)
    report = model.build_report({}, {}, [entry])
    assert entry["items_omitted"] == 0
    assert "more" not in render_summary(report)
    write_exports(report, tmp_path)
    assert len(read_csv(tmp_path / "email-tld.csv")) == 4


# --- Markdown summary -------------------------------------------------------------------


def test_the_json_entry_and_the_junit_properties_tell_one_story() -> None:
    """Both are made from the outcome in report/model.py; the table reads the entries."""
    rule = users.user_count_within_plan
    found = [Finding("120 active users", {"users": 120})]
    verdict = Verdict(found, "120 active users, over 100.", observed=120, limit=100)
    settings = RuleSettings("error", 0, rule.defaults(), CloudSite(), subject="site.zip")
    outcome = Outcome(rule, "site.zip", settings, "failed", verdict)
    entry = model.rule_entry(outcome)
    assert entry["target"] == "site.zip" and entry["outcome"] == "failed"
    assert entry["items"] == [{"users": 120, "detail": "120 active users"}]
    properties = dict(model.junit_properties(outcome))
    for key in ("severity", "findings", "threshold", "observed", "limit"):
        assert properties[key] == entry[key], key
    assert properties["rule"] == entry["id"] == rule.id
    (line,) = model.summary_table({"site.zip::user-count-within-plan": entry}, False)
    assert line.split()[:2] == ["FAILED", rule.id]
    assert model.unchecked([entry]) == []
    assert model.build_report({}, {}, [entry])["schema"] == "jiramigrate-report/1"


def test_summary_gives_verdict_identity_and_counts(report: dict[str, Any]) -> None:
    summary = render_summary(report)
    assert summary.startswith("## Jira Cloud readiness: NOT READY\n")
    assert "Rules: 2 failed, 1 warning, 1 skipped, 1 passed." in summary
    assert "sha256 bbbf79f0dfd5 " in summary and "bbbf79f0dfd56" not in summary
    assert "Jira 8.20.10 (build 820010)" in summary
    assert "41 users, 120 issues, 712.8 KB (attachment bytes)" in summary


@pytest.mark.parametrize(
    ("outcomes", "verdict"),
    [
        (["passed", "skipped"], "READY"),
        (["passed", "warning"], "READY WITH WARNINGS"),
        (["warning", "error"], "NOT READY"),
        ([], "NOT CHECKED (no rule ran)"),
    ],
)
def test_summary_verdict(outcomes: list[str], verdict: str) -> None:
    rules = [rule_entry(f"rule-{n}", outcome, []) for n, outcome in enumerate(outcomes)]
    first_line = render_summary({"backup": {}, "rules": rules}).splitlines()[0]
    assert first_line == f"## Jira Cloud readiness: {verdict}"


def test_summary_tables_problems_and_folds_the_rest(report: dict[str, Any]) -> None:
    summary = render_summary(report)
    table = [line for line in summary.splitlines() if line.startswith("| **")]
    assert [row.split(" | ")[1] for row in table] == [
        "email-tld",
        "text-field-length",
        "group-merge-escalation",
    ]
    assert "| **FAIL** | email-tld | 15 (allowed 0) | 15 offenders of email-tld. |" in table
    folded = summary[summary.index("<details>") : summary.index("</details>")]
    assert "<summary>1 skipped, 1 passed</summary>" in folded
    assert "- PASS backup-archive:" in folded and "- SKIP email-present:" in folded
    assert "email-tld" not in folded


def test_summary_caps_offenders_per_rule(report: dict[str, Any]) -> None:
    summary = render_summary(report, max_offenders=3)
    section = summary[summary.index("### email-tld") : summary.index("### text-field-length")]
    assert section.count("\n- ") == 4
    assert "- and 12 more (see the JSON report)" in section
    assert "user1 " in section and "user2 " not in section


def test_summary_escapes_values_from_the_backup(report: dict[str, Any]) -> None:
    summary = render_summary(report)
    assert "<script>" not in summary
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#64;acme.com" in summary
    assert "=cmd&#124;' /C calc'!A0" in summary
    rows = [line for line in summary.splitlines() if line.startswith("|")]
    assert all(row.count("|") == 5 for row in rows)


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("a|b", "a&#124;b"),
        ("`rm -rf`", "\\`rm -rf\\`"),
        ("<b>&", "&lt;b&gt;&amp;"),
        ("@here", "&#64;here"),
        ("two\nlines\r\x01", "two lines U+0001"),
        ("*bold* _it_ [link](x)", "\\*bold\\* \\_it\\_ \\[link\\](x)"),
    ],
)
def test_escape(value: str, escaped: str) -> None:
    assert escape(value) == escaped


@pytest.mark.parametrize(("value", "escaped"), [("- x", "\\- x"), ("12. x", "12\\. x")])
def test_escape_at_block_start_stops_nested_lists(value: str, escaped: str) -> None:
    assert escape(value, block_start=True) == escaped
    assert escape(value) == value


def test_summary_of_media_only_run() -> None:
    rules = [
        {**rule_entry("media-structure", "failed", [{"path": "x"}]), "target": target}
        for target in ("media-1.zip", "media-2.zip")
    ]
    summary = render_summary({"backup": {}, "rules": rules})
    assert "Backup: none (media only)." in summary
    assert "media-1.zip :: media-structure" in summary
    assert "media-2.zip :: media-structure" in summary


# --- CSV exports ------------------------------------------------------------------------


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.reader(stream))


def test_exports_one_file_per_failed_or_warned_rule(report: dict[str, Any], tmp_path: Path) -> None:
    written = write_exports(report, tmp_path / "exports")
    assert [path.name for path in written] == [
        "email-tld.csv",
        "text-field-length.csv",
        "group-merge-escalation.csv",
    ]
    assert sorted(os.listdir(tmp_path / "exports")) == sorted(
        [EXPORT_MANIFEST, *(path.name for path in written)]
    )


def test_export_columns_put_what_an_administrator_needs_first(
    report: dict[str, Any], tmp_path: Path
) -> None:
    exports = tmp_path / "exports"
    write_exports(report, exports)
    user_rows = read_csv(exports / "email-tld.csv")
    assert user_rows[0] == ["user", "display_name", "email", "directory", "detail"]
    assert len(user_rows) == 1 + 15
    assert user_rows[2] == [
        "user0",
        "",
        "user0@acme",
        "JIRA Internal Directory",
        "user0 <user0@acme>",
    ]
    content_rows = read_csv(exports / "text-field-length.csv")
    assert content_rows == [
        ["issue_key", "field", "length", "detail"],
        ["ACME-1", "description", "40000", "d"],
    ]
    assert read_csv(exports / "group-merge-escalation.csv")[1] == ["g", "a; b"]


def test_export_neutralises_formulas_and_keeps_markup_verbatim(
    report: dict[str, Any], tmp_path: Path
) -> None:
    write_exports(report, tmp_path)
    hostile = read_csv(tmp_path / "email-tld.csv")[1]
    assert hostile[0] == "'" + HOSTILE_USER
    assert hostile[1] == "a|b"
    assert hostile[2] == "<script>alert(1)</script>@acme.com"


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r"])
def test_export_neutralises_every_formula_trigger(trigger: str, tmp_path: Path) -> None:
    entry = rule_entry("email-tld", "failed", [{"user": f"{trigger}SUM(A1)", "count": -3}])
    write_exports({"rules": [entry]}, tmp_path)
    assert read_csv(tmp_path / "email-tld.csv")[1] == [f"'{trigger}SUM(A1)", "-3"]


def test_export_of_a_rule_on_several_targets_adds_a_target_column(tmp_path: Path) -> None:
    rules = [
        {**rule_entry("attachment-paths", "failed", [{"path": name}]), "target": name}
        for name in ("media-1.zip", "media-2.zip")
    ]
    (path,) = write_exports({"rules": rules}, tmp_path)
    assert read_csv(path) == [
        ["target", "path"],
        ["media-1.zip", "media-1.zip"],
        ["media-2.zip", "media-2.zip"],
    ]


def test_export_file_name_is_safe_for_a_third_party_rule_id(tmp_path: Path) -> None:
    entry = rule_entry("../../etc/passwd", "failed", [{"user": "x"}])
    (path,) = write_exports({"rules": [entry]}, tmp_path / "out")
    assert path.parent == tmp_path / "out"
    assert path.name == "_.._etc_passwd.csv"


def test_export_replaces_a_file_atomically_and_leaves_no_temporary(
    report: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "email-tld.csv"
    target.write_text("old", encoding="utf-8")
    old_inode = target.stat().st_ino
    write_exports(report, tmp_path)
    assert target.stat().st_ino != old_inode  # a new file renamed in, not rewritten in place
    assert read_csv(target)[0][0] == "user"
    assert [name for name in os.listdir(tmp_path) if name.startswith(".")] == [EXPORT_MANIFEST]


def test_export_failure_keeps_the_previous_file(
    report: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "email-tld.csv"
    write_exports(report, tmp_path)  # the previous run
    previous = target.read_text(encoding="utf-8")
    before = sorted(os.listdir(tmp_path))

    def fail_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail_replace)
    with pytest.raises(OSError, match="disk full"):
        write_exports(report, tmp_path)
    assert target.read_text(encoding="utf-8") == previous
    assert sorted(os.listdir(tmp_path)) == before


# --- rule listing -----------------------------------------------------------------------

BUILTIN_RULES = [*archive.RULES, *users.RULES, *groups.RULES, *content.RULES, *media.RULES]


def test_listing_groups_every_rule_with_defaults() -> None:
    lines = render_rules(BUILTIN_RULES, load_config(None, BUILTIN_RULES))
    headers = [line for line in lines if line.startswith("[")]
    assert headers == ["[archive]", "[users]", "[groups]", "[content]", "[media]"]
    listed = [line.split(" ")[0] for line in lines if line and line[0].isalpha()]
    assert listed == [rule.id for rule in BUILTIN_RULES]
    assert "(default" not in "\n".join(lines)
    index = lines.index(next(line for line in lines if line.startswith("media-chunk-size ")))
    assert lines[index].startswith("media-chunk-size (error) [media]: ")
    assert (
        lines[index + 1]
        == "    max_findings=0, max_zip=10.0 GB, max_chunk=5.0 GB, min_chunk=2.0 GB"
    )


def test_listing_shows_effective_values_from_the_yaml(tmp_path: Path) -> None:
    path = tmp_path / "jiramigrate.yaml"
    path.write_text(
        "rules:\n"
        "  email-unique:\n"
        "    severity: warning\n"
        "    max_findings: 3\n"
        "  attachment-size-limit:\n"
        "    max_size: 1GB\n"
        "  text-field-length:\n"
        "    max_chars: 40000\n",
        encoding="utf-8",
    )
    lines = render_rules(BUILTIN_RULES, load_config(path, BUILTIN_RULES))

    def block(rule_id: str) -> tuple[str, str]:
        index = next(n for n, line in enumerate(lines) if line.startswith(f"{rule_id} "))
        return lines[index], lines[index + 1]

    assert block("email-unique") == (
        "email-unique (warning (default: error)): No two users share an e-mail address",
        "    max_findings=3 (default: 0)",
    )
    assert (
        block("attachment-size-limit")[1] == "    max_findings=0, max_size=1.0 GB (default: 2.0 GB)"
    )
    assert block("text-field-length")[1] == "    max_findings=0, max_chars=40000 (default: 32767)"


def test_listing_needs_settings_for_every_rule() -> None:
    config = load_config(None, archive.RULES)
    with pytest.raises(KeyError, match=r"no settings for rule .email-present."):
        render_rules(users.RULES, config)


# --- CI examples ------------------------------------------------------------------------


def load_yaml(name: str) -> Any:
    return yaml.safe_load((CI_DIR / name).read_text(encoding="utf-8"))


def assert_gate_command(script: str, junit: str) -> None:
    assert script.startswith("pytest ")
    assert "--jira-backup=site-backup.zip" in script
    assert f"--junitxml={junit}" in script


def test_github_actions_gate_keeps_reports_and_writes_the_step_summary() -> None:
    steps = load_yaml("github-actions.yml")["jobs"]["readiness"]["steps"]
    runs = [step["run"] for step in steps if "run" in step]
    assert any("pip install pytest-jiramigrate" in run for run in runs)
    (gate,) = [run for run in runs if run.startswith("pytest ")]
    assert_gate_command(gate, "reports/readiness.xml")
    assert '--jira-summary="$GITHUB_STEP_SUMMARY"' in gate
    (upload,) = [
        step for step in steps if step.get("uses", "").startswith("actions/upload-artifact")
    ]
    assert upload["if"] == "always()"
    assert upload["with"]["path"].split() == ["reports/readiness.xml", "reports/readiness.json"]


def test_gitlab_ci_publishes_the_junit_report() -> None:
    job = load_yaml("gitlab-ci.yml")["jira-readiness"]
    assert "python -m pip install pytest-jiramigrate" in job["script"]
    assert_gate_command(job["script"][-1], "reports/readiness.xml")
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["reports"]["junit"] == "reports/readiness.xml"
    assert {"reports/readiness.xml", "reports/readiness.json"} <= set(artifacts["paths"])


def test_bitbucket_pipeline_writes_into_test_reports() -> None:
    (step,) = load_yaml("bitbucket-pipelines.yml")["pipelines"]["default"]
    script = step["step"]["script"]
    assert "python -m pip install pytest-jiramigrate" in script
    assert_gate_command(script[-1], "test-reports/readiness.xml")
    assert "--jira-report=test-reports/readiness.json" in script[-1]
    assert step["step"]["artifacts"] == ["test-reports/**"]


def test_jenkinsfile_publishes_junit_whatever_the_outcome() -> None:
    text = (CI_DIR / "Jenkinsfile").read_text(encoding="utf-8")
    assert text.count("{") == text.count("}")
    assert "pipeline {" in text and "pip install pytest-jiramigrate" in text
    assert "--jira-backup=site-backup.zip" in text
    assert "--junitxml=reports/readiness.xml" in text
    post = text[text.index("post {") :]
    always = post[post.index("always {") :]
    assert "junit testResults: 'reports/readiness.xml'" in always
    assert "archiveArtifacts artifacts: 'reports/readiness.*'" in always


def test_exports_never_delete_or_overwrite_an_edited_csv(
    report: dict[str, Any], tmp_path: Path
) -> None:
    """The fix loop asks to edit the e-mail exports: a later run keeps those edits."""
    failing = report
    written = write_exports(failing, tmp_path / "out")
    edited = written[0]
    edited.write_text(edited.read_text(encoding="utf-8") + "my,edit\n", encoding="utf-8")
    untouched = written[1]
    passing = {**failing, "rules": []}
    write_exports(passing, tmp_path / "out")
    assert not untouched.exists(), "an unchanged export of a passing rule goes"
    assert edited.read_text(encoding="utf-8").endswith("my,edit\n"), "an edited one stays"
    write_exports(failing, tmp_path / "out")
    kept = edited.with_name(f"{edited.stem}.edited.csv")
    assert kept.read_text(encoding="utf-8").endswith("my,edit\n")
    assert not edited.read_text(encoding="utf-8").endswith("my,edit\n")
