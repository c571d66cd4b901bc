"""The SLURM profile: the user's own batch script under ``sbatch``'s rules, its ``#SBATCH`` lines, the
fake client commands, and how a time limit, a preemption or a cancel reaches the job's processes
(``docs/schedulers/slurm.md``; the SLURM pieces themselves are in :mod:`pytest_runresume.harness.slurm`).
"""

from __future__ import annotations

import os
import shlex
import signal as _signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import slurm as _slurm
from ..findings import Finding, finding
from .base import Delivery, Job, Launch, Scheduler, TreeView, _alive, _caught, _grace, _python_first, _subtree

if TYPE_CHECKING:
    from ..results import RunResult

SLURM_EVENTS = ("time_limit", "preempt", "cancel")


@dataclass(frozen=True)
class Slurm(Scheduler):
    """SLURM running the user's own batch script (``runresume.run("job.sbatch ARGS", scheduler=Slurm())``).

    The command is what you would give ``sbatch``: the script and its arguments. The script runs
    under its ``#!`` interpreter in the submit directory (the harness's working directory, kept
    across requeues) with the job's environment (:func:`..slurm.slurm_env`: ``SLURM_JOB_ID`` fixed,
    ``SLURM_RESTART_COUNT`` + 1 at each requeue) and the fake ``scontrol``/``squeue``/``sbatch``/
    ``srun``/``scancel`` first on ``PATH``. ``#SBATCH`` lines are read as sbatch reads them.

    At the trigger point (``event``):

    - ``"time_limit"`` (the default when the script has ``--signal``): the ``--signal`` warning,
      SIGCONT then the signal, to the batch shell only with ``B:``, else to every process of every
      ``srun`` step (none without ``srun``: the signal reaches nobody); ``signal_lead`` seconds later
      the job ends (below). SLURM does not requeue a job that reached its time limit: only
      ``scontrol requeue`` from inside the job does.
    - ``"preempt"`` (the default without ``--signal``): ``PreemptMode=REQUEUE``. With ``grace_time``
      0 the job ends at once (below); with ``grace_time`` > 0, SIGCONT + SIGTERM to the steps (or the
      ``--signal`` signal with ``send_user_signal``) and the job ends ``grace_time`` seconds later.
      The job is requeued unless the script says ``--no-requeue`` (then it is cancelled).
    - ``"cancel"``: ``scancel``: the job ends at once, not requeued.

    The job ends (time limit, preemption, cancel, ``scontrol requeue`` of the running job) with
    SIGCONT and SIGTERM to every process of the job, ``wandb-core`` included, then SIGKILL after
    ``kill_wait`` seconds. When the batch script exits, what is left of the job is killed.

    Attributes:
        kill_wait: ``KillWait`` (slurm.conf), seconds from SIGTERM to SIGKILL (SLURM's default 30).
        event: what happens at the trigger point (see above); ``None``: ``time_limit`` if the
            script has ``--signal``, else ``preempt``.
        signal_lead: seconds from the ``--signal`` warning to the end of the job; ``None``: the
            script's ``@sig_time`` (60 by default): scale it down in tests.
        grace_time: the partition's ``GraceTime`` for ``event="preempt"`` (default 0).
        send_user_signal: ``PreemptParameters=send_user_signal``.
        job_id: the first job's ``SLURM_JOB_ID`` (later jobs of the same harness count up).

    Raises:
        ValueError: a negative time, an unknown event.
    """

    kill_wait: float = _slurm.KILL_WAIT_DEFAULT
    event: str | None = None
    signal_lead: float | None = None
    grace_time: float = 0.0
    send_user_signal: bool = False
    job_id: int = 4242
    name = "slurm"

    def __post_init__(self) -> None:
        _grace(self.kill_wait, "kill_wait (KillWait)")
        _grace(self.grace_time, "grace_time (GraceTime)")
        if self.signal_lead is not None:
            _grace(self.signal_lead, "signal_lead")
        if self.event is not None and self.event not in SLURM_EVENTS:
            raise ValueError(f"unknown SLURM event {self.event!r}; expected one of {SLURM_EVENTS}")

    @property
    def grace(self) -> float:
        return self.kill_wait

    def with_grace(self, seconds: float) -> Slurm:
        return replace(self, kill_wait=seconds)

    def new_job(self, argv: Sequence[str], base_dir: Path, number: int) -> SlurmJob:
        return SlurmJob(self, argv, base_dir, str(self.job_id + number - 1))


