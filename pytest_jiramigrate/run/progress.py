"""A one-line progress display for a long backup scan.

Scanning a multi-gigabyte ``entities.xml`` takes tens of seconds, during which
pytest prints nothing; an administrator at a terminal cannot tell a slow scan
from a hung one.  :class:`ScanProgress` rewrites one line in place with the
bytes done, the rate and the time left.  It keeps quiet where it would only be
noise: short scans (most test runs and small sites) and output that is not a
terminal (CI logs, where carriage-return redraws become thousands of lines).

Only the public :class:`pytest.TerminalReporter` API is used (``isatty``,
``rewrite``, ``ensure_newline``, ``flush``), so the display follows pytest's own writer
(colour settings, captured output, terminal width).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from pytest_jiramigrate.core.terminal import printable

#: seconds between two redraws: faster is flicker, and costs the scan loop time
REDRAW_INTERVAL = 0.25
_MB = 1_000_000


class ScanProgress:
    """Progress of scanning ``total_bytes`` of ``label``, drawn on pytest's terminal.

    Call :meth:`update` as often as convenient (it is cheap when nothing is
    drawn) and :meth:`finish` once at the end, even after an error, so that
    pytest's next output starts on a clean line.
    """

    def __init__(
        self,
        terminalreporter: pytest.TerminalReporter | None,
        total_bytes: int,
        label: str,
        min_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # ``isatty`` is a bool in pytest 8 and a callable bool in pytest 9: bool() reads both
        self._reporter = (
            terminalreporter
            if terminalreporter is not None and bool(terminalreporter.isatty)
            else None
        )
        self._total = max(total_bytes, 0)
        self._label = printable(label)
        self._min_seconds = min_seconds
        self._clock = clock
        self._started = clock()
        self._last_drawn: float | None = None

    @property
    def visible(self) -> bool:
        """Whether a progress line is on the terminal now."""
        return self._last_drawn is not None

    def update(self, done_bytes: int) -> None:
        """Record that ``done_bytes`` of the total are scanned; redraw if it is time to."""
        if self._reporter is None:
            return
        now = self._clock()
        elapsed = now - self._started
        if elapsed < self._min_seconds:
            return
        if self._last_drawn is None:
            # the scan may start in the middle of pytest's line (a file name, dots)
            self._reporter.ensure_newline()
        elif now - self._last_drawn < REDRAW_INTERVAL:
            return
        self._last_drawn = now
        self._reporter.rewrite(self.describe(done_bytes, elapsed), erase=True)
        self._reporter.flush()

    def finish(self) -> None:
        """Erase the progress line and leave the cursor at its start for pytest's output."""
        if self._reporter is None or self._last_drawn is None:
            return
        self._reporter.rewrite("", erase=True)
        self._reporter.rewrite("")
        self._reporter.flush()
        self._last_drawn = None

    def describe(self, done_bytes: int, elapsed: float) -> str:
        """The progress line: ``label: 120.0/400.0 MB 30% 35.2 MB/s ETA 0:08``."""
        done = min(max(done_bytes, 0), self._total)
        percent = 100 * done / self._total if self._total else 100
        rate = done / elapsed if elapsed > 0 else 0.0
        text = (
            f"{self._label}: {done / _MB:.1f}/{self._total / _MB:.1f} MB "
            f"{percent:3.0f}% {rate / _MB:.1f} MB/s"
        )
        if rate > 0:
            text += f" ETA {format_duration((self._total - done) / rate)}"
        return text


def format_duration(seconds: float) -> str:
    """``m:ss`` below an hour and ``h:mm:ss`` above, rounded up to whole seconds.

    Rounded up so that the ETA never reads 0:00 while work remains.
    """
    whole = int(-(-seconds // 1))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
