"""``jiramigrate split-media``: split media over 10 GB into 2-5 GB zips, grouped by project.

Atlassian's guide asks for media over 10 GB to be imported as several 2-5 GB
zips, each keeping the ``data/attachments/...`` root.  The plan packs whole
projects first-fit-decreasing (a project too big for one chunk is split by
its bucket, then issue folders), keeps avatars, logos and any other file in
the first chunk, and then moves small folders into an undersized last chunk
where that keeps every chunk between ``--min`` and ``--max``.

Writing fills one chunk at a time, so only that chunk's zip is open and the
number of chunks is not limited by the open-files limit.  It streams each file
in blocks (a source zip read member by member without extracting), writes
``media-N.zip.partial`` and renames the chunks only when all are complete, and
never writes into the source.
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
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from pytest_jiramigrate import facts
from pytest_jiramigrate.core.chunks import (
    FileList,
    Plan,
    plan_chunks,
    unit_of,
)
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.core.outputs import OutputError, check_output
from pytest_jiramigrate.core.sizes import format_size, parse_size
from pytest_jiramigrate.rules.base import plural
from pytest_jiramigrate.scan.media import scan_media

COPY_BLOCK = 1024 * 1024


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
    """Write ``media-N.zip`` into ``out`` from ``source`` (a directory or a zip), one at a time.

    Only one chunk is open at a time (plus the source zip, opened once), so the
    number of chunks is not bounded by the open-files limit: opening a writer
    per chunk up front died with EMFILE once the chunks outnumbered it.  Each
    chunk takes one pass over ``files`` and copies the files routed to it, so
    a chunk's members keep the order of ``files`` (the scan order), the same
    members in the same order as a single routed pass would give.

    Each chunk is written as ``media-N.zip.partial`` and renamed only when
    every chunk is complete, so a ``media-N.zip`` is never part of an
    unfinished split; on any error (an interrupt too) the partials are removed.
    """
    out.mkdir(parents=True, exist_ok=True)
    routes = plan.chunk_numbers()
    finals = {c.number: out / c.name for c in plan.chunks}
    partials = {n: path.with_name(path.name + ".partial") for n, path in finals.items()}
    try:
        with ExitStack() as stack:
            read = _reader(source, stack)
            for number in sorted(partials):
                with zipfile.ZipFile(partials[number], "w", zipfile.ZIP_STORED) as chunk:
                    for path, _ in files():
                        if routes[unit_of(path, plan.refined)] != number:
                            continue
                        info, stream = read(path)
                        with stream, chunk.open(info, "w", force_zip64=True) as sink:
                            shutil.copyfileobj(stream, sink, COPY_BLOCK)
    except BaseException:
        for partial in partials.values():
            partial.unlink(missing_ok=True)
        raise
    for number, partial in partials.items():
        os.replace(partial, finals[number])
    return [finals[n] for n in sorted(finals)]


def _reader(source: Path, stack: ExitStack) -> Callable[[str], tuple[zipfile.ZipInfo, IO[bytes]]]:
    """A function giving one source file as (zip entry for the chunk, open byte stream).

    A source zip is opened once here (closed with ``stack``) and read member by
    member, without extracting; a directory's files are opened one by one, and
    the caller closes each stream before opening the next.
    """
    if source.is_dir():

        def from_directory(path: str) -> tuple[zipfile.ZipInfo, IO[bytes]]:
            info = zipfile.ZipInfo.from_file(source / path, arcname=path)
            return info, (source / path).open("rb")

        return from_directory
    archive = stack.enter_context(zipfile.ZipFile(source))

    def from_zip(path: str) -> tuple[zipfile.ZipInfo, IO[bytes]]:
        original = archive.getinfo(path)
        info = zipfile.ZipInfo(path, date_time=original.date_time)
        info.external_attr = original.external_attr
        return info, archive.open(original)

    return from_zip


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
            print(
                f"wrote {plural(len(written), 'zip')} to {out} in {time.monotonic() - started:.1f}s"
            )
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
