"""Where the real Jira backups are: ``shared/corpus`` beside the repository.

CI lays ``shared/`` next to its clone of the repository, as the developers'
machines do; ``JIRAMIGRATE_CORPUS`` points elsewhere.  The corpus's files come
from other projects and stay out of this repository, so a fresh clone has
none: tests that need it request the ``corpus`` fixture (tests/conftest.py),
which marks them ``corpus`` and skips them, saying so, when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

CORPUS = Path(
    os.environ.get("JIRAMIGRATE_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus")
)

#: the reason every corpus test gives when it is skipped
CORPUS_MISSING = (
    f"../shared/corpus not found: corpus tests skipped (looked in {CORPUS}; "
    "set JIRAMIGRATE_CORPUS to the corpus directory)"
)
