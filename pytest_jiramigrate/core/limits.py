"""Bounds on what a hostile archive may make the scanner do.

This module sits below the scanner and imports nothing of the package, so the
scan package and its worker processes never load the configuration reader
(yaml) or pytest just to know the limits.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds that keep a hostile zip from exhausting the machine (``archive:``)."""

    max_ratio: int = 200
    max_uncompressed: int = 200 * 1024**3