class SlurmJob(Job):
    """A batch job: its script parsed once, its fake commands and events file under :attr:`dir`."""

    profile: Slurm

    def __init__(self, profile: Slurm, argv: Sequence[str], base_dir: Path, job_id: str) -> None:
        super().__init__(profile, argv, base_dir, job_id)
        if not argv:
            raise ValueError("SLURM: no batch script given")
        path = Path(argv[0])
        try:
            self.script = _slurm.parse_sbatch_file(path)
        except OSError as exc:
            raise ValueError(f"sbatch: error: Unable to open file {argv[0]}: {exc.strerror}") from None
        if self.script.shebang is None:
            raise ValueError(
                f"sbatch: error: This does not look like a batch script.  The first\n"
                f"sbatch: error: line must start with #! followed by the path to an interpreter.\n"
                f"sbatch: error: For instance: #!/bin/sh  ({argv[0]})"
            )
        self.path = path.resolve()
        self.events_file = self.dir / "events.jsonl"
        self.bin = _slurm.install_fake_commands(self.dir / "bin")
        sig = self.script.signal
        self.event = profile.event or ("time_limit" if sig is not None else "preempt")
        self.batch_traps: dict[_signal.Signals, bool] = {}
        self.lead = (
            profile.signal_lead if profile.signal_lead is not None else float(sig.seconds_before_end if sig else 0)
        )

    def launch(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Launch:
        self.preempted_now = False
        self.batch_traps = {}
        self.workdir = cwd
        interp = shlex.split(self.script.shebang or "/bin/sh")
        job_env = _slurm.slurm_env(
            self.job_id,
            self.restart,
            job_name=self.script.job_name or self.path.name,
            submit_dir=cwd,
            events_file=self.events_file,
            requeue=self.script.requeue_allowed(),
            time_limit_s=self.script.time_limit_s,
        )
        job_env["PATH"] = os.pathsep.join([str(self.bin), _python_first(env)])
        job_env["PYTHON"] = sys.executable
        return Launch([*interp, str(self.path), *argv[1:]], cwd, job_env)

    def signal(self) -> _signal.Signals:
        sig = self.script.signal
        if self.event == "time_limit" and sig is not None:
            return sig.signal
        if self.event == "preempt" and self.profile.grace_time > 0 and self.profile.send_user_signal and sig:
            return sig.signal
        return _signal.SIGTERM

    def expected_exit(self) -> int | None:
        return None  # SLURM requeues on its own decision; the batch script's status decides nothing

    def _end(self, at: float, why: str) -> list[Delivery]:
        return [
            Delivery(s.signal, s.target, s.at, s.reason, grace_end=s.signal == _signal.SIGKILL)
            for s in _slurm.termination_steps(self.profile.kill_wait, at=at, reason=why)
        ]

    def at_trigger(self) -> list[Delivery]:
        self.preempted_now = True
        sig = self.script.signal
        if self.event == "time_limit":
            steps: list[Delivery] = []
            if sig is not None:
                steps = [
                    Delivery(s.signal, s.target, 0.0, f"time limit near: {s.reason}")
                    for s in _slurm.warning_signal_steps(sig)
                ]
            return steps + self._end(self.lead, "time limit")
        if self.event == "cancel":
            return self._end(0.0, "scancel")
        out = []
        for s in _slurm.preemption_steps(
            self.script,
            grace_time=self.profile.grace_time,
            kill_wait=self.profile.kill_wait,
            send_user_signal=self.profile.send_user_signal,
        ):
            out.append(Delivery(s.signal, s.target, s.at, s.reason, grace_end=s.signal == _signal.SIGKILL))
        return out

    def on_message(self, msg: Mapping[str, Any]) -> list[Delivery]:
        if msg.get("event") != "slurm" or msg.get("exit_code") != 0:
            return []
        if msg.get("action") in ("requeue", "requeuehold") and self.job_id in (msg.get("job_ids") or []):
            return self._end(0.0, f"scontrol {msg.get('action')} {self.job_id}")
        if msg.get("action") == "cancel" and msg.get("signal") in (None, ""):
            return self._end(0.0, f"scancel {self.job_id}")
        return []

    def on_exit(self) -> list[Delivery]:
        return [
            Delivery(
                _signal.SIGKILL,
                "job",
                0.0,
                "the batch script ended: what is left of the job is killed",
                point="job-end",
            )
        ]

    def deliverable(self, pid: int, sig: _signal.Signals, view: TreeView) -> str:
        if pid == view.pid:  # remember whether the batch shell traps it (B: then reaches a handler)
            self.batch_traps[sig] = bool(_caught(pid, sig))
        return ""

    def steps(self) -> list[_slurm.SlurmEvent]:
        """The ``srun`` steps this run of the job started (from the events file)."""
        return [
            e
            for e in _slurm.read_events(self.events_file)
            if e.command == "srun" and e.exit_code == 0 and e.job_id == self.job_id and e.restart_count == self.restart
        ]

    def pids(self, target: str, view: TreeView) -> tuple[list[int], str]:
        tree = view.tree()
        if target == "batch":
            return ([view.pid] if view.pid is not None and _alive(view.pid) else []), ""
        if target == "job":
            return [p for p in tree if _alive(p)], ""
        if target == "steps":
            steps = self.steps()
            if not steps:
                return [], "reached no process: the job has no srun step (without B:, --signal goes to job steps only)"
            live = set(tree)
            out: list[int] = []
            for e in steps:
                if e.pid in live:
                    out += [p for p in _subtree(e.pid, tree) if p not in out and _alive(p)]
            return out, ("" if out else "reached no process: every srun step had ended")
        raise ValueError(f"unknown SLURM target {target!r}")

    def requeue(self, result: RunResult) -> tuple[bool, str]:
        events = _slurm.read_events(self.events_file)
        mine = [e for e in events if e.job_id == self.job_id and e.restart_count == self.restart]
        if _slurm.requeue_requests(mine, self.job_id):
            return True, "`scontrol requeue` from inside the job"
        refused = [
            e for e in mine if e.command == "scontrol" and e.action in ("requeue", "requeuehold") and e.exit_code
        ]
        said = "; ".join(str(x) for e in refused for x in e.data.get("errors", [])) if refused else ""
        if result.returncode == 0:
            return False, "the batch script exited 0: the job completed"
        if self.preempted_now and self.event == "preempt":
            if self.script.requeue_allowed():
                return True, "preempted (PreemptMode=REQUEUE)"
            return (
                False,
                f"preempted, but the script says --no-requeue, so PreemptMode=REQUEUE cancelled job {self.job_id}",
            )
        what = {
            "time_limit": "reached its time limit",
            "cancel": "was cancelled (scancel)",
            "preempt": "ended",
        }[self.event if self.preempted_now else "preempt"]
        return False, (
            f"the job {what} (exit {result.exit_code}) and nothing asked for a requeue: SLURM requeues a job only "
            "when it is preempted with PreemptMode=REQUEUE or asked with `scontrol requeue $SLURM_JOB_ID`"
            + (f" (scontrol requeue was refused: {said})" if said else "")
        )

    def settings(self) -> str:
        sig = self.script.signal
        parts = [f"KillWait={self.profile.kill_wait:g}s", f"--signal={sig.describe()}" if sig else "no --signal"]
        if self.event == "time_limit" and sig is not None:
            parts.append(f"time limit {self.lead:g}s after the signal")
        if self.event == "preempt":
            parts.append(f"preempted, GraceTime={self.profile.grace_time:g}s")
        if self.script.requeue is False:
            parts.append("--no-requeue")
        return ", ".join(parts)

    def describe(self) -> str:
        return f"SLURM job {self.job_id}"

    def id_advice(self) -> str:
        return (
            f"a requeued job keeps SLURM_JOB_ID ({self.job_id}) while SLURM_RESTART_COUNT, the time and random ids "
            "change: derive the run id from SLURM_JOB_ID (or keep it in the checkpoint) and pass resume='allow'"
        )

    def findings(self, result: RunResult) -> list[Finding]:
        out = super().findings(result)
        sig = self.script.signal
        if sig is None:
            return out
        warnings = [s for s in result.signals if s.signal == sig.signal and s.reason.startswith("time limit near")]
        if not warnings:
            return out
        first = warnings[0]
        holders = result.holders
        handled = any(e.event == "mark_preempting" and e.signals_before > 0 for e in result.events)
        if not first.pids:
            out.append(
                finding(
                    "signal-reached-nobody",
                    f"--signal={sig.describe()} (no B:) signals the job's srun steps only, and {self.path.name} "
                    "starts the training without srun, so no process got "
                    f"{first.signal.name}: start it with `srun python ...` (or use `--signal=B:...` with exec or a trap)",
                )
            )
        elif (
            sig.batch_only
            and holders
            and not set(holders) & set(first.pids)
            and not handled
            and not self.batch_traps.get(first.signal)
        ):
            went = ", ".join(f"pid {p} ({first.commands.get(p, '?')})" for p in first.pids)
            held = ", ".join(f"pid {p}" for p in holders)
            out.append(
                finding(
                    "signal-batch-shell-only",
                    f"--signal={sig.describe()} signals the batch shell only ({went}); the training process holding "
                    f"the run ({held}) never got {first.signal.name}: in {self.path.name} start it with `exec`, or "
                    f"trap {first.signal.name.removeprefix('SIG')} and forward it (`cmd & child=$!; wait $child` with "
                    f"`trap 'kill -{first.signal.name.removeprefix('SIG')} $child' ...`), or drop B: and run it with srun",
                )
            )
        return out


# ==================================================================================================
# Kubernetes
