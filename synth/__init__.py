"""Synthetic Jira site backups with known faults: test tooling, not part of the wheel.

The tests, the example project and the benchmarks build their backups here
(``python -m synth`` from the repository's root; see :mod:`synth.__main__`).
"""

from synth.backup import (
    BACKUP_FAULTS,
    FORMER_USER,
    LONG_TEXT_CHARS,
    MEDIA_FAULTS,
    MISSING_FILTER,
    TOO_MANY_OPTIONS,
    Manifest,
    SynthSpec,
    entities_size,
    iter_attachments,
    scale_to_megabytes,
    write_backup,
    write_media,
    write_media_zip,
)

__all__ = [
    "BACKUP_FAULTS",
    "FORMER_USER",
    "LONG_TEXT_CHARS",
    "MEDIA_FAULTS",
    "MISSING_FILTER",
    "TOO_MANY_OPTIONS",
    "Manifest",
    "SynthSpec",
    "entities_size",
    "iter_attachments",
    "scale_to_megabytes",
    "write_backup",
    "write_media",
    "write_media_zip",
]
