"""Inputs are sacred and the gate fails closed (issue 13, part A), as a user runs it.

One line per case:

* an output option naming the backup, a media zip or the YAML is a usage error (exit 4)
* ... also through a symbolic link, a hard link or ``..``, and from an ini key
* an output inside a media directory is a usage error (exit 4)
* a report path that is a directory, or whose folder is missing, is refused at start
* an export "directory" that is a file is refused at start
* two reports naming one file are refused at start
* a read-only output folder is refused at start (a fake: root writes anywhere)
* a mistyped ``--jira-media`` path is a usage error (exit 4)
* a truncated media zip fails ``media-archive`` and the run exits 1
* an unreadable backup exits 1, saying how many rules were not checked and why
* a run whose only problem is a rule that was not checked exits 1, not 0
* ``--jira-export`` removes its own CSVs of rules that now pass, never a file it did not write
* ``jiramigrate check`` ignores a pytest.ini (``addopts = -p evil``) and conftest.py beside
  the backup; plain pytest warns when its ini file lies beside the backup
* ``split-media --out`` naming a file or a path under a file: one line, exit 2
* ``synth`` with a directory output, a missing folder, too few users, zero projects,
  a nonsense version or a negative count: one line, exit 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_jiramigrate.commands import check
from pytest_jiramigrate.core import outputs
from pytest_jiramigrate.core.outputs import OutputError, check_output
from synth import SynthSpec, write_backup, write_media, write_media_zip

# --------------------------------------------------------------------------- check_output


@pytest.fixture
def backup_file(tmp_path: Path) -> Path:
    path = tmp_path / "site-backup.zip"
    path.write_bytes(b"PK backup")
    return path


def test_check_output_returns_the_resolved_path_of_a_new_file(tmp_path, backup_file) -> None:
    (tmp_path / "sub").mkdir()
    assert check_output(tmp_path / "sub" / ".." / "r.json", [backup_file]) == tmp_path / "r.json"


@pytest.mark.parametrize("spelling", ["same", "dotdot", "symlink", "hardlink"])
def test_check_output_refuses_the_input_itself(tmp_path, backup_file, spelling) -> None:
    (tmp_path / "sub").mkdir()
    output = {
        "same": backup_file,
        "dotdot": tmp_path / "sub" / ".." / backup_file.name,
        "symlink": tmp_path / "link.zip",
        "hardlink": tmp_path / "sub" / "hard.zip",
    }[spelling]
    if spelling == "symlink":
        output.symlink_to(backup_file)
    if spelling == "hardlink":
        os.link(backup_file, output)
    with pytest.raises(OutputError, match="is an input"):
        check_output(output, [backup_file])


def test_check_output_refuses_a_path_inside_an_input_directory(tmp_path) -> None:
    media = tmp_path / "media"
    (media / "data").mkdir(parents=True)
    with pytest.raises(OutputError, match="inside the input directory"):
        check_output(media / "data" / "report.json", [media])
    with pytest.raises(OutputError, match="inside the input directory"):
        check_output(media / "exports", [media], directory=True)


def test_check_output_refuses_directories_files_and_missing_parents(tmp_path, backup_file) -> None:
    with pytest.raises(OutputError, match="is a directory; name a file"):
        check_output(tmp_path, [])
    with pytest.raises(OutputError, match="exists and is not a directory"):
        check_output(backup_file, [], directory=True)
    with pytest.raises(OutputError, match="does not exist"):
        check_output(tmp_path / "missing" / "r.json", [])
    with pytest.raises(OutputError, match="is not a directory"):
        check_output(backup_file / "out", [], directory=True)


def test_check_output_refuses_a_folder_that_is_not_writable(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(outputs, "writable", lambda directory: directory != tmp_path)
    with pytest.raises(OutputError, match="is not writable"):
        check_output(tmp_path / "r.json", [])


# --------------------------------------------------------------------------- the plugin's outputs


@pytest.fixture
def site(pytester: pytest.Pytester) -> Path:
    """A clean backup, a media directory and a media zip in the pytester directory."""
    backup = pytester.path / "site-backup.zip"
    manifest = write_backup(backup, SynthSpec())
    write_media(pytester.path / "media", manifest)
    write_media_zip(pytester.path / "media.zip", manifest)
    return backup


def one_line_usage_error(result: pytest.RunResult, *fragments: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(errors) == 1, result.errlines
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert "Traceback" not in "\n".join(result.outlines + result.errlines)


@pytest.mark.parametrize("option", ["report", "html", "summary"])
@pytest.mark.parametrize("victim", ["site-backup.zip", "media.zip", "./media/../site-backup.zip"])
def test_an_output_over_an_input_is_a_usage_error(pytester, site, option, victim) -> None:
    before = {p.name: p.read_bytes() for p in (site, pytester.path / "media.zip")}
    result = pytester.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        f"--jira-backup={site}",
        "--jira-media=media",
        "--jira-media=media.zip",
        f"--jira-{option}={victim}",
    )
    one_line_usage_error(result, f"--jira-{option}", "is an input")
    assert {p.name: p.read_bytes() for p in (site, pytester.path / "media.zip")} == before


def test_an_ini_key_naming_the_backup_is_refused_too(pytester, site) -> None:
    pytester.makeini("[pytest]\njira_backup = site-backup.zip\njira_report = site-backup.zip\n")
    before = site.read_bytes()
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    one_line_usage_error(result, "--jira-report", "is an input")
    assert site.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--jira-export=media/data"], "inside the input directory"),
        (["--jira-report=media/report.json"], "inside the input directory"),
        (["--jira-report=."], "is a directory"),
        (["--jira-html=nowhere/report.html"], "does not exist"),
        (["--jira-export=site-backup.zip"], "is an input"),
        (["--jira-export=media.zip/csv"], "is not a directory"),
        (["--jira-config=cfg.yaml", "--jira-report=cfg.yaml"], "is an input"),
        (["--jira-report=r.out", "--jira-html=./r.out"], "r.out is also --jira-report"),
    ],
)
def test_unusable_outputs_are_refused_before_the_scan(pytester, site, args, expected) -> None:
    (pytester.path / "cfg.yaml").write_text("rules: {}\n", encoding="utf-8")
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", f"--jira-backup={site}", "--jira-media=media", *args
    )
    one_line_usage_error(result, expected)
    assert "jiramigrate: site-backup.zip (Jira" not in result.stdout.str(), "nothing was scanned"


@pytest.mark.parametrize("victim", ["site-backup.zip", "media.zip", "media/data/j.xml"])
def test_junit_xml_over_an_input_is_a_usage_error(pytester, site, victim) -> None:
    """pytest's own --junitxml is an output too: over the backup it would replace it."""
    before = {p.name: p.read_bytes() for p in (site, pytester.path / "media.zip")}
    result = pytester.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        f"--jira-backup={site}",
        "--jira-media=media",
        "--jira-media=media.zip",
        f"--junitxml={victim}",
    )
    one_line_usage_error(result, "--junitxml", "input")
    assert {p.name: p.read_bytes() for p in (site, pytester.path / "media.zip")} == before


