"""pytest-xdist: the same outcomes and reports as a serial run, and one scan of the backup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synth import SynthSpec, write_backup

pytest.importorskip("xdist")

#: counts the scans of the backup, in whichever process (worker or not) does one
COUNTING_CONFTEST = """
import os
import pytest_jiramigrate.cache as store

_scan = store.scan_backup

def _counting_scan(*args, **kwargs):
    with open({log!r}, "a") as log:
        log.write(os.environ.get("PYTEST_XDIST_WORKER", "serial") + "\\n")
    return _scan(*args, **kwargs)

store.scan_backup = _counting_scan
"""


def rules_of(report: Path) -> dict[str, tuple[str, int, str]]:
    entries = json.loads(report.read_text())["rules"]
    return {e["id"]: (e["outcome"], e["findings"], e["message"]) for e in entries}


@pytest.mark.slow
def test_two_workers_report_like_a_serial_run_and_scan_once(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    backup = tmp_path / "site-backup.zip"
    write_backup(backup, SynthSpec(faults=["email-no-tld", "control-char", "long-summary"]))
    log = tmp_path / "scans.log"
    pytester.makeconftest(COUNTING_CONFTEST.format(log=str(log)))

    parallel = pytester.runpytest_subprocess(
        "-n",
        "2",
        f"--jira-backup={backup}",
        "--jira-report=parallel.json",
        "--junitxml=parallel.xml",
    )
    assert parallel.ret == 1
    assert log.read_text().splitlines() in (["gw0"], ["gw1"]), "one worker scans, once"
    parallel.stdout.fnmatch_lines(["*jiramigrate readiness*", "FAILED*email-tld*"])

    serial = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--jira-backup={backup}", "--jira-report=serial.json"
    )
    assert serial.ret == 1
    assert rules_of(pytester.path / "parallel.json") == rules_of(pytester.path / "serial.json")
    junit = (pytester.path / "parallel.xml").read_text()
    assert junit.count("<testcase ") == len(rules_of(pytester.path / "serial.json"))
    assert 'name="rule" value="email-tld"' in junit


def test_rescan_under_two_workers_scans_once(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """``--jira-rescan`` scans again once per run, not once per worker and the controller."""
    backup = tmp_path / "site-backup.zip"
    write_backup(backup, SynthSpec())
    log = tmp_path / "scans.log"
    pytester.makeconftest(COUNTING_CONFTEST.format(log=str(log)))
    args = ("-n", "2", f"--jira-backup={backup}", "--jira-report=r.json")

    assert pytester.runpytest_subprocess(*args).ret == 0
    assert len(log.read_text().splitlines()) == 1
    assert pytester.runpytest_subprocess(*args, "--jira-rescan").ret == 0
    assert len(log.read_text().splitlines()) == 2, "the rescan scanned once"
    assert pytester.runpytest_subprocess(*args).ret == 0
    assert len(log.read_text().splitlines()) == 2, "the rescan's store is cached"
