"""Time the readiness run on synthetic backups next to xmllint, and write BENCHMARKS.md.

    /work/venv/bin/python benchmarks/bench_scan.py                  # 400 MB and 2 GB, 3 runs
    /work/venv/bin/python benchmarks/bench_scan.py --sizes 400 --repeat 1
    /work/venv/bin/python benchmarks/bench_scan.py --small          # ~20 MB, for CI

The issue's targets are relative to ``xmllint --stream`` (libxml2's streaming
reader, the floor for any tool that parses the whole file) on the same file and
machine, so every command is measured side by side in one run:

* inflating the ``entities.xml`` member of the zip only (the floor for reading it);
* ``xmllint --stream --noout`` on the extracted file;
* the readiness run as a user starts it, cold (``--jira-rescan``);
* the same run warm: a YAML threshold changed, the cached facts reused;
* ``xmllint --noout`` (DOM, as Atlassian recommends) on files below 1 GB only:
  it holds the whole tree in memory.

Each command runs in a fresh wrapper process that reports its child's wall time
and the peak RSS of the child and all its descendants together (the scan's
worker processes count), so the numbers do not depend on ``/usr/bin/time`` or
on earlier commands.  Inputs (zips
from the synthesizer, the extracted XML) are cached in ``--work`` between runs.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

MB = 1_000_000
REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORK = Path.home() / ".cache" / "jiramigrate-bench"
#: users in the big backups (the issue's realistic site); small ones scale down
MAX_USERS = 20_000
#: the DOM parse needs several times the file in memory: only below this size
DOM_MAX_MB = 1_000
#: a size at least this big stands for the issue's "2 GB" backup
BIG_MB = 1_500

CMD_INFLATE = "inflate zip member"
CMD_STREAM = "xmllint --stream"
CMD_COLD = "readiness run, cold"
CMD_WARM = "readiness run, warm"
CMD_DOM = "xmllint (DOM)"
CMD_CLEAN = "jiramigrate clean-xml"
CMD_FIX = "jiramigrate fix, every fix on (with both checks)"
#: the plan of the fix row: every fix on (the e-mail CSV names no one, so that fix
#: costs its inventory pass and changes nothing)
FIX_PLAN = textwrap.dedent(
    """\
    characters: true
    memberships: true
    emails: emails.csv
    long-text:
      marker: " [cut]"
    app-data: [com.pyxis.greenhopper.jira]
    """
)
CMD_RECOMPRESS = "inflate + deflate (level 1)"

#: runs ``argv[3:]`` and writes "<wall seconds> <peak RSS KiB> <exit code>" to argv[1];
#: the child's output goes to argv[2].  The peak is of the child and all its
#: descendants together (the scan's worker processes), sampled from /proc every
#: 50 ms, and never below the child's own peak from getrusage.
WRAPPER = textwrap.dedent(
    """
    import os, resource, subprocess, sys, time

    def children():
        parents = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/stat") as stat:
                        parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                    parents.setdefault(parent, []).append(int(name))
                except OSError:
                    pass
        return parents

    def tree_rss(root):
        parents, todo, total = children(), [root], 0
        while todo:
            pid = todo.pop()
            todo += parents.get(pid, [])
            try:
                with open(f"/proc/{pid}/status") as status:
                    total += next((int(l.split()[1]) for l in status if l.startswith("VmRSS:")), 0)
            except OSError:
                pass
        return total

    with open(sys.argv[2], "wb") as log:
        started = time.perf_counter()
        child = subprocess.Popen(sys.argv[3:], stdout=log, stderr=subprocess.STDOUT)
        sampled = 0
        while child.poll() is None:
            if os.path.isdir("/proc"):
                sampled = max(sampled, tree_rss(child.pid))
            time.sleep(0.05)
        wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if sys.platform == "darwin":
        peak //= 1024
    with open(sys.argv[1], "w") as out:
        out.write(f"{wall} {max(peak, sampled)} {child.returncode}")
    """
)

#: what clean-xml cannot do faster: inflate the member and deflate it again (at
#: clean-xml's default level) into a new zip
RECOMPRESS = (
    "import sys, zipfile\n"
    "with zipfile.ZipFile(sys.argv[1]) as source, source.open('entities.xml') as member,"
    " zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED, compresslevel=1) as out,"
    " out.open('entities.xml', 'w', force_zip64=True) as sink:\n"
    "    while block := member.read(1 << 20):\n"
    "        sink.write(block)\n"
)

INFLATE = (
    "import sys, zipfile\n"
    "with zipfile.ZipFile(sys.argv[1]).open('entities.xml') as member:\n"
    "    while member.read(1 << 20):\n"
    "        pass\n"
)


@dataclass(frozen=True)
class Sample:
    """One measured run of one command."""

    wall: float
    peak_rss_mb: float


@dataclass(frozen=True)
class Row:
    """The medians of one command's runs on one backup."""

    size_mb: int
    what: str
    xml_bytes: int
    samples: tuple[Sample, ...]

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def peak_rss_mb(self) -> float:
        """The highest of the runs: a memory target is about the worst case."""
        return max(s.peak_rss_mb for s in self.samples)

    @property
    def mb_per_s(self) -> float:
        return self.xml_bytes / MB / self.wall


