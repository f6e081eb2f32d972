"""benchmarks/bench_scan.py keeps working: --small end to end, and its verdicts on fixed rows."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_scan.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """The script as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_scan", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_small_mode_measures_every_command_and_leaves_benchmarks_md_alone(
    bench: ModuleType, tmp_path: Path
) -> None:
    output = tmp_path / "BENCHMARKS.md"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--small", "--work", str(tmp_path), "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=600,  # a guard against a hang, not a timing: the small run takes about a minute
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    commands = done.stdout.split("## Scaling")[0]  # the table of commands comes first
    table = [line for line in commands.splitlines() if line.startswith("| 20 MB |")]
    measured = [line.split(" | ")[1] for line in table]
    expected = ["inflate zip member", "readiness run, cold", "readiness run, warm"]
    if "not installed" not in done.stdout:
        expected[1:1] = ["xmllint --stream"]
    if bench.pinned_runs_possible():
        expected += [bench.CMD_COLD_1, bench.CMD_COLD_2, bench.CMD_COLD_4W]
    if "not installed" not in done.stdout:
        expected.append("xmllint (DOM)")
    expected += ["inflate + deflate (level 1)", "jiramigrate clean-xml"]
    expected.append("jiramigrate fix, every fix on, rewrite only")
    expected.append("jiramigrate fix, every fix on (with both checks)")
    assert measured == expected
    assert "## Targets" in done.stdout
    assert "| main | merge/insert |" in done.stdout  # the per-stage profile
    assert not output.exists()
    # the inputs stay cached in --work for the next run
    assert list(tmp_path.glob("backup-20mb-*users/entities.xml"))


def rows(bench: ModuleType, walls: dict[tuple[int, str], tuple[float, float]]) -> list[Any]:
    """Rows of one sample each from {(size, what): (wall s, peak RSS MB)}."""
    return [
        bench.Row(size, what, size * 1_000_000, (bench.Sample(wall, rss),))
        for (size, what), (wall, rss) in walls.items()
    ]


def test_targets_met_and_missed(bench: ModuleType) -> None:
    measured = rows(
        bench,
        {
            (400, bench.CMD_STREAM): (4.0, 10),
            (400, bench.CMD_COLD): (5.6, 150),
            (400, bench.CMD_WARM): (1.0, 60),
            (2000, bench.CMD_STREAM): (20.0, 10),
            (2000, bench.CMD_COLD): (40.0, 230),
            (2000, bench.CMD_WARM): (3.5, 60),
            (400, bench.CMD_RECOMPRESS): (2.0, 40),
            (400, bench.CMD_CLEAN): (3.0, 40),
            (2000, bench.CMD_RECOMPRESS): (10.0, 40),
            (2000, bench.CMD_CLEAN): (45.0, 40),
            (2000, bench.CMD_COLD_1): (60.0, 120),
            (2000, bench.CMD_COLD_2): (36.0, 170),
            (2000, bench.CMD_COLD_4W): (37.0, 270),
            (400, bench.CMD_FIX_REWRITE): (4.2, 60),
            (2000, bench.CMD_FIX_REWRITE): (72.0, 60),
        },
    )
    verdicts = {name: (value, met) for name, value, met in bench.evaluate_targets(measured)}
    assert verdicts == {
        "cold full run <= 2.0x xmllint --stream (400 MB)": ("1.40x", True),
        "cold full run <= 2.0x xmllint --stream (2000 MB)": ("2.00x", True),
        "~2 GB entities.xml checked (cold) under 60 s": ("40.0 s", True),
        "peak RSS of the cold run <= 250 MB on ~2 GB": ("230 MB", True),
        "peak RSS growth <= +50 MB from 400 MB to ~2 GB": ("+80 MB", False),
        "warm re-run (threshold changed) <= 1.5 s on ~2 GB": ("3.50 s", False),
        # 60 s on 1 core, 36 s on 2: s = 2 / (60 / 36) - 1 = 0.2, T(16) = 60 (0.2 + 0.8 / 16)
        "projected 16-core speed-up >= 6x over 1 core (2000 MB)": (
            "4.0x (serial fraction 20%)",
            False,
        ),
        "peak RSS per extra worker <= 60 MB (2 -> 4 workers)": ("+50 MB", True),
        "clean-xml at least as fast as the cold readiness run (400 MB)": (
            "3.00 s vs 5.60 s; 1.50x inflate + deflate",
            True,
        ),
        "clean-xml at least as fast as the cold readiness run (2000 MB)": (
            "45.00 s vs 40.00 s; 4.50x inflate + deflate",
            False,
        ),
        "fix with every fix on (rewrite) <= 1.5x clean-xml (400 MB)": ("1.40x", True),
        "fix with every fix on (rewrite) <= 1.5x clean-xml (2000 MB)": ("1.60x", False),
    }


def test_targets_without_a_big_backup_are_not_measured(bench: ModuleType) -> None:
    measured = rows(bench, {(400, bench.CMD_COLD): (5.0, 100), (400, bench.CMD_WARM): (1.0, 60)})
    report = bench.render_report(measured, repeat=1)
    assert "| cold full run <= 2.0x xmllint --stream (400 MB) | - | not measured |" in report
    assert "| projected 16-core speed-up >= 6x over 1 core (400 MB) | - | not measured |" in report
    assert "Not measured (taskset or two usable cores missing)." in report
    assert "| ~2 GB entities.xml checked (cold) under 60 s | - | not measured |" in report
    assert "| 400 MB | readiness run, cold | 5.00 | 80.0 | 100 | - |" in report


def test_median_wall_and_highest_rss_over_runs(bench: ModuleType) -> None:
    samples = tuple(bench.Sample(wall, rss) for wall, rss in [(3.0, 90), (1.0, 120), (2.0, 100)])
    row = bench.Row(400, bench.CMD_COLD, 400_000_000, samples)
    assert (row.wall, row.peak_rss_mb, row.mb_per_s) == (2.0, 120, 200.0)


def test_scaling_projects_with_amdahls_law(bench: ModuleType) -> None:
    """1 core 10 s, 2 cores 6 s: S = 5/3, s = 2/S - 1 = 0.2; T(8) = 10 (0.2 + 0.8/8)."""
    measured = rows(
        bench, {(400, bench.CMD_COLD_1): (10.0, 100), (400, bench.CMD_COLD_2): (6.0, 140)}
    )
    scale = bench.scaling(measured, 400)
    assert round(scale.serial_fraction, 6) == 0.2
    assert round(scale.projected_wall(8), 6) == 3.0
    assert round(scale.projected_speedup(16), 6) == 4.0
    assert scale.rss_pool_start_mb == 40
    assert scale.rss_per_worker_mb is None  # no run with four workers
    table = bench.render_scaling(measured)
    assert (
        "| 400 MB | 10.00 s, 100 MB | 6.00 s (1.67x), 140 MB | 3.00 s (3.3x) | 2.50 s (4.0x)"
        in table
    )
    assert table.endswith("| 20% | +40 MB | - |")


def test_a_slower_second_core_is_all_serial(bench: ModuleType) -> None:
    measured = rows(
        bench, {(400, bench.CMD_COLD_1): (10.0, 100), (400, bench.CMD_COLD_2): (11.0, 140)}
    )
    scale = bench.scaling(measured, 400)
    assert scale.serial_fraction == 1.0
    assert scale.projected_wall(16) == 10.0
