"""Scheduler profiles: who gets which signal when a scheduler preempts a job, when the SIGKILL
follows, and whether (and how) the job comes back.

A profile (:class:`Slurm`, :class:`Kubernetes`, :class:`SpotVM`) is a frozen description of the
scheduler's settings. The harness makes one :class:`Job` per profile and command: each
``run(cmd, scheduler=profile)`` of the same command is the next run of that job (its requeue or
restart). The runner knows nothing scheduler-specific; it asks the job, through a narrow hook:

- :meth:`Job.launch`: the command as the scheduler starts it (a batch script run by its
  interpreter, a container's PID 1), its working directory and environment for this run;
- :meth:`Job.preemption`: the :class:`~..spec.Preemption` the test asked for, with the signal this
  scheduler delivers to the training process;
- :meth:`Job.at_trigger`, :meth:`Job.on_message` (a fake SLURM command's request, e.g.
  ``scontrol requeue``) and :meth:`Job.on_exit` (the job's main process ended): the
  :class:`Delivery` steps to carry out, each a signal to a named target after some seconds;
- :meth:`Job.pids` and :meth:`Job.deliverable`: the processes a target names, and whether a signal
  reaches them (a container's PID 1 ignores a signal it has no handler for);
- :meth:`Job.finish`: the :class:`~..results.JobRecord` for the result: requeued or not, and the
  profile's own findings.

Grace periods (``KillWait``, ``terminationGracePeriodSeconds``, a spot VM's notice) are real
seconds for the process under test: keep them small in tests. What the backend decides (the crash
timeout, R61) still moves on the backend's clock.

The scheduler facts each profile follows, with their sources, are in ``docs/schedulers/README.md``;
the recipes and the mistakes each profile catches in ``docs/schedulers/slurm.md``,
``kubernetes.md`` and ``spot.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .base import Delivery, Job, Launch, Scheduler, TreeView
from .kubernetes import RESTART_POLICIES, VOLUMES, Kubernetes, KubernetesJob
from .slurm import SLURM_EVENTS, Slurm, SlurmJob
from .spot import SPOT_NOTICE, SpotJob, SpotVM

__all__ = [
    "RESTART_POLICIES",
    "SCHEDULERS",
    "SLURM_EVENTS",
    "SPOT_NOTICE",
    "VOLUMES",
    "Delivery",
    "Job",
    "Kubernetes",
    "KubernetesJob",
    "Launch",
    "Scheduler",
    "Slurm",
    "SlurmJob",
    "SpotJob",
    "SpotVM",
    "TreeView",
    "scheduler_from_name",
]


#: Profile names (``runresume check --scheduler``, the marker's ``scheduler="..."``) -> factory.
SCHEDULERS: dict[str, Callable[..., Scheduler]] = {
    "slurm": Slurm,
    "kubernetes": Kubernetes,
    "spot-gcp": lambda **kw: SpotVM("gcp", **kw),
    "spot-aws": lambda **kw: SpotVM("aws", **kw),
}


def scheduler_from_name(name: str, **options: Any) -> Scheduler:
    """The profile called ``name`` (a key of :data:`SCHEDULERS`) with ``options``.

    Raises:
        ValueError: an unknown name (listing the known ones) or a bad option.
    """
    key = re.sub(r"[_\s]", "-", name.strip().lower())
    if key not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; expected one of {sorted(SCHEDULERS)}")
    try:
        return SCHEDULERS[key](**options)
    except TypeError as exc:
        raise ValueError(f"scheduler {key!r}: {exc}") from None
