"""The Kubernetes profile: a Job's container running the command as its PID 1, evictions, the grace
period, restarts by policy and what each volume keeps (``docs/schedulers/kubernetes.md``).
"""

from __future__ import annotations

import signal as _signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..findings import Finding, finding
from ..history_findings import run_findings
from ..signals import parse_signal
from .base import Delivery, Job, Launch, Scheduler, TreeView, _alive, _caught, _grace, _python_first

if TYPE_CHECKING:
    from ..results import RunResult

#: Container volumes :class:`Kubernetes` knows, and what each survives.
VOLUMES = (None, "emptyDir", "persistentVolumeClaim")
RESTART_POLICIES = ("OnFailure", "Never")


@dataclass(frozen=True)
class Kubernetes(Scheduler):
    """A Kubernetes Job's container running the command as its PID 1.

    A preemption (eviction, node drain, pod deletion) sends ``stop_signal`` (SIGTERM) to the
    container's PID 1 only, the command's own process; a PID 1 without a handler for it ignores it
    (pid_namespaces(7)). After ``grace_period`` seconds every process of the pod gets SIGKILL. When
    PID 1 exits, the kernel kills the rest of its namespace.

    Restarts (the requeue loop): a preempted pod is replaced by a new pod; a container that exits
    non-zero is restarted in the same pod (``restart_policy="OnFailure"``) or replaced by a new pod
    (``"Never"``); ``backoff_limit`` failures end the Job. The working directory (also ``WANDB_DIR``)
    is the container's own filesystem unless ``volume`` says otherwise: an ``emptyDir`` survives a
    container restart but not a new pod; a ``persistentVolumeClaim`` survives both.

    Attributes:
        grace_period: ``terminationGracePeriodSeconds`` (Kubernetes' default 30).
        restart_policy: the pod template's ``restartPolicy`` (``OnFailure`` or ``Never``; a Job
            does not allow ``Always``).
        backoff_limit: the Job's ``backoffLimit`` (default 6).
        volume: ``None`` (the container's filesystem), ``"emptyDir"`` or ``"persistentVolumeClaim"``.
        stop_signal: the image's ``STOPSIGNAL`` / ``lifecycle.stopSignal`` (default SIGTERM).
        job_name: the Job's name (pod names are ``<job_name>-<suffix>``, in ``HOSTNAME``).

    Raises:
        ValueError: a negative grace period or backoff limit, an unknown policy or volume.
    """

    grace_period: float = 30.0
    restart_policy: str = "OnFailure"
    backoff_limit: int = 6
    volume: str | None = None
    stop_signal: str | int | _signal.Signals = "SIGTERM"
    job_name: str = "train"
    name = "kubernetes"

    def __post_init__(self) -> None:
        _grace(self.grace_period, "grace_period (terminationGracePeriodSeconds)")
        if self.restart_policy not in RESTART_POLICIES:
            raise ValueError(
                f"restartPolicy {self.restart_policy!r}: a Job's pod template takes one of {RESTART_POLICIES}"
            )
        if isinstance(self.backoff_limit, bool) or not isinstance(self.backoff_limit, int) or self.backoff_limit < 0:
            raise ValueError(f"backoffLimit must be an integer >= 0, got {self.backoff_limit!r}")
        if self.volume not in VOLUMES:
            raise ValueError(f"unknown volume {self.volume!r}; expected one of {VOLUMES}")
        object.__setattr__(self, "stop_signal", parse_signal(self.stop_signal))

    @property
    def grace(self) -> float:
        return self.grace_period

    def with_grace(self, seconds: float) -> Kubernetes:
        return replace(self, grace_period=seconds)

    def new_job(self, argv: Sequence[str], base_dir: Path, number: int) -> KubernetesJob:
        return KubernetesJob(self, argv, base_dir, self.job_name if number == 1 else f"{self.job_name}-{number}")


