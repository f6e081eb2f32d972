"""The HTML report: structure, escaping, no external resources, and a real browser's rendering."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_jiramigrate import facts as facts_store
from pytest_jiramigrate.cache import backup_store
from pytest_jiramigrate.config import load_config
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.report.html import MAX_ROWS, render_html
from pytest_jiramigrate.report.redact import Redactor
from pytest_jiramigrate.rules import media, users
from synth import SynthSpec, write_backup

HOSTILE = "<script>alert('x')</script>"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def rule_entry(
    rule_id: str, outcome: str, items: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    return {
        "id": rule_id,
        "title": f"title of {rule_id}",
        "target": "site-backup.zip",
        "severity": "error",
        "outcome": outcome,
        "findings": len(items),
        "threshold": 0,
        "message": f"message of {rule_id}",
        "items": list(items),
    }


def report(*rules: dict[str, Any], plan: str = "standard") -> dict[str, Any]:
    config = load_config(None, [*users.RULES, *media.RULES]).as_dict()
    config["target"]["plan"] = plan
    return {
        "schema": "jiramigrate-report/1",
        "backup": {
            "path": "/data/site-backup.zip",
            "name": "site-backup.zip",
            "sha256": "ab" * 32,
            "jira_version": "8.20.10",
            "counts": {"users": 3, "attachments": 2, "attachment_bytes": 3_000_000},
        },
        "config": config,
        "rules": list(rules),
    }


@pytest.fixture
def hostile_facts(tmp_path: Path) -> Facts:
    """A tiny store whose user, domain and project names are markup."""
    db = facts_store.create(tmp_path / "facts.sqlite")
    db.execute("INSERT INTO directory VALUES ('1', 'Internal', 1, 'INTERNAL', 0)")
    db.executemany(
        "INSERT INTO user (id, directory_id, user_name, lower_user_name, active, email)"
        " VALUES (?, '1', ?, ?, 1, ?)",
        [
            ("1", HOSTILE, HOSTILE.lower(), f"a@{HOSTILE}.com"),
            ("2", "bob", "bob", "bob@acme.com"),
            ("3", "eve", "eve", "eve@acme"),
        ],
    )
    db.execute("INSERT INTO project VALUES ('1', 'P', '<b>P</b>', NULL, 'bob', 'software')")
    db.execute("INSERT INTO issue VALUES ('10', '<b>P</b>-1', 1, '1', 5, 5, 1)")
    db.executemany(
        "INSERT INTO attachment VALUES (?, '10', ?, ?, 'text/plain')",
        [("100", "<img src=x>", 1_000_000), ("101", "b.txt", 2_000_000)],
    )
    db.execute("INSERT INTO meta VALUES ('backup_date', '1661457549776')")
    return Facts(db)


@pytest.mark.parametrize(
    ("outcomes", "banner"),
    [
        (("passed", "failed", "warning"), "Not ready for Jira Cloud site import"),
        (("passed", "error"), "Not ready for Jira Cloud site import"),
        (("passed", "warning", "skipped"), "Ready, with warnings"),
        (("passed", "skipped"), "Ready for Jira Cloud site import"),
        ((), "Not checked: no rule ran"),
    ],
)
def test_banner_follows_the_worst_outcome(outcomes: tuple[str, ...], banner: str) -> None:
    rules = [rule_entry(f"rule-{index}", outcome) for index, outcome in enumerate(outcomes)]
    page = render_html(report(*rules), None)
    [shown] = re.findall(r'<div class="banner [a-z-]+" role="status">([^<]*)</div>', page)
    assert shown == banner


def test_identity_inventory_and_rule_table(hostile_facts: Facts) -> None:
    items = [{"user": f"u{n}", "detail": f"finding number {n}"} for n in range(MAX_ROWS + 5)]
    page = render_html(
        report(rule_entry("email-tld", "failed", items), rule_entry("email-present", "passed")),
        hostile_facts,
    )
    assert "site-backup.zip" in page and "ab" * 32 in page and "8.20.10" in page
    assert "2022-08-25 19:59 UTC" in page
    assert re.search(r"attachment bytes</th><td class=\"num\">3\.0 MB", page)
    assert page.count("<code>email-") == 2
    assert "finding number 0<" in page and f"finding number {MAX_ROWS - 1}<" in page
    assert f"finding number {MAX_ROWS}<" not in page
    assert "and 5 more — the full list is in the JSON report" in page
    assert "<h3>Attachment storage per project</h3>" in page
    assert "<h3>Users against the plan&#x27;s tiers</h3>" in page
    assert re.search(r"\d+ users? with product access fits? the [\d,]+-user tier", page)
    assert "Planned from the attachment sizes" in page


def test_data_is_escaped(hostile_facts: Facts) -> None:
    items = [{"user": HOSTILE, "detail": f"{HOSTILE} <{HOSTILE}@x.com>: bad"}]
    page = render_html(report(rule_entry("email-tld", "failed", items)), hostile_facts)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<b>P</b>" not in page and "&lt;b&gt;P&lt;/b&gt;" in page
    assert "<img" not in page
    assert page.count("<script>") == 1  # the print helper, nothing from the data


def test_no_external_resources(hostile_facts: Facts) -> None:
    page = render_html(report(rule_entry("email-tld", "warning")), hostile_facts)
    assert not re.search(r"\b(src|href|xlink:href|srcset|action)\s*=", page, re.I)
    assert "url(" not in page and "@import" not in page
    assert not re.search(r"https?://", page)


def test_invalid_domains_are_marked_and_redacted(hostile_facts: Facts) -> None:
    redactor = Redactor(b"k")
    plain = render_html(report(), hostile_facts)
    assert re.search(r'class="bar bad"[^>]*><title>The domain &#x27;acme&#x27; has no', plain)
    hostile_facts.mask = redactor
    masked = render_html(report(), hostile_facts)
    assert "acme" not in masked.split("<h2>Pictures</h2>")[1]
    assert f"The domain &#x27;{redactor.domain('acme')}&#x27; has no top-level domain" in masked


def test_media_targets_are_drawn_against_the_band(hostile_facts: Facts) -> None:
    hostile_facts.db.execute(
        "CREATE TABLE media_target (name TEXT PRIMARY KEY, path TEXT, kind TEXT,"
        " total_bytes INTEGER, files INTEGER, zip_bytes INTEGER)"
    )
    hostile_facts.db.execute(
        "INSERT INTO media_target VALUES ('chunk-1.zip', '/m', 'zip', 7e9, 10, 6e9)"
    )
    page = render_html(report(plan="premium"), hostile_facts)
    assert "chunk-1.zip" in page and "The media given with --jira-media." in page
    assert 'class="bar over"' in page
    assert "unlimited file storage" in page


def test_pictures_read_the_thresholds_the_run_used(hostile_facts: Facts) -> None:
    """The band and the storage come from the rules' settings in the report, and from the
    rules' own defaults when the report carries none (no copy of them in the renderer)."""
    configured = report()
    chunk_limits = configured["config"]["rules"]["media-chunk-size"]["limits"]
    chunk_limits.update(min_chunk=1_000_000, max_chunk=2_000_000)
    configured["config"]["rules"]["storage-within-plan"]["limits"]["standard_storage"] = 2_000_000
    page = render_html(configured, hostile_facts)
    assert "Media chunks against the 1.0 MB to 2.0 MB band" in page
    assert "3.0 MB of 2.0 MB" in page  # the attachments, over the configured storage

    bare = report()
    del bare["config"]["rules"]
    page = render_html(bare, hostile_facts)
    assert "Media chunks against the 2.0 GB to 5.0 GB band" in page
    assert "of 250.0 GB" in page


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the inflated scanlines of a PNG, read with zlib alone."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, width, height = 8, b"", 0, 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    return width, height, zlib.decompress(idat)


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")
def test_chromium_renders_the_page(tmp_path: Path) -> None:
    backup = tmp_path / "site-backup.zip"
    write_backup(backup, SynthSpec(faults=("email-no-tld", "email-duplicate")))
    facts = Facts.open(backup_store(backup, tmp_path, ArchiveLimits(), True))
    page = tmp_path / "report.html"
    page.write_text(render_html(report(rule_entry("email-tld", "failed")), facts), "utf-8")
    shot = tmp_path / "shot.png"
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
    ]  # fmt: skip
    shown = subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists(), shown.stderr
    assert not re.search(r"Uncaught|:CONSOLE[:(]", shown.stderr), shown.stderr
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (1280, 2000)
    assert len(set(pixels)) > 32, "the screenshot is blank"
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert "Not ready for Jira Cloud site import" in dom.stdout
    assert "<svg" in dom.stdout


def test_after_import_findings_have_their_own_section(hostile_facts: Facts) -> None:
    former = rule_entry(
        "former-users", "warning", [{"user": HOSTILE, "detail": f"{HOSTILE}: 2 comment authors"}]
    )
    page = render_html(report(rule_entry("email-unique", "passed"), former), hostile_facts)
    rules, after = page.split("<h2>After the import</h2>")
    assert "2 comment authors" in after
    assert "2 comment authors" not in rules
    assert "<code>former-users</code>" in after
    assert HOSTILE not in page


def test_no_after_import_section_without_its_rules(hostile_facts: Facts) -> None:
    page = render_html(report(rule_entry("email-unique", "passed")), hostile_facts)
    assert "After the import" not in page