@dataclass(frozen=True)
class Backup:
    """A cached synthetic backup and its extracted entities.xml."""

    size_mb: int
    zip_path: Path
    xml_path: Path

    @property
    def xml_bytes(self) -> int:
        return self.xml_path.stat().st_size


#: the repository's root, where ``python -m synth`` finds the synthesizer
REPOSITORY = Path(__file__).resolve().parent.parent


def users_for(size_mb: int) -> int:
    """20,000 users on the big backups; fewer on small ones, where users would dominate."""
    return min(MAX_USERS, max(20, size_mb * 50))


def prepare_backup(work: Path, size_mb: int) -> Backup:
    """Synthesize (once) a backup with about ``size_mb`` MB of entities.xml, and extract it."""
    zip_path = work / f"backup-{size_mb}mb-{users_for(size_mb)}users.zip"
    if not zip_path.exists():
        print(f"synthesizing {zip_path} ...", flush=True)
        partial = zip_path.with_suffix(".partial.zip")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "synth",
                str(partial),
                "--target-mb",
                str(size_mb),
                "--users",
                str(users_for(size_mb)),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=REPOSITORY,  # the synthesizer is test tooling beside the package, not in it
        )
        partial.rename(zip_path)
    xml_path = zip_path.with_suffix("") / "entities.xml"
    if not xml_path.exists():
        print(f"extracting {xml_path} ...", flush=True)
        xml_path.parent.mkdir(exist_ok=True)
        partial_xml = xml_path.with_suffix(".partial")
        with (
            zipfile.ZipFile(zip_path) as archive,
            archive.open("entities.xml") as member,
            partial_xml.open("wb") as out,
        ):
            shutil.copyfileobj(member, out, 1 << 20)
        partial_xml.rename(xml_path)
    return Backup(size_mb, zip_path, xml_path)


def measure(argv: Sequence[str], cwd: Path, log: Path, accept: Sequence[int] = (0,)) -> Sample:
    """Run ``argv`` under the wrapper and read back its wall time and peak RSS."""
    result = log.with_suffix(".result")
    subprocess.run(
        [sys.executable, "-c", WRAPPER, str(result), str(log), *argv], cwd=cwd, check=True
    )
    wall, peak_kib, code = result.read_text().split()
    if int(code) not in accept:
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"{' '.join(argv)} exited with {code}:\n{tail}")
    return Sample(float(wall), int(peak_kib) / 1024)


