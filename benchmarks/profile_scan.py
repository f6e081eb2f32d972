"""Where the CPU of a cold entities.xml scan goes, per process and per stage.

    python benchmarks/profile_scan.py site-backup.zip            # a Markdown table
    python benchmarks/profile_scan.py site-backup.zip --json     # the same as JSON

Every stage of the fast scan runs here, in this one process, one after the
other, and is charged the CPU time (``time.process_time``) it takes, so the
numbers mean something even on a loaded machine (wall time would not):

* main process: inflating the zip member, cutting it into pieces, sending
  pieces to the workers and their results back (pickling both ways), and
  writing the results into the facts store (from the workers' SQLite images
  where Python has ``sqlite3.Connection.serialize``, 3.11+);
* workers: the forbidden-character scan, the XML parse, and reading rows
  (with writing them into an image).

The main process's share is the serial part of the scan, which more cores
cannot shorten (Amdahl).
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from pytest_jiramigrate import facts
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.scan import pieces
from pytest_jiramigrate.scan.archive import open_member
from pytest_jiramigrate.scan.entities import blocks_of, declared_encoding

T = TypeVar("T")
MAIN = ("inflate", "cut", "pickle (both ways)", "merge/insert")
WORKER = ("char scan", "parse", "row read")


class Clock:
    """CPU seconds charged to named stages."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(MAIN + WORKER, 0.0)

    def charge(self, stage: str, work: Callable[..., T], *args: object) -> T:
        start = time.process_time()
        try:
            return work(*args)
        finally:
            self.seconds[stage] += time.process_time() - start

    def timed(self, stage: str, items: Iterator[T]) -> Iterator[T]:
        """Charge the time spent producing each item of ``items`` to ``stage``."""
        while True:
            start = time.process_time()
            item = next(items, None)
            self.seconds[stage] += time.process_time() - start
            if item is None:
                return
            yield item


def profile(backup: Path, workers: int) -> tuple[Clock, int]:
    """Run every stage of the scan of ``backup``'s entities.xml in this process."""
    clock = Clock()
    total = 0
    with tempfile.TemporaryDirectory() as scratch:
        db = facts.create(Path(scratch) / "facts.sqlite")
        db.execute("BEGIN")
        scan = pieces.FastScan(db, workers=1)
        with open_member(backup, "entities.xml", ArchiveLimits()) as stream:
            blocks = clock.timed("inflate", blocks_of(stream))
            head = next(blocks)
            encoding, _bom = declared_encoding(head)
            cut = pieces.cut_pieces(blocks, head, encoding, pieces.piece_size(workers))
            inflated_before_cut = clock.seconds["inflate"]
            for piece in clock.timed("cut", cut):
                total += len(piece.data)
                sent = clock.charge("pickle (both ways)", pickle.dumps, piece)
                result = staged_scan(pickle.loads(sent), clock, pieces.IMAGES)
                back = clock.charge("pickle (both ways)", pickle.dumps, result)
                received = clock.charge("pickle (both ways)", pickle.loads, back)
                clock.charge("merge/insert", scan._take, received)
        # cutting pulls the blocks: their inflating is charged to both, so take it off one
        clock.seconds["cut"] -= clock.seconds["inflate"] - inflated_before_cut
        clock.charge("merge/insert", db.execute, "COMMIT")
        db.close()
    return clock, total


def staged_scan(piece: pieces.Piece, clock: Clock, image: bool) -> pieces.PieceResult:
    """:func:`pieces.scan_piece`, its stages charged apart.

    The char scan and the parse are timed alone first; then the whole of
    ``scan_piece`` runs, and what it takes beyond them is the row reading.
    """
    before = clock.seconds["char scan"] + clock.seconds["parse"]
    chars = pieces.CharScanner(piece.encoding, offset=piece.offset, lines=piece.lines)
    masked = clock.charge("char scan", lambda: chars.feed(piece.data)[0])
    tail = clock.charge("char scan", lambda: chars.finish()[0])
    prefix = b"" if piece.first else pieces.PREFIX
    suffix = b"" if piece.last else pieces.SUFFIX

    def parse_only() -> None:
        parser = pieces.tree_parser(piece.encoding)
        for part in (prefix, masked, tail, suffix):
            parser.feed(part)
        parser.close()

    clock.charge("parse", parse_only)
    alone = clock.seconds["char scan"] + clock.seconds["parse"] - before
    start = time.process_time()
    result = pieces.scan_piece(piece, image)
    clock.seconds["row read"] += max(0.0, time.process_time() - start - alone)
    return result


def render(clock: Clock, total: int) -> str:
    megabytes = total / 1e6
    lines = [
        f"CPU seconds per stage for {megabytes:,.0f} MB of entities.xml "
        "(one process, stages run one after another):",
        "",
        "| process | stage | CPU s | s per 100 MB | share |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    whole = sum(clock.seconds.values()) or 1.0
    for process, stages in (("main", MAIN), ("worker", WORKER)):
        for stage in stages:
            seconds = clock.seconds[stage]
            per = seconds / megabytes * 100 if megabytes else 0.0
            lines.append(
                f"| {process} | {stage} | {seconds:.2f} | {per:.2f} | {seconds / whole:.0%} |"
            )
    serial = sum(clock.seconds[stage] for stage in MAIN) / whole
    lines += ["", f"Serial (main process) share of the CPU: {serial:.0%}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("backup", type=Path, help="a site backup zip")
    parser.add_argument("--workers", type=int, default=2, help="sets the piece size")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    clock, total = profile(args.backup, args.workers)
    if args.json:
        print(json.dumps({"bytes": total, "cpu_seconds": clock.seconds}))
    else:
        print(render(clock, total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
