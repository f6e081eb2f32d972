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
  it holds the whole tree in memory;
* the cold run pinned to one core and to two (``taskset``, ``--jira-workers``
  matching), from which the speed-up on two cores, the serial fraction that
  follows from it (Amdahl) and the projected wall time on 8 and 16 cores are
  derived, and the memory each extra worker adds;
* a per-stage profile of the scan in CPU seconds (``benchmarks/profile_scan.py``)
  on the smallest backup: where the remaining time goes, per process.

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
#: the rewrite of ``fix`` alone (the plan's inventory pass, the copy and the key
#: lookup, without the two checks): what compares with clean-xml
CMD_FIX_REWRITE = "jiramigrate fix, every fix on, rewrite only"
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
CMD_COLD_1 = "readiness run, cold, 1 core"
CMD_COLD_2 = "readiness run, cold, 2 cores"
CMD_COLD_4W = "readiness run, cold, 2 cores, 4 workers"
#: the pinned runs: (row, cores to pin to, --jira-workers); the last is for memory only:
#: two more workers than the two before, on the same cores
PINNED = ((CMD_COLD_1, "0", 1), (CMD_COLD_2, "0,1", 2), (CMD_COLD_4W, "0,1", 4))
#: the core counts the scaling is projected to
PROJECTED_CORES = (8, 16)
PROFILE = Path(__file__).resolve().parent / "profile_scan.py"
#: the per-stage profile before issue 14's round (commit e0ea97e), by hand with
#: profile_scan.py on a 40 MB synthetic entities.xml: CPU seconds per 100 MB
PROFILE_BEFORE = (
    ("main", "inflate", 0.30),
    ("main", "cut", 0.13),
    ("main", "pickle (both ways)", 0.37),
    ("main", "merge/insert", 0.45),
    ("worker", "char scan", 0.36),
    ("worker", "parse", 1.98),
    ("worker", "row read", 1.80),
)

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