def write_run_config(folder: Path, summary_max_chars: int) -> None:
    """The scratch project of a readiness run: its own rootdir and a jiramigrate.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "jiramigrate.yaml").write_text(
        f"rules:\n  summary-length:\n    max_chars: {summary_max_chars}\n"
    )


def readiness_argv(backup: Backup, rescan: bool) -> list[str]:
    """The command a user types, run with this interpreter.

    The development venv also holds hypothesis and xdist, whose pytest plugins
    cost a second at start-up that a user's CI venv does not pay: they are off.
    """
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:randomly",
        "-p",
        "no:hypothesispytest",
        "-p",
        "no:xdist",
        f"--jira-backup={backup.zip_path}",
    ]
    return [*argv, "--jira-rescan", "-q"] if rescan else [*argv, "-q"]


def bench_backup(backup: Backup, work: Path, repeat: int) -> list[Row]:
    """Every command of the table on one backup, each ``repeat`` times."""
    scratch = work / f"run-{backup.size_mb}mb"
    shutil.rmtree(scratch, ignore_errors=True)
    write_run_config(scratch, 250)
    log = scratch / "command.log"
    # exit code 1 is a readiness finding (a rule failed), not a broken run
    readiness_ok = (0, 1)

    def run(what: str, make_argv: Callable[[int], list[str]], accept: Sequence[int] = (0,)) -> Row:
        print(f"  {backup.size_mb} MB: {what}", flush=True)
        samples = tuple(measure(make_argv(i), scratch, log, accept) for i in range(repeat))
        return Row(backup.size_mb, what, backup.xml_bytes, samples)

    def warm_argv(repetition: int) -> list[str]:
        write_run_config(scratch, 251 if repetition % 2 == 0 else 250)
        return readiness_argv(backup, rescan=False)

    rows = [run(CMD_INFLATE, lambda _: [sys.executable, "-c", INFLATE, str(backup.zip_path)])]
    xmllint = shutil.which("xmllint")
    if not xmllint:
        print("  xmllint is not installed: its rows are skipped", flush=True)
    if xmllint:
        rows.append(
            run(CMD_STREAM, lambda _: [xmllint, "--stream", "--noout", str(backup.xml_path)])
        )
    rows.append(run(CMD_COLD, lambda _: readiness_argv(backup, rescan=True), readiness_ok))
    rows.append(run(CMD_WARM, warm_argv, readiness_ok))
    if xmllint and backup.size_mb < DOM_MAX_MB:
        rows.append(run(CMD_DOM, lambda _: [xmllint, "--noout", str(backup.xml_path)]))
    copy = scratch / "copy.zip"
    rows.append(
        run(
            CMD_RECOMPRESS,
            lambda _: [sys.executable, "-c", RECOMPRESS, str(backup.zip_path), str(copy)],
        )
    )

    def clean_argv(_: int) -> list[str]:
        copy.unlink(missing_ok=True)
        cli = [sys.executable, "-m", "pytest_jiramigrate.commands.cli", "clean-xml"]
        return [*cli, str(backup.zip_path), "--out", str(copy)]

    rows.append(run(CMD_CLEAN, clean_argv))
    (scratch / "fixes.yaml").write_text(FIX_PLAN, encoding="utf-8")
    (scratch / "emails.csv").write_text("user,new_email\n", encoding="utf-8")

    def fix_argv(_: int) -> list[str]:
        copy.unlink(missing_ok=True)
        cli = [sys.executable, "-m", "pytest_jiramigrate.commands.cli", "fix", str(backup.zip_path)]
        return [*cli, "--out", str(copy), "--plan", str(scratch / "fixes.yaml")]

    rows.append(run(CMD_FIX, fix_argv, readiness_ok))
    copy.unlink(missing_ok=True)
    return rows


def find(rows: Sequence[Row], size_mb: int, what: str) -> Row | None:
    return next((r for r in rows if r.size_mb == size_mb and r.what == what), None)


def ratio_to_stream(rows: Sequence[Row], row: Row) -> float | None:
    stream = find(rows, row.size_mb, CMD_STREAM)
    return row.wall / stream.wall if stream else None


def render_table(rows: Sequence[Row]) -> str:
    lines = [
        "| size | what | median wall s | MB/s | peak RSS MB | ratio to xmllint --stream |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        ratio = ratio_to_stream(rows, row)
        lines.append(
            f"| {row.xml_bytes / MB:,.0f} MB | {row.what} | {row.wall:.2f} | {row.mb_per_s:.1f} "
            f"| {row.peak_rss_mb:.0f} | {'-' if ratio is None else f'{ratio:.2f}x'} |"
        )
    return "\n".join(lines)


def verdict(met: bool | None) -> str:
    return {True: "**met**", False: "**missed**", None: "not measured"}[met]


def evaluate_targets(rows: Sequence[Row]) -> list[tuple[str, str, bool | None]]:
    """The issue's targets as (target, measured value, met?); None where not measured."""
    sizes = sorted({r.size_mb for r in rows})
    targets: list[tuple[str, str, bool | None]] = []
    for size in sizes:
        cold = find(rows, size, CMD_COLD)
        ratio = ratio_to_stream(rows, cold) if cold else None
        measured = "-" if ratio is None else f"{ratio:.2f}x"
        met = None if ratio is None else ratio <= 1.5
        targets.append((f"cold full run <= 1.5x xmllint --stream ({size} MB)", measured, met))
    big = max(sizes) if sizes and max(sizes) >= BIG_MB else None
    big_cold = find(rows, big, CMD_COLD) if big else None
    small_cold = find(rows, min(sizes), CMD_COLD) if big and min(sizes) < big else None
    targets.append(
        (
            "~2 GB entities.xml checked (cold) under 60 s",
            f"{big_cold.wall:.1f} s" if big_cold else "-",
            big_cold.wall < 60 if big_cold else None,
        )
    )
    targets.append(
        (
            "peak RSS of the cold run <= 250 MB on ~2 GB",
            f"{big_cold.peak_rss_mb:.0f} MB" if big_cold else "-",
            big_cold.peak_rss_mb <= 250 if big_cold else None,
        )
    )
    growth = big_cold.peak_rss_mb - small_cold.peak_rss_mb if big_cold and small_cold else None
    targets.append(
        (
            f"peak RSS growth <= +50 MB from {min(sizes) if sizes else '-'} MB to ~2 GB",
            "-" if growth is None else f"{growth:+.0f} MB",
            None if growth is None else growth <= 50,
        )
    )
    for size in sizes:
        warm = find(rows, size, CMD_WARM)
        targets.append(
            (
                f"warm re-run (threshold changed) <= 3 s ({size} MB)",
                f"{warm.wall:.2f} s" if warm else "-",
                warm.wall <= 3 if warm else None,
            )
        )
    for size in sizes:
        clean, cold = find(rows, size, CMD_CLEAN), find(rows, size, CMD_COLD)
        recompress = find(rows, size, CMD_RECOMPRESS)
        targets.append(
            (
                f"clean-xml at least as fast as the cold readiness run ({size} MB)",
                f"{clean.wall:.2f} s vs {cold.wall:.2f} s; "
                f"{clean.wall / recompress.wall:.2f}x inflate + deflate"
                if clean and cold and recompress
                else "-",
                clean.wall <= cold.wall if clean and cold else None,
            )
        )
    return targets