class KubernetesJob(Job):
    """A Job: its pods and their containers, each with a working directory as the volume says."""

    profile: Kubernetes

    def __init__(self, profile: Kubernetes, argv: Sequence[str], base_dir: Path, job_id: str) -> None:
        super().__init__(profile, argv, base_dir, job_id)
        self.pod = 0
        self.container = 0
        self.failures = 0
        self.new_pod = True
        self.dirs: list[Path] = []

    def _dir(self) -> Path:
        volume = self.profile.volume
        if volume == "persistentVolumeClaim":
            return self.dir / "persistentVolumeClaim"
        if volume == "emptyDir":
            return self.dir / f"pod-{self.pod}" / "emptyDir"
        return self.dir / f"pod-{self.pod}" / f"container-{self.container}"

    def pod_name(self) -> str:
        return f"{self.job_id}-{format(self.pod * 7919 + 104729, 'x')[-5:]}"

    def launch(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Launch:
        self.preempted_now = False
        if self.results:
            if self.new_pod:
                self.pod += 1
                self.container = 0
            else:
                self.container += 1
        workdir = self._dir()
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.dirs.append(workdir)
        return Launch(
            list(argv), workdir, {"WANDB_DIR": str(workdir), "HOSTNAME": self.pod_name(), "PATH": _python_first(env)}
        )

    def signal(self) -> _signal.Signals:
        return parse_signal(self.profile.stop_signal)

    def at_trigger(self) -> list[Delivery]:
        self.preempted_now = True
        sig = self.signal()
        grace = self.profile.grace_period
        return [
            Delivery(sig, "pid1", 0.0, f"pod deleted (preemption): {sig.name} to the container's PID 1"),
            Delivery(
                _signal.SIGKILL,
                "pod",
                grace,
                f"SIGKILL after terminationGracePeriodSeconds={grace:g}",
                grace_end=True,
            ),
        ]

    def on_exit(self) -> list[Delivery]:
        return [
            Delivery(
                _signal.SIGKILL, "pod", 0.0, "PID 1 exited: the kernel kills the rest of the container", point="job-end"
            )
        ]

    def pids(self, target: str, view: TreeView) -> tuple[list[int], str]:
        if target == "pid1":
            return ([view.pid] if view.pid is not None and _alive(view.pid) else []), ""
        if target == "pod":
            return [p for p in view.tree() if _alive(p)], ""
        raise ValueError(f"unknown Kubernetes target {target!r}")

    def deliverable(self, pid: int, sig: _signal.Signals, view: TreeView) -> str:
        if pid == view.pid and sig not in (_signal.SIGKILL, _signal.SIGSTOP) and _caught(pid, sig) is False:
            return f"ignored: the container's PID 1 has no {sig.name} handler, and PID 1 ignores such signals"
        return ""

    def requeue(self, result: RunResult) -> tuple[bool, str]:
        if result.returncode == 0:
            return False, "PID 1 exited 0: the pod succeeded and the Job is complete"
        self.failures += 1
        if self.failures > self.profile.backoff_limit:
            return False, f"BackoffLimitExceeded: {self.failures} failures > backoffLimit={self.profile.backoff_limit}"
        if self.preempted_now:
            self.new_pod = True
            return True, "the pod was deleted: the Job controller creates a new pod"
        if self.profile.restart_policy == "OnFailure":
            self.new_pod = False
            return True, f"exit {result.exit_code}: restartPolicy=OnFailure restarts the container in the same pod"
        self.new_pod = True
        return True, f"exit {result.exit_code}: restartPolicy=Never, the Job controller creates a new pod"

    def settings(self) -> str:
        return (
            f"terminationGracePeriodSeconds={self.profile.grace_period:g}, restartPolicy={self.profile.restart_policy}, "
            f"backoffLimit={self.profile.backoff_limit}, working directory on "
            + (self.profile.volume or "the container's own filesystem")
        )

    def describe(self) -> str:
        return f"Kubernetes Job {self.job_id}"

    def id_advice(self) -> str:
        return (
            "a new pod has a new name (HOSTNAME) and, without a persistentVolumeClaim, a fresh filesystem: take the "
            "run id from the Job (an env var in the pod template) or a persistent volume and pass resume='allow'"
        )

    def findings(self, result: RunResult) -> list[Finding]:
        out = super().findings(result)
        if len(self.dirs) < 2 or self.dirs[-1] == self.dirs[-2] or len(result.runs) != 1 or not self.results:
            return out
        prev = self.results[-1]
        before_dir = self.dirs[-2]
        lost = sorted(
            str(p.relative_to(before_dir))
            for p in [before_dir / "wandb" / "wandb-resume.json", *before_dir.glob("*")]
            if p.is_file()
        )
        if not lost:
            return out
        where = self.profile.volume or "the container's own filesystem"
        run, attempt = result.runs[0], result.runs[0].attempt
        new_run = len(prev.runs) == 1 and prev.runs[0].key != run.key
        auto = "wandb/wandb-resume.json" in lost
        if new_run or (
            attempt is not None and attempt.resumed and any(f.code == "steps-repeated" for f in run_findings(run))
        ):
            why = (
                "resume='auto' found no wandb/wandb-resume.json, so the new pod started a new run "
                f"{run.key.path} instead of resuming {prev.runs[0].key.path}"
                if auto and new_run
                else f"the files the previous container wrote ({', '.join(lost[:4])}) were gone"
            )
            out.append(
                finding(
                    "workdir-not-persistent",
                    f"the restarted container's working directory is on {where}, which does not survive a "
                    + ("new pod" if self.profile.volume == "emptyDir" else "restart")
                    + f": {why} — mount the working directory (WANDB_DIR and the checkpoint) from a persistentVolumeClaim",
                )
            )
        return out


# ==================================================================================================
