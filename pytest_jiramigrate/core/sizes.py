"""Byte sizes as people write them in configuration and read them in messages.

Atlassian states its limits in decimal units ("10 GB media zip", "2 GB
attachment"), while disks and ``du -h`` often report binary ones, so both are
accepted: ``KB``/``MB``/``GB``/``TB`` are powers of 1000 and ``KiB``/``MiB``/
``GiB``/``TiB`` powers of 1024.  Messages always use decimal units, matching
the way Atlassian words the limit being checked.
"""

from __future__ import annotations

import re
from decimal import Decimal

_MULTIPLIERS: dict[str, int] = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}

_DECIMAL_UNITS: tuple[tuple[str, int], ...] = (
    ("KB", 1000),
    ("MB", 1000**2),
    ("GB", 1000**3),
    ("TB", 1000**4),
)

_SIZE_PATTERN = re.compile(r"(?P<number>[0-9]*\.?[0-9]+)\s*(?P<unit>[a-z]*)", re.IGNORECASE)

_ACCEPTED_UNITS = "B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)"


def parse_size(value: str | int) -> int:
    """Return ``value`` in bytes: an int of bytes or text such as ``10GB``, ``5 GiB``, ``1.5 GB``.

    Fractions of a byte are dropped (``1.1 KiB`` is 1126 bytes), because a
    limit cannot be finer than one byte.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"expected a size such as 10GB, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a size cannot be negative, got {value}")
        return value
    text = value.strip()
    if not text:
        raise ValueError("expected a size such as 10GB, got an empty value")
    if text.startswith("-"):
        raise ValueError(f"a size cannot be negative, got {value!r}")
    match = _SIZE_PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"expected a size such as 10GB or 5 GiB, got {value!r}")
    unit = match["unit"].lower()
    if unit not in _MULTIPLIERS:
        raise ValueError(f"unknown size unit {match['unit']!r} in {value!r}; use {_ACCEPTED_UNITS}")
    return int(Decimal(match["number"]) * _MULTIPLIERS[unit])


def format_size(n: int) -> str:
    """Return ``n`` bytes in a short decimal form for messages: ``512 B``, ``10.0 GB``."""
    if n < 0:
        raise ValueError(f"a size cannot be negative, got {n}")
    if n < 1000:
        return f"{n} B"
    for name, multiplier in _DECIMAL_UNITS[:-1]:
        shown = round(n / multiplier, 1)
        if shown < 1000:  # else 999,950 bytes would read "1000.0 KB"
            return f"{shown:.1f} {name}"
    name, multiplier = _DECIMAL_UNITS[-1]
    return f"{n / multiplier:.1f} {name}"
