"""--jira-redact end to end: no address, username or display name of the backup in any output."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import zipfile
from pathlib import Path

import pytest

from synth import SynthSpec, write_backup

FAULTS = ["email-no-tld", "email-duplicate", "addon-username", "admin-groups-both", "control-char"]


def identities(store: Path) -> set[str]:
    """Every username, address and display name the scan read."""
    db = sqlite3.connect(store)
    rows = db.execute("SELECT user_name, email, display_name FROM user").fetchall()
    return {value for row in rows for value in row if value}


def test_nothing_personal_reaches_any_output(pytester: pytest.Pytester, tmp_path: Path) -> None:
    backup = tmp_path / "site-backup.zip"
    write_backup(backup, SynthSpec(faults=FAULTS))
    outputs = ("report.json", "junit.xml", "report.html", "summary.md")
    result = pytester.runpytest_inprocess(
        f"--jira-backup={backup}",
        "--jira-redact",
        "-rA",
        "-vv",
        "--jira-report=report.json",
        "--junitxml=junit.xml",
        "--jira-html=report.html",
        "--jira-summary=summary.md",
        "--jira-export=csv",
    )
    assert result.ret == 1
    texts = [result.stdout.str(), result.stderr.str()]
    texts += [(pytester.path / name).read_text(encoding="utf-8") for name in outputs]
    texts += [path.read_text(encoding="utf-8") for path in (pytester.path / "csv").glob("*.csv")]
    assert len(texts) > len(outputs) + 2, "the failed rules wrote CSV exports"
    [store] = (pytester.path / ".pytest_cache").rglob("backup-*.sqlite")
    personal = identities(store)
    assert len(personal) > 40
    leaks = {
        value
        for value in personal
        for text in texts
        if re.search(rf"(?<![\w.@-]){re.escape(value)}(?![\w@-])", text, re.IGNORECASE)
    }
    assert not leaks
    # the verdicts stay readable: which rule failed, and why a domain is refused
    assert "has no top-level domain" in texts[0]
    assert re.search(r"user-[0-9a-f]{8}", texts[0])
    # the base URL keeps its shape but not the organisation's domain
    base_url = json.loads((pytester.path / "report.json").read_text(encoding="utf-8"))["backup"][
        "base_url"
    ]
    assert re.fullmatch(r"https://host-[0-9a-f]{8}\.domain-[0-9a-f]{8}\.com", base_url)
    assert not [text for text in texts if "jira.acmecorp.com" in text.lower()]
    # every file the run wrote is its owner's only
    written = [pytester.path / name for name in outputs]
    written += [store, *(pytester.path / "csv").glob("*.csv")]
    written += list((pytester.path / ".pytest_cache").rglob("redact.key"))
    assert {path.name: oct(path.stat().st_mode & 0o777) for path in written} == {
        path.name: "0o600" for path in written
    }


def test_usernames_that_are_numbers_words_or_the_host_never_mangle_a_message(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """Usernames 1, 8, admin, issues and jira (the base URL's host) through the plugin."""
    source = tmp_path / "synth.zip"
    write_backup(source, SynthSpec(faults=["email-no-tld", "email-duplicate", "addon-username"]))
    with zipfile.ZipFile(source) as archive:
        text = archive.read("entities.xml").decode("utf-8")
        activeobjects = archive.read("activeobjects.xml")
    names = re.findall(r'<User [^>]*?lowerUserName="([a-z]+)"', text)
    renamed = dict(
        zip([n for n in names if n != "admin"][:4], ["1", "8", "issues", "jira"], strict=True)
    )
    for old, new in renamed.items():
        text = text.replace(f'="{old}"', f'="{new}"')
    text = text.replace("https://jira.acmecorp.com", "http://jira:8080")
    backup = tmp_path / "site-backup.zip"
    with zipfile.ZipFile(backup, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("entities.xml", text)
        archive.writestr("activeobjects.xml", activeobjects)

    result = pytester.runpytest_inprocess(
        f"--jira-backup={backup}", "--jira-redact", "-rA", "--jira-report=report.json"
    )

    output = result.stdout.str()
    assert "guardrails of 18,000,000 issues and 8,400 projects" in output
    assert "The backup is a readable zip of 2 members." in output
    assert re.search(r"Select http://domain-[0-9a-f]{8}:8080 in the import's link-mapping", output)
    assert "user-" not in "".join(re.findall(r"https?://\S+", output))
    assert not re.search(r"\d,?user-|user-[0-9a-f]{8},\d", output)
    report = json.loads((pytester.path / "report.json").read_text(encoding="utf-8"))
    named = [
        value
        for rule in report["rules"]
        for item in rule["items"]
        for key in ("user", "users", "members")
        for value in (item.get(key) if isinstance(item.get(key), list) else [item.get(key)])
        if value
    ]
    assert named, "the faults name users"
    assert all(re.fullmatch(r"user-[0-9a-f]{8}", value) for value in named)
    assert report["backup"]["base_url"].startswith("http://domain-")


def test_a_store_cached_without_redaction_is_made_private_when_redacting(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    backup = tmp_path / "site-backup.zip"
    write_backup(backup, SynthSpec())
    old_umask = os.umask(0o022)
    try:
        pytester.runpytest_inprocess(f"--jira-backup={backup}", "-q")
        [store] = (pytester.path / ".pytest_cache").rglob("backup-*.sqlite")
        assert store.stat().st_mode & 0o077, "a run without --jira-redact keeps the umask's mode"

        pytester.runpytest_inprocess(f"--jira-backup={backup}", "-q", "--jira-redact")

        assert store.stat().st_mode & 0o777 == 0o600
        assert os.umask(0o022) == 0o022, "the run restores the process's umask"
    finally:
        os.umask(old_umask)
