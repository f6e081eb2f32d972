"""The CI and auditor outputs through the plugin: --jira-rules, --jira-summary, --jira-export."""

from __future__ import annotations

import csv
import json

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


MANY_OFFENDERS_CONFTEST = """
import json

from pytest_jiramigrate import Finding, Verdict, rule


@rule(id="many-offenders", title="Many offenders", why="A test.", fix="Fix them.")
def many_offenders(facts, settings):
    findings = [Finding(f"offender {n}", {"name": f"o{n}"}) for n in range(12)]
    return Verdict(findings, "12 offenders")


def pytest_jiramigrate_rules(config):
    return [many_offenders]


def pytest_runtest_logreport(report):
    # what a pytest-xdist worker would send the controller: the entry on the test report
    entry = getattr(report, "jiramigrate", None)
    if entry is not None and entry["id"] == "many-offenders":
        with open("carried.json", "w") as stream:
            json.dump(entry, stream)
"""


def test_report_stores_max_stored_findings_per_rule_and_counts_the_rest(pytester, backup) -> None:
    """report.max_stored caps the items of every report's entry, before the entry travels
    on the test report; the count stays whole and every output says how many are left out."""
    path, _ = backup
    pytester.makeconftest(MANY_OFFENDERS_CONFTEST)
    pytester.makefile(".yaml", jiramigrate="report:\n  max_listed: 2\n  max_stored: 3\n")
    result = pytester.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        f"--jira-backup={path}",
        "--jira-report=r.json",
        "--jira-summary=summary.md",
        "--jira-export=csv",
        "--jira-html=r.html",
    )
    assert result.ret == 1
    note = "and 9 more (the report stores the first 3; raise report.max_stored to see all)"

    report = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    assert report["schema"] == "jiramigrate-report/1"
    assert report["config"]["report"] == {"max_listed": 2, "max_stored": 3}
    [entry] = [e for e in report["rules"] if e["id"] == "many-offenders"]
    assert entry["findings"] == 12 and entry["items_omitted"] == 9
    assert [item["name"] for item in entry["items"]] == ["o0", "o1", "o2"]
    carried = json.loads((pytester.path / "carried.json").read_text(encoding="utf-8"))
    assert carried == entry

    summary = (pytester.path / "summary.md").read_text(encoding="utf-8")
    assert "- " + note.replace("max_stored", "max\\_stored") in summary
    assert note in (pytester.path / "r.html").read_text(encoding="utf-8")
    with (pytester.path / "csv" / "many-offenders.csv").open(encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    assert rows == [
        ["name", "detail"],
        *([f"o{n}", f"offender {n}"] for n in range(3)),
        ["", f"… {note}"],
    ]
    result.stdout.fnmatch_lines(
        [
            "*... and 10 more (--jira-report writes the first 3 to the JSON report;"
            " raise report.max_stored to see all)"
        ]
    )
