"""Text from the backup made safe to print on a terminal.

File names, usernames and every other string in a backup are data, not
terminal output: printed raw, an ESC or CSI (``U+009B``) sequence can rewrite
the screen, and a CR or LF can forge a ``PASSED`` line.  A file name that is
not UTF-8 reaches Python as lone surrogates (``surrogateescape``), which
cannot be encoded for the terminal, SQLite or a UTF-8 report at all.
:func:`printable` is the one helper every terminal line goes through, and
:func:`name_text` the one that turns a file system name into text.
"""

from __future__ import annotations

import os
import re

#: C0 controls (tab aside), DEL, C1 controls, the Unicode line and paragraph separators,
#: the bidirectional overrides and isolates (which reorder what the reader sees), and the
#: lone surrogates that stand for the bytes of a name that is not UTF-8.
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    r"""``text`` with every control character shown as an escape, e.g. ``\x1b`` or ``\x0a``.

    Ordinary text, including non-ASCII letters, is left as it is.
    """
    return _UNPRINTABLE.sub(_escape, text)


def name_text(name: str | os.PathLike[str]) -> str:
    r"""A file system name as text every output can hold: bytes that are not UTF-8 as ``\xe9``.

    Names on POSIX are bytes (Latin-1 legacy attachment names are common on old
    Jira homes); Python hands them over with lone surrogates, which SQLite, JSON
    and the terminal refuse.  A UTF-8 name is returned as it is.
    """
    return os.fsencode(name).decode("utf-8", "backslashreplace")
