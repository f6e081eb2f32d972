"""Time ``scan_media`` over a synthetic media tree of empty files and report its peak memory.

    /work/venv/bin/python benchmarks/media_scan.py --files 200000

The tree follows Jira 7+'s bucketed layout (20 projects, 5 attachments per
issue) under a temporary directory that is removed afterwards.  Creating a
million files takes minutes on its own; only the scan is timed.  Peak RSS is
``ru_maxrss`` of the whole process, shown next to the RSS before the scan so
that the scan's own growth is visible: it should stay flat as ``--files`` grows.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from pytest_jiramigrate import facts
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.scan.media import bucket_of, scan_media

PROJECTS = 20
FILES_PER_ISSUE = 5


def build_tree(root: Path, files: int) -> None:
    """``files`` empty attachments spread over projects, buckets and issues."""
    issues = -(-files // FILES_PER_ISSUE)
    per_project = -(-issues // PROJECTS)
    written = 0
    for issue in range(issues):
        project = f"P{issue // per_project}"
        number = issue % per_project + 1
        folder = (
            root / "data/attachments" / project / str(bucket_of(number)) / f"{project}-{number}"
        )
        folder.mkdir(parents=True)
        for _ in range(min(FILES_PER_ISSUE, files - written)):
            written += 1
            os.close(os.open(folder / str(10000 + written), os.O_CREAT | os.O_WRONLY, 0o644))


def rss_kib() -> int:
    """The current resident set size in KiB (Linux)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1_000_000, help="files in the tree")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="media-scan-bench-"))
    try:
        started = time.monotonic()
        build_tree(work / "media", args.files)
        print(f"built {args.files:,} files in {time.monotonic() - started:.1f}s")
        db = facts.create(work / "facts.sqlite")
        before = rss_kib()
        started = time.perf_counter()
        scan_media(work / "media", db, "media", ArchiveLimits())
        elapsed = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        counted = db.execute("SELECT files FROM media_target").fetchone()[0]
        db.close()
        print(f"scanned {counted:,} files in {elapsed:.2f}s ({counted / elapsed:,.0f} files/s)")
        print(f"RSS before scan {before / 1024:.1f} MiB, peak RSS {peak / 1024:.1f} MiB")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
