"""The CI and auditor outputs through the plugin: --jira-rules, --jira-summary, --jira-export."""

from __future__ import annotations

import csv

import pytest

from synth import SynthSpec, write_backup


@pytest.fixture
def backup(pytester: pytest.Pytester):
    path = pytester.path / "site-backup.zip"
    return path, write_backup(path, SynthSpec(faults=["email-no-tld"]))


def test_rules_listing_shows_effective_thresholds_and_runs_nothing(pytester) -> None:
    pytester.makefile(".yaml", jiramigrate="rules:\n  summary-length:\n    max_chars: 200\n")
    result = pytester.runpytest_inprocess("--jira-rules")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["[[]archive[]]", "backup-archive (error):*", "*max_chars=200*"])
    result.stdout.no_fnmatch_line("*collected*")


def test_rules_listing_with_bad_yaml_is_a_usage_error(pytester) -> None:
    pytester.makefile(".yaml", jiramigrate="rules:\n  summary-lenght: {}\n")
    result = pytester.runpytest_inprocess("--jira-rules")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*jiramigrate.yaml:2: rules.summary-lenght*summary-length*"])


def test_summary_is_appended_and_exports_name_the_offender(pytester, backup) -> None:
    path, manifest = backup
    summary = pytester.path / "summary.md"
    summary.write_text("# earlier step\n")
    result = pytester.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        f"--jira-backup={path}",
        "--jira-summary=summary.md",
        "--jira-export=csv",
    )
    assert result.ret == 1
    text = summary.read_text()
    assert text.startswith("# earlier step\n")
    assert "NOT READY" in text and "email-tld" in text
    fault = manifest.fault("email-no-tld")
    with (pytester.path / "csv" / "email-tld.csv").open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert [(row["user"], row["email"]) for row in rows] == [(fault["user"], fault["email"])]
    result.stdout.fnmatch_lines(["*CSV exports of offenders written to*"])


def test_invalid_characters_failure_gives_the_exact_clean_xml_command(pytester) -> None:
    (pytester.path / "backups").mkdir()
    write_backup(pytester.path / "backups" / "site backup.zip", SynthSpec(faults=["fffe"]))
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--jira-backup=backups/site backup.zip"
    )
    result.stdout.fnmatch_lines(
        [
            "    `jiramigrate clean-xml 'backups/site backup.zip' "
            "--out 'backups/site backup.clean.zip' --log changes.csv`"
        ]
    )


def test_findings_appear_in_pytest_html_where_it_is_installed(pytester, backup) -> None:
    pytest.importorskip("pytest_html")
    path, manifest = backup
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", f"--jira-backup={path}", "--html=r.html", "--self-contained-html"
    )
    assert result.ret == 1
    html = (pytester.path / "r.html").read_text(encoding="utf-8")
    # the failure text is in pytest-html's log anyway: look for the findings table we add
    assert "email-tld (site-backup.zip): 1 finding" in html
    assert manifest.fault("email-no-tld")["email"] in html
