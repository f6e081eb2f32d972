"""Property-based fuzzing of the backup scan: mutated real and synthetic backups.

Each example mutates a real backup (``jira-6.4-test-dvcs.zip`` from the corpus)
or a synthetic one: bit flips and truncation of the zip, random bytes, zip
entries in another order, and control characters inserted into entities.xml
(then re-zipped).  The library is called directly (scan, then every rule),
and every example must end with one of the five outcomes per rule, nothing
raised; every inserted forbidden character must be reported at its true line
and column.  (How long a scan takes is the benchmark's business.)  Each test
runs once per base backup; the real one is a ``corpus`` test.

CI runs a small budget.  For a long run set ``JIRAMIGRATE_FUZZ_EXAMPLES``::

    JIRAMIGRATE_FUZZ_EXAMPLES=300 /work/venv/bin/pytest tests/unit/test_fuzz.py -p no:randomly
"""

from __future__ import annotations

import io
import os
import random
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_jiramigrate.config import load_config
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.rules.builtin import pytest_jiramigrate_rules
from pytest_jiramigrate.rules.outcome import Outcome, evaluate
from pytest_jiramigrate.scan.backup import scan_backup
from synth import SynthSpec, write_backup

STATUSES = {"passed", "failed", "warning", "skipped", "error"}
#: XML 1.0 forbids these raw control characters (tab, LF and CR are allowed)
FORBIDDEN_CONTROLS = [chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)]

FUZZ = settings(
    max_examples=int(os.environ.get("JIRAMIGRATE_FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(
    scope="module", params=[pytest.param("real", marks=pytest.mark.corpus), "synthetic"]
)
def base(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The unmutated zip, read once: the real corpus backup or a synthetic one."""
    if request.param == "real":
        corpus: Path = request.getfixturevalue("corpus")
        return (corpus / "jira-6.4-test-dvcs.zip").read_bytes()
    synthetic = tmp_path_factory.mktemp("fuzz") / "synthetic.zip"
    write_backup(synthetic, SynthSpec(users=8, issues=15))
    return synthetic.read_bytes()


def members_of(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def zip_of(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def rules_and_settings() -> tuple[list, dict]:
    # the backup's rules: a media rule checks a media target, and a backup has none
    rules = [rule for rule in pytest_jiramigrate_rules(None) if rule.kind == "backup"]
    return rules, load_config(None, rules).rules


@pytest.fixture(scope="module")
def scan(rules_and_settings: tuple[list, dict]) -> Iterator:
    """``scan(zip_bytes) -> (outcomes, invalid-char rows)``, checked for shape."""
    rules, rule_settings = rules_and_settings
    workdir = Path(tempfile.mkdtemp(prefix="jiramigrate-fuzz-run-"))

    def run(data: bytes) -> tuple[list[Outcome], set[tuple[int, int]]]:
        backup, store = workdir / "site-backup.zip", workdir / "facts.sqlite"
        store.unlink(missing_ok=True)
        backup.write_bytes(data)
        scan_backup(backup, store, ArchiveLimits())
        facts = Facts.open(store)
        try:
            outcomes = [
                evaluate(rule, facts, rule_settings[rule.id], backup.name) for rule in rules
            ]
            bad_chars = {
                (row["line"], row["column"])
                for row in facts.query(
                    "SELECT line, column FROM xml_problem "
                    "WHERE kind = 'invalid-char' AND file = 'entities.xml'"
                )
            }
        finally:
            facts.db.close()
        assert {outcome.status for outcome in outcomes} <= STATUSES
        for outcome in outcomes:
            assert not outcome.reason.startswith("rule "), outcome.reason  # a rule raised
        return outcomes, bad_chars

    yield run
    shutil.rmtree(workdir)


@FUZZ
@given(flips=st.lists(st.integers(0, 2**40), max_size=8))
def test_bit_flips_in_the_zip(scan, base: bytes, flips: list[int]) -> None:
    data = bytearray(base)
    for flip in flips:
        data[(flip >> 3) % len(data)] ^= 1 << (flip & 7)
    scan(bytes(data))


@FUZZ
@given(fraction=st.floats(0, 1))
def test_truncated_zip(scan, base: bytes, fraction: float) -> None:
    outcomes, _ = scan(base[: int(len(base) * fraction)])
    by_id = {outcome.rule.id: outcome for outcome in outcomes}
    if fraction < 1:
        assert by_id["backup-archive"].status == "failed"


@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes(scan, data: bytes) -> None:
    outcomes, _ = scan(data)
    by_id = {outcome.rule.id: outcome for outcome in outcomes}
    assert by_id["backup-archive"].status == "failed"
    assert by_id["email-unique"].status != "passed"


@FUZZ
@given(seed=st.integers(0, 2**32))
def test_entry_order_does_not_change_any_outcome(scan, base: bytes, seed: int) -> None:
    members = members_of(base)
    shuffled = members[:]
    random.Random(seed).shuffle(shuffled)
    original, _ = scan(zip_of(members))
    reordered, _ = scan(zip_of(shuffled))
    assert [(o.rule.id, o.status, o.findings) for o in reordered] == [
        (o.rule.id, o.status, o.findings) for o in original
    ]


def insert_characters(text: str, inserts: list[tuple[int, str]]) -> tuple[str, set]:
    """``text`` with each ``(index, char)`` inserted; the true (line, column) of each insert.

    Indexes are taken modulo the length and apply to the original text, so the
    inserted characters never land inside one another.
    """
    by_position = sorted({index % (len(text) + 1): char for index, char in inserts}.items())
    pieces, truth, start = [], set(), 0
    line, column_base = 1, 0  # line number and the output index where it starts
    output_length = 0
    for position, char in by_position:
        piece = text[start:position]
        newlines = piece.count("\n")
        if newlines:
            line += newlines
            column_base = output_length + piece.rindex("\n") + 1
        output_length += len(piece)
        truth.add((line, output_length - column_base + 1))
        pieces += [piece, char]
        output_length += 1
        start = position
    pieces.append(text[start:])
    return "".join(pieces), truth


@FUZZ
@given(
    inserts=st.lists(
        st.tuples(st.integers(0, 2**32), st.sampled_from(FORBIDDEN_CONTROLS)),
        min_size=1,
        max_size=6,
    ),
)
def test_inserted_control_characters_are_reported_where_they_are(
    scan, base: bytes, inserts: list[tuple[int, str]]
) -> None:
    members = dict(members_of(base))
    text, truth = insert_characters(members["entities.xml"].decode("utf-8"), inserts)
    members["entities.xml"] = text.encode("utf-8")
    _, reported = scan(zip_of(list(members.items())))
    assert reported == truth


def test_insert_characters_locates_what_it_inserts() -> None:
    text, truth = insert_characters("ab\ncd\nef", [(0, "\x01"), (4, "\x02"), (8, "\x03")])
    assert text == "\x01ab\nc\x02d\nef\x03"
    assert truth == {(1, 1), (2, 2), (3, 3)}