#: fix's rewrite as ``jiramigrate fix`` runs it between its two checks
FIX_REWRITE = (
    "import sys\n"
    "from pathlib import Path\n"
    "from pytest_jiramigrate.core.limits import ArchiveLimits\n"
    "from pytest_jiramigrate.commands.fix.command import row_fixes, write_fixed\n"
    "from pytest_jiramigrate.commands.fix.plan import load_plan\n"
    "source, out, plan = Path(sys.argv[1]), Path(sys.argv[2]), load_plan(Path(sys.argv[3]))\n"
    "write_fixed(source, out, plan, row_fixes(source, plan, ArchiveLimits()))\n"
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


def readiness_argv(backup: Backup, rescan: bool, workers: int | None = None) -> list[str]:
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
    if workers is not None:
        argv.append(f"--jira-workers={workers}")
    return [*argv, "--jira-rescan", "-q"] if rescan else [*argv, "-q"]


def always(argv: list[str]) -> Callable[[int], list[str]]:
    """The same command on every repetition."""
    return lambda _: argv


def pinned_runs_possible() -> bool:
    """taskset is there and this process may use at least two cores (0 and 1)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return bool(shutil.which("taskset")) and affinity is not None and {0, 1} <= affinity(0)


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
    if pinned_runs_possible():
        for what, cores, workers in PINNED:
            pinned = ["taskset", "-c", cores, *readiness_argv(backup, True, workers)]
            rows.append(run(what, always(pinned), readiness_ok))
    else:
        print("  taskset or two usable cores missing: the pinned runs are skipped", flush=True)
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

    def fix_rewrite_argv(_: int) -> list[str]:
        copy.unlink(missing_ok=True)
        plan = scratch / "fixes.yaml"
        return [sys.executable, "-c", FIX_REWRITE, str(backup.zip_path), str(copy), str(plan)]

    rows.append(run(CMD_FIX_REWRITE, fix_rewrite_argv))
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


@dataclass(frozen=True)
class Scaling:
    """What the runs pinned to one and to two cores say about more cores (Amdahl)."""

    one_core: Row
    two_cores: Row
    #: two cores, four workers: what two more workers add to the memory of a running pool
    four_workers: Row | None = None

    @property
    def speedup(self) -> float:
        return self.one_core.wall / self.two_cores.wall

    @property
    def serial_fraction(self) -> float:
        """s in Amdahl's law T(n) = T(1) (s + (1 - s) / n), from the speed-up on 2 cores:
        s = 2 / S - 1, within 0 and 1."""
        return min(1.0, max(0.0, 2 / self.speedup - 1))

    def projected_wall(self, cores: int) -> float:
        s = self.serial_fraction
        return self.one_core.wall * (s + (1 - s) / cores)

    def projected_speedup(self, cores: int) -> float:
        return self.one_core.wall / self.projected_wall(cores)

    @property
    def rss_pool_start_mb(self) -> float:
        """Peak RSS of 2 workers minus 1: one worker parses in the pytest process, so
        this is the whole pool (its forkserver and two worker processes)."""
        return self.two_cores.peak_rss_mb - self.one_core.peak_rss_mb

    @property
    def rss_per_worker_mb(self) -> float | None:
        """Per worker added to a running pool: (4 workers - 2 workers) / 2."""
        if self.four_workers is None:
            return None
        return (self.four_workers.peak_rss_mb - self.two_cores.peak_rss_mb) / 2


def scaling(rows: Sequence[Row], size_mb: int) -> Scaling | None:
    one, two = find(rows, size_mb, CMD_COLD_1), find(rows, size_mb, CMD_COLD_2)
    return Scaling(one, two, find(rows, size_mb, CMD_COLD_4W)) if one and two else None


def signed_mb(value: float | None) -> str:
    return "-" if value is None else f"{value:+.0f} MB"


def render_scaling(rows: Sequence[Row]) -> str:
    """Measured on 1 and 2 cores, projected to more, side by side."""
    projected = " | ".join(f"{cores} cores (projected)" for cores in PROJECTED_CORES)
    lines = [
        f"| size | 1 core | 2 cores | {projected} | serial fraction "
        "| RSS 1 -> 2 workers | RSS per extra worker (2 -> 4) |",
        "| ---: | ---: | ---: | " + "---: | " * len(PROJECTED_CORES) + "---: | ---: | ---: |",
    ]
    for size in sorted({r.size_mb for r in rows}):
        scale = scaling(rows, size)
        if scale is None:
            continue
        cells = " | ".join(
            f"{scale.projected_wall(cores):.2f} s ({scale.projected_speedup(cores):.1f}x)"
            for cores in PROJECTED_CORES
        )
        lines.append(
            f"| {scale.one_core.xml_bytes / MB:,.0f} MB | {scale.one_core.wall:.2f} s, "
            f"{scale.one_core.peak_rss_mb:.0f} MB | {scale.two_cores.wall:.2f} s "
            f"({scale.speedup:.2f}x), {scale.two_cores.peak_rss_mb:.0f} MB | {cells} "
            f"| {scale.serial_fraction:.0%} | {signed_mb(scale.rss_pool_start_mb)} "
            f"| {signed_mb(scale.rss_per_worker_mb)} |"
        )
    if len(lines) == 2:
        return "Not measured (taskset or two usable cores missing)."
    return "\n".join(lines)


def evaluate_targets(rows: Sequence[Row]) -> list[tuple[str, str, bool | None]]:
    """Issue 14's targets (and earlier ones still in force) as (target, measured value,
    met?); None where not measured."""
    sizes = sorted({r.size_mb for r in rows})
    targets: list[tuple[str, str, bool | None]] = []
    for size in sizes:
        cold = find(rows, size, CMD_COLD)
        ratio = ratio_to_stream(rows, cold) if cold else None
        measured = "-" if ratio is None else f"{ratio:.2f}x"
        met = None if ratio is None else ratio <= 2.0
        targets.append((f"cold full run <= 2.0x xmllint --stream ({size} MB)", measured, met))
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
    big_warm = find(rows, big, CMD_WARM) if big else None
    targets.append(
        (
            "warm re-run (threshold changed) <= 1.5 s on ~2 GB",
            f"{big_warm.wall:.2f} s" if big_warm else "-",
            big_warm.wall <= 1.5 if big_warm else None,
        )
    )
    scale = scaling(rows, max(sizes)) if sizes else None
    targets.append(
        (
            f"projected 16-core speed-up >= 6x over 1 core ({max(sizes) if sizes else '-'} MB)",
            f"{scale.projected_speedup(16):.1f}x (serial fraction {scale.serial_fraction:.0%})"
            if scale
            else "-",
            scale.projected_speedup(16) >= 6 if scale else None,
        )
    )
    worst = max(
        (
            per_worker
            for size in sizes
            if (found := scaling(rows, size))
            and (per_worker := found.rss_per_worker_mb) is not None
        ),
        default=None,
    )
    targets.append(
        (
            "peak RSS per extra worker <= 60 MB (2 -> 4 workers)",
            signed_mb(worst),
            None if worst is None else worst <= 60,
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
    for size in sizes:
        clean, rewrite = find(rows, size, CMD_CLEAN), find(rows, size, CMD_FIX_REWRITE)
        ratio = rewrite.wall / clean.wall if clean and rewrite else None
        targets.append(
            (
                f"fix with every fix on (rewrite) <= 1.5x clean-xml ({size} MB)",
                "-" if ratio is None else f"{ratio:.2f}x",
                None if ratio is None else ratio <= 1.5,
            )
        )
    return targets


def profile_stages(backup: Backup) -> str:
    """The per-stage CPU profile of the scan of ``backup`` (profile_scan.py's table)."""
    done = subprocess.run(
        [sys.executable, str(PROFILE), str(backup.zip_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def render_profile_before() -> str:
    lines = [
        "Before this round (commit e0ea97e: rows pickled to the main process and inserted "
        "there one by one), by hand on a 40 MB synthetic entities.xml:",
        "",
        "| process | stage | s per 100 MB |",
        "| --- | --- | ---: |",
    ]
    lines += [f"| {process} | {stage} | {per:.2f} |" for process, stage, per in PROFILE_BEFORE]
    serial = sum(per for process, _, per in PROFILE_BEFORE if process == "main")
    whole = sum(per for _, _, per in PROFILE_BEFORE)
    lines += ["", f"Serial (main process) share of the CPU: {serial / whole:.0%}."]
    return "\n".join(lines)


def xmllint_version() -> str:
    xmllint = shutil.which("xmllint")
    if not xmllint:
        return "not installed (xmllint rows skipped)"
    done = subprocess.run([xmllint, "--version"], capture_output=True, text=True)
    # "xmllint: using libxml version 20914" (the program name may be a full path)
    return (done.stderr or done.stdout).splitlines()[0].rpartition(": ")[2]


def render_report(rows: Sequence[Row], repeat: int, profile: str | None = None) -> str:
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
            "## Scaling",
            "",
            "The cold run pinned with `taskset` to one core (`--jira-workers=1`) and to two",
            "(`--jira-workers=2`); the speed-up S on two cores gives the serial fraction",
            "s = 2/S - 1 (Amdahl), and T(n) = T(1) (s + (1 - s)/n) projects the wall time",
            "on n cores. One worker parses in the pytest process, so the RSS from 1 to 2",
            "workers is the whole pool (forkserver and two workers); per extra worker is",
            "half the RSS from 2 to 4 workers (a run on the same two cores, for memory only).",
            "",
            render_scaling(rows),
            "",
            "## Where the CPU goes (per process, per stage)",
            "",
            "Now (`benchmarks/profile_scan.py`, CPU seconds, every stage in one process):",
            "",
            profile or "Not measured.",
            "",
            render_profile_before(),
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
        profile = None
        for size in sizes:
            backup = prepare_backup(work, size)
            rows.extend(bench_backup(backup, work, repeat))
            if profile is None:
                print(f"  {size} MB: per-stage profile", flush=True)
                profile = profile_stages(backup)
        report = render_report(rows, repeat, profile)
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
