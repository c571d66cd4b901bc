"""The spot VM profile: a shutdown at a preemption (systemd's ``KillMode``), the power-off after the
provider's notice, the same disk after the reboot (``docs/schedulers/spot.md``).
"""

from __future__ import annotations

import signal as _signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .base import Delivery, Job, Launch, Scheduler, TreeView, _alive, _grace, _python_first

if TYPE_CHECKING:
    from ..results import RunResult

#: Spot VM providers and their notice in seconds (GCP: 30 s from the ACPI soft-off to the power-off
#: for Spot VMs; AWS: the two-minute interruption notice).
SPOT_NOTICE = {"gcp": 30.0, "aws": 120.0}


@dataclass(frozen=True)
class SpotVM(Scheduler):
    """A spot (preemptible) VM that is shut down at a preemption, and restarted.

    At the trigger point the guest's shutdown sends SIGTERM to every process of the training's
    service (systemd's ``KillMode=control-group``, the default; wandb-core included) or to its main
    process only (``KillMode=mixed``); the VM is powered off (SIGKILL to everything) ``notice``
    seconds later. The restart is the same VM booting again (or a replacement with the same
    persistent disk): the working directory survives.

    Attributes:
        provider: ``"gcp"`` (notice 30 s: Spot VMs are powered off 30 s after the ACPI soft-off) or
            ``"aws"`` (notice 120 s, the interruption notice; the notice itself, a metadata entry, is
            not simulated: the shutdown at its end is).
        notice: seconds from SIGTERM to the power-off (default: the provider's).
        kill_mode: ``"control-group"`` or ``"mixed"`` (systemd.kill(5)).
        instance: the VM's name (``HOSTNAME``).

    Raises:
        ValueError: an unknown provider or kill mode, a negative notice.
    """

    provider: str = "gcp"
    notice: float | None = None
    kill_mode: str = "control-group"
    instance: str = "spot-1"
    name = "spot"

    def __post_init__(self) -> None:
        if self.provider not in SPOT_NOTICE:
            raise ValueError(f"unknown spot VM provider {self.provider!r}; expected one of {sorted(SPOT_NOTICE)}")
        if self.notice is not None:
            _grace(self.notice, "notice")
        if self.kill_mode not in ("control-group", "mixed"):
            raise ValueError(f"KillMode {self.kill_mode!r}: expected 'control-group' or 'mixed'")
        object.__setattr__(self, "name", f"spot-{self.provider}")

    @property
    def grace(self) -> float:
        return self.notice if self.notice is not None else SPOT_NOTICE[self.provider]

    def with_grace(self, seconds: float) -> SpotVM:
        return replace(self, notice=seconds)

    def new_job(self, argv: Sequence[str], base_dir: Path, number: int) -> SpotJob:
        return SpotJob(self, argv, base_dir, self.instance if number == 1 else f"{self.instance}-{number}")


class SpotJob(Job):
    """The training on one spot VM, restarted after each preemption."""

    profile: SpotVM

    def launch(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Launch:
        self.preempted_now = False
        self.workdir = cwd
        return Launch(list(argv), cwd, {"HOSTNAME": self.job_id, "PATH": _python_first(env)})

    def signal(self) -> _signal.Signals:
        return _signal.SIGTERM

    def at_trigger(self) -> list[Delivery]:
        self.preempted_now = True
        grace = self.profile.grace
        who = "all" if self.profile.kill_mode == "control-group" else "main"
        return [
            Delivery(_signal.SIGTERM, who, 0.0, f"preempted: shutdown, SIGTERM (KillMode={self.profile.kill_mode})"),
            Delivery(
                _signal.SIGKILL,
                "all",
                grace,
                f"power-off {grace:g}s after the {self.profile.provider} notice",
                grace_end=True,
            ),
        ]

    def pids(self, target: str, view: TreeView) -> tuple[list[int], str]:
        if target == "main":
            return ([view.pid] if view.pid is not None and _alive(view.pid) else []), ""
        if target == "all":
            return [p for p in view.tree() if _alive(p)], ""
        raise ValueError(f"unknown spot VM target {target!r}")

    def requeue(self, result: RunResult) -> tuple[bool, str]:
        if result.returncode == 0:
            return False, "the training exited 0: done"
        return True, "the VM boots again and the training service starts with its persistent disk"

    def settings(self) -> str:
        return f"{self.profile.provider} notice {self.profile.grace:g}s, KillMode={self.profile.kill_mode}"

    def describe(self) -> str:
        return f"spot VM {self.job_id}"

    def id_advice(self) -> str:
        return "keep the run id on the persistent disk (the checkpoint) or pass a fixed one, with resume='allow'"
