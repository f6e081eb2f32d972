"""Where the real Jira backups are: ``shared/corpus`` beside the repository.

CI lays ``shared/`` next to its clone of the repository, as the developers'
machines do; ``JIRAMIGRATE_CORPUS`` points elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

CORPUS = Path(
    os.environ.get("JIRAMIGRATE_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus")
)
