"""``jiramigrate split-media``: split media over 10 GB into 2-5 GB zips, grouped by project.

Atlassian's guide asks for media over 10 GB to be imported as several 2-5 GB
zips, each keeping the ``data/attachments/...`` root.  The plan packs whole
projects first-fit-decreasing (a project too big for one chunk is split by
its bucket, then issue folders), keeps avatars, logos and any other file in
the first chunk, and then moves small folders into an undersized last chunk
where that keeps every chunk between ``--min`` and ``--max``.

Writing streams each file in blocks into every chunk at once (one pass over
the source, a source zip read member by member without extracting), writes
``media-N.zip.partial`` and renames it only when complete, and never writes
into the source.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pytest_jiramigrate import facts
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.core.outputs import OutputError, check_output
from pytest_jiramigrate.core.sizes import format_size, parse_size
from pytest_jiramigrate.scan.media import scan_media

#: A chunk's zip costs this much beyond file data per member (local header,
#: central directory entry and Zip64 extras), plus the name twice.
ZIP_ENTRY_OVERHEAD = 128
#: end of central directory record plus the Zip64 end record and locator
ZIP_ARCHIVE_OVERHEAD = 22 + 56 + 20
COPY_BLOCK = 1024 * 1024
PROJECT_DEPTH = 3  # data/attachments/<PROJECT>

FileList = Callable[[], Iterable[tuple[str, int]]]


def zip_cost(path: str, size: int) -> int:
    """What one file adds to a stored (uncompressed) chunk zip."""
    return size + ZIP_ENTRY_OVERHEAD + 2 * len(path.encode())


def unit_of(path: str, refined: set[str]) -> str | None:
    """The folder a file moves with: its project, or a deeper folder of a split project.

    None for files outside ``data/attachments/<PROJECT>/``: avatars, logos and
    anything else, which all go in the first chunk.
    """
    parts = path.split("/")
    if parts[:2] != ["data", "attachments"] or len(parts) <= PROJECT_DEPTH:
        return None
    depth = PROJECT_DEPTH
    unit = "/".join(parts[:depth])
    while unit in refined and depth < len(parts):
        depth += 1
        unit = "/".join(parts[:depth])
    return unit


@dataclass
class Unit:
    name: str
    cost: int = 0
    bytes: int = 0
    files: int = 0
    #: True when the unit is a folder that could be split further
    folder: bool = False


@dataclass
class Chunk:
    """One output zip: the folders it holds and running totals of what they weigh."""

    number: int
    units: list[Unit] = field(default_factory=list)
    extras: Unit | None = None
    cost: int = 0
    bytes: int = 0
    files: int = 0

    def __post_init__(self) -> None:
        if self.extras is not None:
            self._count(self.extras, 1)

    @property
    def name(self) -> str:
        return f"media-{self.number}.zip"

    def add(self, unit: Unit) -> None:
        self.units.append(unit)
        self._count(unit, 1)

    def remove(self, unit: Unit) -> None:
        self.units.remove(unit)
        self._count(unit, -1)

    def _count(self, unit: Unit, sign: int) -> None:
        self.cost += sign * unit.cost
        self.bytes += sign * unit.bytes
        self.files += sign * unit.files

    def projects(self) -> list[str]:
        return sorted({u.name.split("/")[PROJECT_DEPTH - 1] for u in self.units})


@dataclass
class Plan:
    chunks: list[Chunk]
    refined: set[str]
    #: single files (or folders that cannot be split) larger than --max
    oversized: list[str]

    def chunk_numbers(self) -> dict[str | None, int]:
        """Unit name (None for the extras) -> chunk number, to route files while writing."""
        routes: dict[str | None, int] = {None: 1}
        for chunk in self.chunks:
            routes.update((unit.name, chunk.number) for unit in chunk.units)
        return routes


def _measure(files: FileList, refined: set[str]) -> tuple[dict[str, Unit], Unit]:
    """One pass over the files: the weight of each unit and of the extras."""
    units: dict[str, Unit] = {}
    extras = Unit("avatars, logos and other files")
    for path, size in files():
        name = unit_of(path, refined)
        unit = extras if name is None else units.setdefault(name, Unit(name))
        unit.cost += zip_cost(path, size)
        unit.bytes += size
        unit.files += 1
        unit.folder = unit.folder or (name is not None and name != path)
    return units, extras


def plan_chunks(files: FileList, max_bytes: int, min_bytes: int) -> Plan:
    """Group the files into chunks of at most ``max_bytes`` (zip size), at least ``min_bytes``
    where the sizes allow.  ``files`` is called once per pass and yields (path, size).
    """
    capacity = max_bytes - ZIP_ARCHIVE_OVERHEAD
    refined: set[str] = set()
    while True:
        units, extras = _measure(files, refined)
        too_big = {u.name for u in units.values() if u.cost > capacity and u.folder}
        if not too_big:
            break
        refined |= too_big
    chunks = [Chunk(1, extras=extras if extras.files else None)]
    oversized: list[str] = []
    for unit in sorted(units.values(), key=lambda u: (-u.cost, u.name)):
        if unit.cost > capacity:
            oversized.append(unit.name)
        home = next((c for c in chunks if c.cost + unit.cost <= capacity), None)
        if home is None:
            home = Chunk(len(chunks) + 1)
            chunks.append(home)
        home.add(unit)
    _fill_small_chunks(chunks, capacity, min_bytes)
    return Plan([c for c in chunks if c.files], refined, oversized)


def _fill_small_chunks(chunks: list[Chunk], capacity: int, min_bytes: int) -> None:
    """Move the smallest folders into a chunk under ``min_bytes`` while donors stay above it."""
    for small in chunks:
        for donor in chunks:
            if donor is small:
                continue
            for unit in sorted(donor.units, key=lambda u: u.cost):
                if small.cost >= min_bytes:
                    break
                fits = small.cost + unit.cost <= capacity
                if fits and donor.cost - unit.cost >= min_bytes:
                    donor.remove(unit)
                    small.add(unit)


def format_plan(plan: Plan) -> str:
    """The plan as a table: chunk, projects, files, bytes."""
    lines = [f"{'chunk':<14} {'files':>9} {'bytes':>10}  projects"]
    for chunk in plan.chunks:
        projects = ", ".join(chunk.projects()) or "-"
        if chunk.extras is not None:
            projects += " (+ avatars, logos)"
        lines.append(
            f"{chunk.name:<14} {chunk.files:>9} {format_size(chunk.bytes):>10}  {projects}"
        )
    lines.extend(
        f"warning: {name} alone is over the chunk size and gets a chunk of its own"
        for name in plan.oversized
    )
    return "\n".join(lines)


def write_chunks(source: Path, files: FileList, plan: Plan, out: Path) -> list[Path]:
    """Write ``media-N.zip`` into ``out`` in one pass over ``source`` (a directory or a zip).

    Each chunk is written as ``media-N.zip.partial`` and renamed when every
    chunk is complete; on any error the partial files are removed.
    """
    out.mkdir(parents=True, exist_ok=True)
    routes = plan.chunk_numbers()
    finals = {c.number: out / c.name for c in plan.chunks}
    partials = {n: path.with_name(path.name + ".partial") for n, path in finals.items()}
    try:
        with ExitStack() as stack:
            writers = {
                n: stack.enter_context(zipfile.ZipFile(p, "w", zipfile.ZIP_STORED))
                for n, p in partials.items()
            }
            for path, info, stream in _open_sources(source, files, stack):
                target = writers[routes[unit_of(path, plan.refined)]]
                with stream, target.open(info, "w", force_zip64=True) as sink:
                    shutil.copyfileobj(stream, sink, COPY_BLOCK)
    except BaseException:
        for partial in partials.values():
            partial.unlink(missing_ok=True)
        raise
    for number, partial in partials.items():
        os.replace(partial, finals[number])
    return [finals[n] for n in sorted(finals)]


def _open_sources(
    source: Path, files: FileList, stack: ExitStack
) -> Iterator[tuple[str, zipfile.ZipInfo, IO[bytes]]]:
    """Each file of the source as (path, zip entry for the chunk, open byte stream)."""
    if source.is_dir():
        for path, _ in files():
            info = zipfile.ZipInfo.from_file(source / path, arcname=path)
            yield path, info, (source / path).open("rb")
        return
    archive = stack.enter_context(zipfile.ZipFile(source))
    for path, _ in files():
        original = archive.getinfo(path)
        info = zipfile.ZipInfo(path, date_time=original.date_time)
        info.external_attr = original.external_attr
        yield path, info, archive.open(original)


# --------------------------------------------------------------------------- command line


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "split-media",
        help="split a media directory or zip into 2-5 GB zips grouped by project",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("source", type=Path, metavar="SRC", help="media directory or zip")
    parser.add_argument("--out", type=Path, required=True, help="directory for media-N.zip")
    parser.add_argument(
        "--max", type=parse_size, default=parse_size("5GB"), help="largest chunk (default 5GB)"
    )
    parser.add_argument(
        "--min",
        type=parse_size,
        default=parse_size("2GB"),
        help="smallest chunk where possible (default 2GB)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Plan, print, and (unless --dry-run) write the chunks; 2 on unusable input."""
    source: Path = args.source
    out: Path = args.out
    refusal = _refusal(source, out, args.max, args.min)
    if refusal:
        print(f"jiramigrate split-media: {refusal}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="jiramigrate-split-") as work:
        db = facts.create(Path(work) / "media.sqlite")
        try:
            scan_media(source, db, "source", ArchiveLimits())
            problems = db.execute("SELECT path, detail FROM media_problem").fetchall()
            if problems:
                for path, detail in problems:
                    print(f"jiramigrate split-media: {path}: {detail}", file=sys.stderr)
                print("jiramigrate split-media: fix the source first", file=sys.stderr)
                return 2
            files = _file_list(db)
            plan = plan_chunks(files, args.max, args.min)
            print(format_plan(plan))
            if args.dry_run:
                return 0
            started = time.monotonic()
            written = write_chunks(source, files, plan, out)
            print(f"wrote {len(written)} zips to {out} in {time.monotonic() - started:.1f}s")
        finally:
            db.close()
    return 0


def _file_list(db: sqlite3.Connection) -> FileList:
    def files() -> Iterator[tuple[str, int]]:
        yield from db.execute("SELECT path, size FROM media_file ORDER BY rowid")

    return files


def _refusal(source: Path, out: Path, max_bytes: int, min_bytes: int) -> str | None:
    """Why the command must not run, or None."""
    if not source.exists():
        return f"{source} does not exist"
    if min_bytes > max_bytes:
        return f"--min ({format_size(min_bytes)}) is larger than --max ({format_size(max_bytes)})"
    try:
        check_output(out, [source], directory=True)
    except OutputError as error:
        return f"--out: {error}"
    existing = sorted(out.glob("media-*.zip*")) if out.is_dir() else []
    if existing:
        return f"{out} already holds {existing[0].name}; choose an empty directory"
    return None