def xmllint_version() -> str:
    xmllint = shutil.which("xmllint")
    if not xmllint:
        return "not installed (xmllint rows skipped)"
    done = subprocess.run([xmllint, "--version"], capture_output=True, text=True)
    # "xmllint: using libxml version 20914" (the program name may be a full path)
    return (done.stderr or done.stdout).splitlines()[0].rpartition(": ")[2]


def render_report(rows: Sequence[Row], repeat: int) -> str:
    def version(parts: tuple[int, ...]) -> str:
        return ".".join(map(str, parts))

    target_lines = [
        f"| {name} | {value} | {verdict(met)} |" for name, value, met in evaluate_targets(rows)
    ]
    return "\n".join(
        [
            "# Benchmarks: scanning entities.xml",
            "",
            "Generated by `benchmarks/bench_scan.py`; do not edit by hand. Synthetic backups",
            "(`python -m synth`, default row mix, up to 20,000 users), each command run",
            f"{repeat} time(s): median wall time, highest peak RSS of the command and its",
            "worker processes together.",
            "MB/s is of uncompressed entities.xml (1 MB = 10^6 bytes). Cold runs pass",
            "`--jira-rescan`; warm runs change `summary-length.max_chars` in jiramigrate.yaml",
            "between runs and reuse the cached facts.",
            "",
            f"* date: {datetime.date.today().isoformat()}",
            f"* machine: {os.cpu_count()} cores, {platform.machine()}, {platform.system()}",
            f"* Python {platform.python_version()}, lxml {version(etree.LXML_VERSION)}, "
            f"libxml2 {version(etree.LIBXML_VERSION)}",
            f"* xmllint: {xmllint_version()}",
            "",
            render_table(rows),
            "",
            "## Targets",
            "",
            "| target | measured | status |",
            "| --- | --- | --- |",
            *target_lines,
            "",
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="400,2000", help="entities.xml sizes in MB, comma-separated"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command")
    parser.add_argument("--work", type=Path, help=f"input cache (default {DEFAULT_WORK})")
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument(
        "--small",
        action="store_true",
        help="CI mode: ~20 MB once, in a temporary work directory, BENCHMARKS.md untouched",
    )
    parser.add_argument("--write", action="store_true", help="write BENCHMARKS.md in --small mode")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = [20] if args.small else [int(s) for s in args.sizes.split(",")]
    repeat = 1 if args.small else args.repeat
    temporary = None
    if args.work is not None:
        work = args.work
    elif args.small:
        temporary = work = Path(tempfile.mkdtemp(prefix="jiramigrate-bench-"))
    else:
        work = DEFAULT_WORK
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows: list[Row] = []
        for size in sizes:
            rows.extend(bench_backup(prepare_backup(work, size), work, repeat))
        report = render_report(rows, repeat)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary)
    print(report)
    if not args.small or args.write:
        args.output.write_text(report)
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