def test_junit_xml_may_not_share_a_report_but_may_name_a_new_folder(pytester, site) -> None:
    shared = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", f"--jira-backup={site}", "--jira-report=r.xml", "--junitxml=r.xml"
    )
    one_line_usage_error(shared, "--junitxml", "is also --jira-report")
    fresh = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", f"--jira-backup={site}", "--junitxml=reports/readiness.xml"
    )
    assert fresh.ret == pytest.ExitCode.OK
    assert (pytester.path / "reports" / "readiness.xml").read_text().startswith("<?xml")


def test_a_mistyped_media_path_is_a_usage_error(pytester, site) -> None:
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", f"--jira-backup={site}", "--jira-media=meida"
    )
    one_line_usage_error(result, "--jira-media", "meida does not exist")


# --------------------------------------------------------------------------- the gate fails closed


def report_rules(path: Path) -> dict[str, dict[str, object]]:
    return {entry["id"]: entry for entry in json.loads(path.read_text())["rules"]}


def test_a_truncated_media_zip_fails_media_archive(pytester, site) -> None:
    media_zip = pytester.path / "media.zip"
    media_zip.write_bytes(media_zip.read_bytes()[: media_zip.stat().st_size // 2])
    result = pytester.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        f"--jira-backup={site}",
        "--jira-media=media.zip",
        "--jira-report=r.json",
    )
    rules = report_rules(pytester.path / "r.json")
    assert rules["media-archive"]["outcome"] == "failed"
    assert "media.zip" in str(rules["media-archive"]["message"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_an_unreadable_backup_exits_1_and_says_what_was_not_checked(pytester) -> None:
    backup = pytester.path / "site-backup.zip"
    backup.write_bytes(b"this is not a zip")
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", f"--jira-backup={backup}", "--jira-report=r.json"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    unchecked = [
        rule
        for rule, entry in report_rules(pytester.path / "r.json").items()
        if entry["severity"] == "error" and entry["outcome"] == "error"
    ]
    result.stdout.fnmatch_lines([f"{len(unchecked)} error-severity rules not checked*exit code 1*"])


AO_RULE_CONFTEST = """
from pytest_jiramigrate import Verdict, rule


@rule(id="ao-plugins-known", title="t", why="w", fix="f", needs=("activeobjects",))
def ao_plugins_known(facts, settings):
    return Verdict([], "fine")


def pytest_jiramigrate_rules(config):
    return [ao_plugins_known]
"""


def test_a_run_whose_only_problem_is_an_unchecked_rule_does_not_exit_0(pytester, site) -> None:
    """A backup without activeobjects.xml (its layout rule lowered to a warning): the rule
    that reads activeobjects.xml is not checked, every other rule passes or warns."""
    with zipfile.ZipFile(site) as archive:
        entities = archive.read("entities.xml")
    with zipfile.ZipFile(site, "w") as archive:
        archive.writestr("entities.xml", entities)
    pytester.makeconftest(AO_RULE_CONFTEST)
    pytester.makefile(
        ".yaml", jiramigrate="rules:\n  activeobjects-xml-at-root: {severity: warning}\n"
    )
    arguments = (f"--jira-backup={site}", "--jira-report=r.json", "-rs")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", *arguments)
    rules = report_rules(pytester.path / "r.json")
    assert not [r for r, e in rules.items() if e["outcome"] == "failed"], rules
    assert rules["ao-plugins-known"]["outcome"] == "error"
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["1 error-severity rule not checked, so the run cannot pass (exit code 1): not checked*"]
    )
    pytest.importorskip("xdist")
    parallel = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", *arguments)
    assert parallel.ret == pytest.ExitCode.TESTS_FAILED, "the same gate under pytest-xdist"


# --------------------------------------------------------------------------- stale exports


def test_export_removes_its_own_stale_csvs_and_nothing_else(pytester) -> None:
    faulty, clean = pytester.path / "faulty.zip", pytester.path / "clean.zip"
    write_backup(faulty, SynthSpec(faults=["email-no-tld"]))
    write_backup(clean, SynthSpec())
    exports = pytester.mkdir("csv")
    (exports / "notes.csv").write_text("mine\n", encoding="utf-8")
    (exports / "summary-length.csv").write_text("also mine\n", encoding="utf-8")

    first = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", f"--jira-backup={faulty}", "--jira-export=csv"
    )
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    assert (exports / "email-tld.csv").is_file()

    second = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", f"--jira-backup={clean}", "--jira-export=csv"
    )
    assert second.ret == pytest.ExitCode.OK
    assert not (exports / "email-tld.csv").exists(), "the CSV of a rule that now passes"
    assert (exports / "notes.csv").read_text(encoding="utf-8") == "mine\n"
    assert (exports / "summary-length.csv").read_text(encoding="utf-8") == "also mine\n"


