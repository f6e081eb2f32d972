"""ScanProgress against a fake clock and a recording stand-in for pytest's TerminalReporter."""

from __future__ import annotations

import io
from typing import Any, cast

import pytest

from pytest_jiramigrate.run.progress import ScanProgress, format_duration

MB = 1_000_000


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingReporter:
    """The part of the public TerminalReporter API the display may use, recorded in order."""

    def __init__(self, tty: bool) -> None:
        self.isatty = tty
        self.calls: list[tuple[str, str]] = []

    def rewrite(self, line: str, **markup: bool) -> None:
        self.calls.append(("rewrite", line))

    def ensure_newline(self) -> None:
        self.calls.append(("ensure_newline", ""))

    def flush(self) -> None:
        self.calls.append(("flush", ""))

    def write(self, content: str, **markup: bool) -> None:
        self.calls.append(("write", content))

    def lines(self) -> list[str]:
        return [text for call, text in self.calls if call == "rewrite"]


def make(
    tty: bool = True, total: int = 400 * MB
) -> tuple[ScanProgress, RecordingReporter, FakeClock]:
    reporter, clock = RecordingReporter(tty), FakeClock()
    progress = ScanProgress(
        cast(pytest.TerminalReporter, reporter), total, "entities.xml", clock=clock
    )
    return progress, reporter, clock


def test_short_scan_shows_nothing() -> None:
    progress, reporter, clock = make()
    for done in range(0, 400 * MB, 10 * MB):
        clock.advance(0.04)
        progress.update(done)
    progress.finish()
    assert clock.now - 100.0 < 2.0
    assert reporter.calls == []


def test_first_line_after_two_seconds_shows_bytes_percent_rate_and_eta() -> None:
    progress, reporter, clock = make()
    clock.advance(1.9)
    progress.update(38 * MB)
    assert reporter.calls == []
    clock.advance(0.1)
    progress.update(40 * MB)
    assert reporter.calls[0] == ("ensure_newline", "")
    # 40 of 400 MB in 2 s: 20 MB/s, 360 MB left take 18 s
    assert reporter.lines() == ["entities.xml: 40.0/400.0 MB  10% 20.0 MB/s ETA 0:18"]
    assert reporter.calls[-1] == ("flush", "")
    assert progress.visible


def test_redraws_at_most_four_times_a_second() -> None:
    progress, reporter, clock = make()
    clock.advance(2.0)
    for step in range(100):  # one second of updates every 10 ms
        progress.update((20 + step) * MB)
        clock.advance(0.01)
    assert len(reporter.lines()) == 4
    assert reporter.calls.count(("ensure_newline", "")) == 1


def test_finish_erases_the_line_and_returns_to_its_start() -> None:
    progress, reporter, clock = make()
    clock.advance(3.0)
    progress.update(100 * MB)
    reporter.calls.clear()
    progress.finish()
    assert reporter.calls == [("rewrite", ""), ("rewrite", ""), ("flush", "")]
    assert not progress.visible
    progress.finish()
    assert len(reporter.calls) == 3


def test_silent_when_output_is_not_a_terminal() -> None:
    progress, reporter, clock = make(tty=False)
    clock.advance(10.0)
    progress.update(200 * MB)
    clock.advance(10.0)
    progress.update(400 * MB)
    progress.finish()
    assert reporter.calls == []


def test_silent_without_a_reporter() -> None:
    clock = FakeClock()
    progress = ScanProgress(None, 400 * MB, "entities.xml", clock=clock)
    clock.advance(10.0)
    progress.update(200 * MB)
    progress.finish()
    assert not progress.visible


def test_done_beyond_total_and_empty_total_stay_sensible() -> None:
    progress, _, _ = make()
    assert (
        progress.describe(500 * MB, 10.0) == "entities.xml: 400.0/400.0 MB 100% 40.0 MB/s ETA 0:00"
    )
    empty, _, _ = make(total=0)
    assert empty.describe(0, 5.0) == "entities.xml: 0.0/0.0 MB 100% 0.0 MB/s"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0:00"),
        (0.2, "0:01"),
        (59.5, "1:00"),
        (61, "1:01"),
        (3600, "1:00:00"),
        (3725, "1:02:05"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_real_terminal_reporter_rewrites_one_line(pytestconfig: pytest.Config) -> None:
    """Against pytest's own TerminalReporter on a fake TTY: carriage returns, no newlines."""

    class FakeTty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = FakeTty()
    reporter = pytest.TerminalReporter(pytestconfig, cast(Any, stream))
    clock = FakeClock()
    progress = ScanProgress(reporter, 10 * MB, "entities.xml", clock=clock)
    clock.advance(2.5)
    progress.update(5 * MB)
    clock.advance(0.5)
    progress.update(8 * MB)
    progress.finish()
    output = stream.getvalue()
    assert "\n" not in output
    assert output.count("\r") == 4
    assert "\rentities.xml: 5.0/10.0 MB  50% 2.0 MB/s ETA 0:03" in output
    assert output.endswith("\r")
