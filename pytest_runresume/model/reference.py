"""The composition root of the reference model: one W&B server is a run store plus the families of
behaviour that live beside it.

:class:`Model` is what every transport (the loopback HTTP server, the in-process ``requests-mock``
adapter, a test calling it directly) reaches. It builds the run store (:class:`~.store.RunStore`:
lock, clock, runs) and the sweep controller (:class:`~.sweeps.Sweeps`, which depends on a narrow
protocol of the store), and connects them through the store's listeners: a run whose process ended
goes to the controller (a preempted sweep run is requeued, R81), a reset forgets the sweeps too.
Neither the store nor the controller imports the other.
"""

from __future__ import annotations

from .core import iso_time
from .ingest import FileChunk
from .lifecycle import UNDELETE_WINDOW
from .names import (
    DOCS_MAX_RUN_ID_LENGTH,
    DOCS_RESERVED_RUN_ID_CHARS,
    MAX_PROJECT_NAME,
    RESERVED_PROJECT_CHARS,
    RESERVED_RUN_ID_CHARS,
    validate_run_id,
)
from .store import RunStore
from .sweeps import Sweeps

__all__ = [  # with the names this module held before the store was split out of it
    "DOCS_MAX_RUN_ID_LENGTH",
    "DOCS_RESERVED_RUN_ID_CHARS",
    "MAX_PROJECT_NAME",
    "RESERVED_PROJECT_CHARS",
    "RESERVED_RUN_ID_CHARS",
    "UNDELETE_WINDOW",
    "Model",
    "FileChunk",
    "RunStore",
    "iso_time",
    "validate_run_id",
]


class Model(RunStore):
    """The fake W&B server's state and rules: the run store (see :class:`~.store.RunStore` for the
    arguments) with its sweep controller as ``model.sweeps`` (R74-R92).
    """

    sweeps: Sweeps

    def _compose(self) -> None:
        """Build the sweep controller and register it for the store's run-ended and reset events."""
        self.sweeps = Sweeps(self)
        self.on_run_ended(self.sweeps.run_ended)
        self.on_reset(self.sweeps.reset)
