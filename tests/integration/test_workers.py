"""How many processes parse entities.xml: the available cores, or ``--jira-workers N``.

The pool is replaced by :class:`InlinePool`, which records its size: the tests
see the size asked for, deterministically, without processes or timing.
"""

from __future__ import annotations

import io
import itertools
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BackupFactory, JiraRun
from inline_pool import InlinePool

from pytest_jiramigrate import facts
from pytest_jiramigrate.scan import pieces


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the pools the scans start (each scan of a big file starts one)."""
    monkeypatch.setattr(InlinePool, "sizes", [])
    monkeypatch.setattr(pieces, "ProcessPoolExecutor", InlinePool)
    monkeypatch.setattr(pieces, "PARALLEL_FROM", 0)  # every file is big enough for a pool
    return InlinePool.sizes


@pytest.fixture
def entities_xml(synth_backup: BackupFactory) -> bytes:
    with zipfile.ZipFile(synth_backup().path) as archive:
        return archive.read("entities.xml")


def scan(xml: bytes, tmp_path: Path, workers: int | None = None) -> None:
    db = facts.create(tmp_path / "facts.sqlite")
    assert pieces.scan_entities(io.BytesIO(xml), db, len(xml), workers=workers) is None
    db.close()


def test_available_cores_follow_the_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pieces.os, "sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    monkeypatch.setattr(pieces.os, "cpu_count", lambda: 64)
    assert pieces.available_cores() == 3


def test_available_cores_without_affinity_are_the_machines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(pieces.os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(pieces.os, "cpu_count", lambda: 12)
    assert pieces.available_cores() == 12
    monkeypatch.setattr(pieces.os, "cpu_count", lambda: None)
    assert pieces.available_cores() == 1


def test_the_default_pool_has_one_worker_per_available_core(
    pools: list[int], entities_xml: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pieces.os, "sched_getaffinity", lambda pid: set(range(6)), raising=False)
    scan(entities_xml, tmp_path)
    assert pools == [6]


@pytest.mark.parametrize("workers", [2, 3, 16])
def test_the_pool_has_the_workers_asked_for(
    workers: int, pools: list[int], entities_xml: bytes, tmp_path: Path
) -> None:
    scan(entities_xml, tmp_path, workers)
    assert pools == [workers]


def test_one_worker_starts_no_pool(pools: list[int], entities_xml: bytes, tmp_path: Path) -> None:
    scan(entities_xml, tmp_path, 1)
    assert pools == []


def test_pieces_shrink_as_workers_grow_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pieces, "PIECE", 1 << 20)
    sizes = [pieces.piece_size(workers) for workers in (1, 2, 8, 16, 32, 64, 256)]
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[0] == sizes[1] == 1 << 20
    assert sizes[-1] == pieces.MIN_PIECE
    assert pieces.piece_size(32) * 2 * 32 <= pieces.IN_FLIGHT


# --------------------------------------------------------------------------- through pytest


def test_the_option_sets_the_pool_size(
    pools: list[int], synth_backup: BackupFactory, run_jira: JiraRun
) -> None:
    result = run_jira(synth_backup().path, "--jira-workers", "3")
    assert result.ret == pytest.ExitCode.OK
    assert pools == [3]


def test_the_ini_key_sets_the_pool_size_and_the_option_wins(
    pools: list[int], synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    pytester.makeini("[pytest]\njira_workers = 5\n")
    assert run_jira(synth_backup().path).ret == pytest.ExitCode.OK
    assert run_jira(synth_backup().path, "--jira-rescan", "--jira-workers=1").ret == 0
    assert pools == [5]  # the second run parsed in the pytest process: no pool


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_bad_worker_count_is_a_usage_error(
    value: str, synth_backup: BackupFactory, run_jira: JiraRun
) -> None:
    result = run_jira(synth_backup().path, f"--jira-workers={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"*--jira-workers must be a whole number of processes, 1 or more*got '{value}'"]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_a_bad_ini_worker_count_names_the_ini_key(
    synth_backup: BackupFactory, run_jira: JiraRun, pytester: pytest.Pytester
) -> None:
    pytester.makeini("[pytest]\njira_workers = many\n")
    result = run_jira(synth_backup().path)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*the jira_workers ini key must be a whole number*got 'many'"])


# --------------------------------------------------------------------------- reading ahead


def test_read_ahead_gives_every_block_in_order_then_stops_its_thread() -> None:
    blocks = [bytes([n]) * 100 for n in range(50)]
    reader = pieces.ReadAhead(iter(blocks))
    with reader as read:
        assert list(read) == blocks
    assert not reader._thread.is_alive()


def test_read_ahead_raises_the_sources_error_to_the_reader() -> None:
    def source() -> Iterator[bytes]:
        yield b"first"
        raise OSError("the zip member ended early")

    with pieces.ReadAhead(source()) as read:
        assert next(read) == b"first"
        with pytest.raises(OSError, match="ended early"):
            next(read)


def test_a_reader_leaving_early_stops_the_thread_without_reading_on() -> None:
    taken: list[int] = []

    def endless() -> Iterator[bytes]:
        for count in itertools.count():
            taken.append(count)
            yield b"x"

    reader = pieces.ReadAhead(endless())
    with reader as read:
        assert next(read) == b"x"
    assert not reader._thread.is_alive()
    assert len(taken) <= pieces.ReadAhead.DEPTH + 3  # the queue, one being put, one read


def test_a_scan_in_workers_reads_ahead(
    pools: list[int], entities_xml: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered: list[bool] = []
    monkeypatch.setattr(pieces.ReadAhead, "DEPTH", 1)
    original = pieces.ReadAhead.__enter__

    def recording(self: pieces.ReadAhead) -> Iterator[bytes]:
        entered.append(True)
        return original(self)

    monkeypatch.setattr(pieces.ReadAhead, "__enter__", recording)
    scan(entities_xml, tmp_path, 2)
    (tmp_path / "alone").mkdir()
    scan(entities_xml, tmp_path / "alone", 1)
    assert entered == [True]  # the scan with one worker read the stream itself


def test_rows_sent_as_images_or_pickled_give_the_same_facts(
    pools: list[int], synth_backup: BackupFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python 3.10 has no SQLite images: its workers pickle their rows instead."""
    backup = synth_backup("control-char", "email-no-tld", "long-description")
    with zipfile.ZipFile(backup.path) as archive:
        xml = archive.read("entities.xml")
    monkeypatch.setattr(pieces, "PIECE", 4096)
    facts_by_way = []
    for images in (True, False):
        monkeypatch.setattr(pieces, "IMAGES", images)
        path = tmp_path / f"images-{images}.sqlite"
        db = facts.create(path)
        assert pieces.scan_entities(io.BytesIO(xml), db, len(xml), workers=2) is None
        tables = [
            row[0] for row in db.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")
        ]
        facts_by_way.append(
            {t: db.execute(f"SELECT * FROM main.{t} ORDER BY rowid").fetchall() for t in tables}
        )
        db.close()
    with_images, pickled = facts_by_way
    assert with_images == pickled
    assert with_images["user"] and with_images["xml_problem"]


def test_images_whose_tables_differ_piece_by_piece_merge_whole(tmp_path: Path) -> None:
    """Each piece's image lays its tables out anew: a statement prepared against the previous
    image (same schema version, other root pages) must never read the next one."""
    db = facts.create(tmp_path / "facts.sqlite")
    scan = pieces.FastScan(db)
    first = pieces.rows_image({"worklog": [("2", "10", 3, 2)], "comment": [("1", "10", 5, 1)]})
    second = pieces.rows_image(
        {"scan_user_ref": [("worklog", "bob", None)], "worklog": [("3", "11", 4, 3)]}
    )
    scan._merge(first, ["worklog", "comment"])
    scan._merge(second, ["scan_user_ref", "worklog"])
    assert db.execute("SELECT id FROM worklog ORDER BY rowid").fetchall() == [("2",), ("3",)]
    assert db.execute("SELECT user_key FROM scan_user_ref").fetchall() == [("bob",)]
    db.close()