# --------------------------------------------------------------------------- jiramigrate check

EVIL_PLUGIN = "open({marker!r}, 'a').write('{name} ran\\n')\n"


@pytest.fixture
def customer_folder(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(where the consultant works, the backup in a customer's folder, the marker file that
    the customer's plugin and conftest.py write when they run)."""
    work, customer = tmp_path / "work", tmp_path / "customer"
    work.mkdir()
    customer.mkdir()
    backup = customer / "site-backup.zip"
    write_backup(backup, SynthSpec(faults=["email-no-tld"]))
    marker = tmp_path / "ran.log"
    (customer / "pytest.ini").write_text("[pytest]\naddopts = -p evilplugin\n", encoding="utf-8")
    (customer / "evilplugin.py").write_text(EVIL_PLUGIN.format(marker=str(marker), name="plugin"))
    (customer / "conftest.py").write_text(EVIL_PLUGIN.format(marker=str(marker), name="conftest"))
    (work / "test_unrelated.py").write_text("def test_unrelated():\n    assert False\n")
    return work, backup, marker


def run_command(work: Path, customer: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """A command as a user runs it, with the customer's folder importable (the worst case)."""
    environment = {**os.environ, "PYTHONPATH": str(customer)}
    return subprocess.run(
        argv, cwd=work, env=environment, capture_output=True, text=True, timeout=300, check=False
    )


def test_check_ignores_the_config_and_conftest_beside_the_backup(customer_folder) -> None:
    work, backup, marker = customer_folder
    result = run_command(
        work,
        backup.parent,
        sys.executable,
        "-m",
        "pytest_jiramigrate.commands.cli",
        "check",
        str(backup),
        "--report=report.json",
        "--junitxml=junit.xml",
    )
    assert not marker.exists(), marker.read_text()
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"rootdir: {work}" in result.stdout
    assert "test_unrelated" not in result.stdout, "only the readiness rules run"
    rules = report_rules(work / "report.json")
    assert rules["email-tld"]["outcome"] == "failed"
    assert "email-tld" in (work / "junit.xml").read_text(encoding="utf-8")


def test_plain_pytest_warns_when_its_ini_lies_beside_the_backup(customer_folder) -> None:
    """The same folder under plain pytest with ``--jira-backup PATH`` (a space): pytest takes
    the customer's ini, whose plugin runs (which is why ``check`` exists), and says so."""
    work, backup, marker = customer_folder
    result = run_command(
        work, backup.parent, sys.executable, "-m", "pytest", "--jira-backup", str(backup)
    )
    assert marker.read_text() == "plugin ran\n"
    assert "PytestConfigWarning: pytest read its configuration from" in result.stdout
    assert f"{backup.parent / 'pytest.ini'}, beside the backup" in result.stdout


def test_check_without_a_backup_or_media_is_a_one_line_error(tmp_path) -> None:
    result = run_command(
        tmp_path, tmp_path, sys.executable, "-m", "pytest_jiramigrate.commands.cli", "check"
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith("name a BACKUP, a --media target, or both")


# --------------------------------------------------------------------------- split-media and synth


def cli_error(
    capsys: pytest.CaptureFixture[str], *argv: str, main: Callable[[list[str]], int] | None = None
) -> str:
    """Run the console command (or another ``main``); it must exit 2 with one line on stderr."""
    from pytest_jiramigrate.commands import cli

    assert (main or cli.main)(list(argv)) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


@pytest.mark.parametrize(
    ("out", "expected"),
    [("a-file", "exists and is not a directory"), ("a-file/chunks", "is not a directory")],
)
def test_split_media_out_naming_a_file_is_one_line(tmp_path, capsys, out, expected) -> None:
    media = tmp_path / "media"
    (media / "data" / "attachments").mkdir(parents=True)
    (tmp_path / "a-file").write_text("keep me\n", encoding="utf-8")
    line = cli_error(capsys, "split-media", str(media), "--out", str(tmp_path / out))
    assert line.startswith("jiramigrate split-media: --out: ") and expected in line
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "keep me\n"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["{tmp}"], "is a directory; name a file"),
        (["{tmp}/missing/out.zip"], "does not exist"),
        (["{tmp}/out.zip", "--users", "2"], "users must be at least 5"),
        (["{tmp}/out.zip", "--projects", "0"], "projects must be at least 1"),
        (["{tmp}/out.zip", "--version", "banana"], "is not a Jira version"),
        (["{tmp}/out.zip", "--issues", "-3"], "--issues must not be negative"),
        (["{tmp}/out.zip", "--target-mb", "-1"], "--target-mb must be more than 0"),
        (["{tmp}/out.zip", "--manifest", "{tmp}/out.zip"], "is an input"),
    ],
)
def test_synth_nonsense_is_one_line(tmp_path, capsys, argv, expected) -> None:
    from synth import __main__ as synth_command

    given = (arg.format(tmp=tmp_path) for arg in argv)
    line = cli_error(capsys, *given, main=synth_command.main)
    assert line.startswith("synth: ") and expected in line, line
    assert not (tmp_path / "out.zip").exists()


def test_check_forwards_the_plugin_options_to_pytest(tmp_path: Path) -> None:
    """Every option of `jiramigrate check` reaches the plugin as its --jira-* twin."""
    parser = argparse.ArgumentParser()
    check.register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "check",
            "site.zip",
            "--media",
            "m.zip",
            "--report",
            "r.json",
            "--workers",
            "3",
            "--strict",
        ]
    )
    arguments = check.pytest_arguments(args, tmp_path)
    assert f"--jira-backup={tmp_path / 'site.zip'}" in arguments
    assert f"--jira-media={tmp_path / 'm.zip'}" in arguments
    assert f"--jira-report={tmp_path / 'r.json'}" in arguments
    assert "--jira-workers=3" in arguments and "--jira-strict" in arguments
    assert arguments[:2] == [f"--rootdir={tmp_path}", "-c"]


@pytest.mark.parametrize(
    "deselect", [["-k", "not email"], ["--deselect=site-backup.zip::email-tld"]]
)
def test_deselected_error_rules_keep_the_gate_shut(pytester, site, deselect) -> None:
    """A rule left out by -k or --deselect was not checked: the run does not pass, and the
    reports list it as not checked instead of leaving it out."""
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", f"--jira-backup={site}", "--jira-report=r.json", *deselect
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    entry = report_rules(pytester.path / "r.json")["email-tld"]
    assert (entry["outcome"], entry["severity"]) == ("error", "error")
    assert str(entry["message"]).startswith("not checked: the rule did not run")
    result.stdout.fnmatch_lines(["*error-severity rule* not checked, so the run cannot pass*"])


def test_collect_only_is_no_gate_run(pytester, site) -> None:
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", f"--jira-backup={site}", "--collect-only", "-q"
    )
    assert result.ret == pytest.ExitCode.OK
