"""What a run id and a project name may be (R31, A05, W&B's project naming rules).

Pure functions and constants; the run store checks every new run and project with them.
"""

from __future__ import annotations

from . import messages
from .tags import implements

#: Characters the SDK forbids in a run id (R31, SDK ``validate_run_id``).
RESERVED_RUN_ID_CHARS = ":;,#?/'"
#: Characters the init reference (S5) forbids, and the length S6 allows (A05, ``run_id_rules="docs"``).
DOCS_RESERVED_RUN_ID_CHARS = "/\\#?%:"
DOCS_MAX_RUN_ID_LENGTH = 64
#: W&B's project naming rules: at most 128 characters, none of these.
MAX_PROJECT_NAME = 128
RESERVED_PROJECT_CHARS = "/\\#?%:"


@implements("R31")
def validate_run_id(run_id: object, rules: str = "sdk") -> str:
    """Check a run id the way the SDK does (R31, A05), or with ``rules="docs"`` the way the docs
    describe it (S5's reserved characters, S6's 64 characters).

    Returns:
        The run id.

    Raises:
        ValueError: naming the run id and what is wrong with it (empty, whitespace, reserved character,
            too long).
    """
    if not isinstance(run_id, str):
        raise ValueError(messages.BAD_RUN_ID.format(run_id=run_id, why="not a string"))
    if not run_id:
        raise ValueError(messages.BAD_RUN_ID.format(run_id=run_id, why="empty"))
    if run_id != run_id.strip():
        raise ValueError(messages.BAD_RUN_ID.format(run_id=run_id, why="starts or ends with whitespace"))
    reserved = DOCS_RESERVED_RUN_ID_CHARS if rules == "docs" else RESERVED_RUN_ID_CHARS
    if rules == "docs" and len(run_id) > DOCS_MAX_RUN_ID_LENGTH:
        raise ValueError(messages.BAD_RUN_ID.format(run_id=run_id, why=f"longer than {DOCS_MAX_RUN_ID_LENGTH}"))
    bad = sorted({c for c in run_id if c in reserved})
    if bad:
        raise ValueError(messages.BAD_RUN_ID.format(run_id=run_id, why=f"contains reserved {''.join(bad)!r}"))
    return run_id
