"""``jiramigrate split-media``: planning chunks, writing them, the round trip through the rules."""

from __future__ import annotations

import hashlib
import resource
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from pytest_jiramigrate import facts as facts_store
from pytest_jiramigrate.commands import cli
from pytest_jiramigrate.commands.split import write_chunks
from pytest_jiramigrate.core.chunks import (
    ZIP_ARCHIVE_OVERHEAD,
    Plan,
    plan_chunks,
    unit_of,
    zip_cost,
)
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.rules import media as rules
from pytest_jiramigrate.rules.base import Rule, RuleSettings, Verdict
from pytest_jiramigrate.rules.site import CloudSite
from pytest_jiramigrate.scan.media import scan_media


def attachment(project: str, number: int, attachment_id: int) -> str:
    bucket = -(-number // 10000) * 10000
    return f"data/attachments/{project}/{bucket}/{project}-{number}/{attachment_id}"


#: three projects of very different sizes, plus avatars and a logo
TREE: dict[str, bytes] = {
    **{attachment("BIG", n, 100 + n): bytes([n]) * 400 for n in range(1, 9)},
    attachment("BIG", 10001, 200): b"b" * 400,
    **{attachment("MID", n, 300 + n): b"m" * 300 for n in range(1, 4)},
    attachment("TINY", 1, 400): b"t" * 50,
    "data/avatars/10010_48x48project.png": b"a" * 30,
    "logos/logo.png": b"l" * 20,
}
MAX = 2000
MIN = 800


def write_tree(root: Path, files: Mapping[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def file_list(files: Mapping[str, bytes]) -> Iterable[tuple[str, int]]:
    return [(name, len(data)) for name, data in files.items()]


def plan_of(files: Mapping[str, bytes], max_bytes: int = MAX, min_bytes: int = MIN) -> Plan:
    return plan_chunks(lambda: file_list(files), max_bytes, min_bytes)


def fingerprint(path: Path) -> dict[str, str]:
    """Every file under ``path`` (or the file itself) with its SHA-256."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def check(rule: Rule, facts: Facts, target: str, **limits: int) -> Verdict:
    limits = {**rule.defaults(), **limits}
    settings = RuleSettings(rule.severity, 0, limits, CloudSite(), subject=target)
    return rule.check(facts, settings)


# --------------------------------------------------------------------------- planning


def test_unit_of_is_the_project_unless_refined() -> None:
    path = attachment("BIG", 3, 103)
    assert unit_of(path, set()) == "data/attachments/BIG"
    assert unit_of(path, {"data/attachments/BIG"}) == "data/attachments/BIG/10000"
    refined = {"data/attachments/BIG", "data/attachments/BIG/10000"}
    assert unit_of(path, refined) == "data/attachments/BIG/10000/BIG-3"
    assert unit_of("data/avatars/1_x.png", set()) is None
    assert unit_of("logos/logo.png", set()) is None


def test_plan_keeps_projects_whole_and_chunks_under_max() -> None:
    small = {name: data for name, data in TREE.items() if "/BIG/" not in name}
    plan = plan_of(small, max_bytes=4000)
    assert [c.projects() for c in plan.chunks] == [["MID", "TINY"]]
    assert plan.chunks[0].extras is not None
    assert plan.chunks[0].files == len(small)
    assert plan.chunks[0].bytes == sum(map(len, small.values()))


def test_plan_splits_a_project_over_max_by_folders() -> None:
    plan = plan_of(TREE)
    assert all(c.cost + ZIP_ARCHIVE_OVERHEAD <= MAX for c in plan.chunks)
    assert sum(c.files for c in plan.chunks) == len(TREE)
    assert sum(c.bytes for c in plan.chunks) == sum(map(len, TREE.values()))
    assert "data/attachments/BIG" in plan.refined
    assert {"data/attachments/MID", "data/attachments/TINY"} <= {
        unit.name for chunk in plan.chunks for unit in chunk.units
    }
    assert [c.number for c in plan.chunks if c.extras is not None] == [1]
    assert [c.projects().count("BIG") for c in plan.chunks].count(1) >= 2
    assert plan.oversized == []


def test_plan_lifts_an_undersized_chunk_where_it_can() -> None:
    files = {attachment(p, 1, i): b"x" * 600 for i, p in enumerate("ABCDE", start=1)}
    cost = zip_cost(attachment("A", 1, 1), 600)
    plan = plan_of(files, max_bytes=3 * cost + ZIP_ARCHIVE_OVERHEAD, min_bytes=2 * cost)
    assert sorted(c.files for c in plan.chunks) == [2, 3]
    assert all(c.cost >= 2 * cost for c in plan.chunks)


def test_plan_gives_a_file_over_max_a_chunk_of_its_own() -> None:
    files = {attachment("A", 1, 1): b"x" * 5000, attachment("B", 1, 2): b"y" * 10}
    plan = plan_of(files)
    assert plan.oversized == [attachment("A", 1, 1)]
    assert sorted(c.files for c in plan.chunks) == [1, 1]


# --------------------------------------------------------------------------- command


def run_split(source: Path, out: Path, *extra: str) -> int:
    return cli.main(
        [
            "split-media",
            str(source),
            "--out",
            str(out),
            "--max",
            str(MAX),
            "--min",
            str(MIN),
            *extra,
        ]
    )


def test_dry_run_prints_the_plan_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_tree(tmp_path / "media", TREE)
    out = tmp_path / "chunks"
    assert run_split(source, out, "--dry-run") == 0
    printed = capsys.readouterr().out
    assert "media-1.zip" in printed and "(+ avatars, logos)" in printed
    assert not out.exists()


@pytest.mark.parametrize("as_zip", [False, True])
def test_split_round_trip_passes_the_media_rules(tmp_path: Path, as_zip: bool) -> None:
    tree_root = write_tree(tmp_path / "media", TREE)
    source = tree_root
    if as_zip:
        source = tmp_path / "media.zip"
        with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in TREE.items():
                archive.writestr(name, data)
    before = fingerprint(source)
    out = tmp_path / "chunks"
    assert run_split(source, out) == 0
    assert fingerprint(source) == before
    chunks = sorted(out.iterdir())
    assert [c.name for c in chunks] == [f"media-{n}.zip" for n in range(1, len(chunks) + 1)]
    assert len(chunks) >= 3
    contents: dict[str, bytes] = {}
    for chunk in chunks:
        with zipfile.ZipFile(chunk) as archive:
            assert archive.testzip() is None
            contents.update((name, archive.read(name)) for name in archive.namelist())
    assert contents == TREE
    db = facts_store.create(tmp_path / "facts.sqlite")
    for chunk in chunks:
        scan_media(chunk, db, chunk.name, ArchiveLimits())
    facts = Facts(db)
    for chunk in chunks:
        for rule in (rules.media_archive, rules.media_structure, rules.attachment_paths):
            assert not check(rule, facts, chunk.name).findings, (rule.id, chunk.name)
        assert not check(rules.media_chunk_size, facts, chunk.name, max_chunk=MAX).findings


def test_split_refuses_an_output_inside_the_source(tmp_path: Path) -> None:
    source = write_tree(tmp_path / "media", TREE)
    assert run_split(source, source / "chunks") == 2
    assert not (source / "chunks").exists()


def test_split_refuses_to_mix_with_earlier_chunks(tmp_path: Path) -> None:
    source = write_tree(tmp_path / "media", TREE)
    out = tmp_path / "chunks"
    out.mkdir()
    (out / "media-1.zip").write_bytes(b"old")
    assert run_split(source, out) == 2
    assert (out / "media-1.zip").read_bytes() == b"old"


def test_split_refuses_a_source_with_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_tree(tmp_path / "media", TREE)
    (source / "logos/escape").symlink_to("/etc/hostname")
    out = tmp_path / "chunks"
    assert run_split(source, out) == 2
    assert "logos/escape" in capsys.readouterr().err
    assert not out.exists()


#: a descriptor limit far below the number of chunks written under it
LOW_NOFILE = 40


def limit_open_files() -> None:
    """Lower the soft descriptor limit in the child, before it runs."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (LOW_NOFILE, hard))


@pytest.mark.parametrize("as_zip", [False, True])
def test_split_into_more_chunks_than_open_files_allowed(tmp_path: Path, as_zip: bool) -> None:
    """More chunks than the descriptor limit: each chunk is written with only it open.

    Opening a writer for every chunk at once died with EMFILE ("too many open
    files") once the chunks outnumbered the limit.  Here every project is one
    chunk of its own (``--max`` fits one file, ``--min`` is 1 byte, so no chunk
    can take another's folder) and there are twice as many chunks as
    descriptors.
    """
    projects = 2 * LOW_NOFILE
    tree = {
        attachment(f"P{n:03}", i, 10 * n + i): f"{n}-{i}".encode() * 5
        for n in range(1, projects + 1)
        for i in (1, 2)
    }
    source = write_tree(tmp_path / "media", tree)
    if as_zip:
        source = tmp_path / "media.zip"
        with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in tree.items():
                archive.writestr(name, data)
    project_cost = sum(zip_cost(name, len(data)) for name, data in tree.items()) // projects
    out = tmp_path / "chunks"
    done = subprocess.run(
        [sys.executable, "-m", "pytest_jiramigrate.commands.cli", "split-media", str(source),
         "--out", str(out), "--max", str(project_cost + ZIP_ARCHIVE_OVERHEAD + 50),
         "--min", "1"],
        capture_output=True, text=True, timeout=120, preexec_fn=limit_open_files,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    chunks = sorted(out.iterdir(), key=lambda p: int(p.name.split("-")[1].split(".")[0]))
    assert [c.name for c in chunks] == [f"media-{n}.zip" for n in range(1, projects + 1)]
    seen: dict[str, bytes] = {}
    for chunk in chunks:
        with zipfile.ZipFile(chunk) as archive:
            assert archive.testzip() is None
            names = archive.namelist()
            assert len(names) == 2 and len({name.split("/")[2] for name in names}) == 1
            assert not seen.keys() & names, chunk.name
            seen.update((name, archive.read(name)) for name in names)
    assert seen == tree


def test_a_failed_write_leaves_no_partial_or_final_zip(tmp_path: Path) -> None:
    source = write_tree(tmp_path / "media", TREE)
    listed = [*file_list(TREE), ("data/attachments/GONE/10000/GONE-1/1", 5)]
    plan = plan_chunks(lambda: listed, MAX, MIN)
    out = tmp_path / "chunks"
    with pytest.raises(FileNotFoundError):
        write_chunks(source, lambda: listed, plan, out)
    assert list(out.iterdir()) == []
