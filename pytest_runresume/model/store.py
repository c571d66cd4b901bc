"""The run store of the reference model: runs by entity/project/run id, their state, and the clock.

Pure: no sockets, files or subprocesses. :class:`RunStore` puts together the store's core
(:mod:`.core`: lock, clock, runs, problems, limits, listeners, lookup and state) and its families of
operations, each in its own module and each importing only the core:

- :mod:`.upserts`: creating runs and starting their processes (``UpsertBucket``, ``Run.create``,
  ``RunResumeStatus``, forks);
- :mod:`.ingest`: ``file_stream`` and uploads;
- :mod:`.lifecycle`: stop, state updates, rewind, delete/undelete, a cancelled sweep's kill;
- :mod:`.projects`: projects and run listings of the public API.

Behaviour that lives beside the store (the sweep controller, :mod:`.sweeps`) depends on a narrow
protocol of it and hears of ended runs and resets through its listeners; the store imports none of
it. :class:`~.model.Model`, the composition root, builds the store and the controller together.
"""

from __future__ import annotations

from .core import StoreBase
from .ingest import FileStreamOps
from .lifecycle import LifecycleOps
from .projects import ProjectOps
from .upserts import UpsertOps

__all__ = ["RunStore", "StoreBase"]


class RunStore(UpsertOps, FileStreamOps, LifecycleOps, ProjectOps, StoreBase):
    """The fake W&B server's runs, their state and rules (without the sweep controller: see
    :class:`~.model.Model`, which adds it). The arguments are :class:`~.core.StoreBase`'s.
    """
