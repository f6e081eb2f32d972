"""Synthetic Jira site backups with known faults: test tooling, not part of the wheel.

The tests, the example project and the benchmarks build their backups here
(``python -m synth`` from the repository's root; see :mod:`synth.__main__`).
The parts, in the order a backup is made: :mod:`.spec` (what to make and the
manifest of its faults), :mod:`.plan` (the site, from the seed), :mod:`.xmlrows`
(rows and the streamed member), :mod:`.entities` (its row generators in
:mod:`.rowsource`, :mod:`.identities`, :mod:`.site` and :mod:`.issues`), :mod:`.activeobjects`,
:mod:`.backup` (the zip) and :mod:`.media`.
"""

from synth.backup import entities_size, scale_to_megabytes, write_backup
from synth.media import write_media, write_media_zip
from synth.plan import iter_attachments
from synth.spec import (
    BACKUP_FAULTS,
    FORMER_USER,
    LONG_TEXT_CHARS,
    MEDIA_FAULTS,
    MISSING_FILTER,
    TOO_MANY_OPTIONS,
    Manifest,
    SynthSpec,
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
