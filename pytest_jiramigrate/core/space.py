"""A full disk, said in words: which file, how much room it needs, and what to do.

The facts store and the reports are written under temporary names and
renamed when whole, so a full disk never leaves half a file behind; this
module turns the error into a message an administrator can act on.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from pytest_jiramigrate.core.sizes import format_size
from pytest_jiramigrate.core.terminal import name_text

#: what the operating system says when the disk, or the user's quota, is full
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})

#: SQLite's result code for "database or disk is full" (``SQLITE_FULL``)
_SQLITE_FULL = 13


class NoSpaceError(Exception):
    """Writing ``path`` ran out of disk space; nothing partial was left behind."""

    def __init__(self, path: Path, needed: int | None, elsewhere: str) -> None:
        self.path = path
        self.needed = needed
        room = f"free {format_size(needed)} there" if needed else "free space there"
        where = name_text(path)
        super().__init__(f"no space left on device writing {where}; {room}, or {elsewhere}")


def out_of_space(error: BaseException) -> bool:
    """Whether ``error`` is the disk (or quota) being full, from the OS or from SQLite."""
    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorcode", None) == _SQLITE_FULL
    return isinstance(error, OSError) and error.errno in _FULL
