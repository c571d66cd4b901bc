"""Run code under test in a supervised subprocess, stop it at an exact point, send a real signal.

The process tree (:mod:`.process`): harness -> supervisor (``_supervisor.py``, a child subreaper in
its own session) -> the command -> wandb-core (which the SDK starts in a session of its own). Every
process of the tree is reaped, on success, failure, timeout and interrupt. The command runs in a
network namespace of its own where the machine allows it (:mod:`.network`).

A trigger point is reached inside the command by the hook in ``_child/sitecustomize.py``; the
command then blocks until the harness has sent its signal (:mod:`.delivery`), so it cannot run past
the point first.
"""

from __future__ import annotations

import itertools
import os
import queue
import shlex
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._lazy import warn_renamed
from ..model import Model
from ..wire import FakeServer
from . import network as _network
from . import protocol
from .delivery import SignalDelivery
from .diagnosis import render_findings
from .errors import HarnessError, SubprocessHung, TriggerNotReached
from .netguard import proxy_env
from .process import (
    CHILD_HOOK_DIR,
    SUPERVISOR,
    Attempt,
    Events,
    close_control,
    in_tree,
    kill_supervisor,
    launch,
    open_control,
)
from .results import ProcessEvent, RunResult
from .schedulers import Delivery, Job, Scheduler
from .sdk_env import file_stream_transmit_interval, retry_waits
from .spec import Preemption, Trigger

__all__ = ["CHILD_HOOK_DIR", "SUPERVISOR", "Harness"]


class Harness(SignalDelivery):
    """Runs commands against a served fake backend, in a clean environment, one tree at a time.

    Args:
        served: the running fake backend.
        base_dir: a directory for this test (``tmp_path``): the default working directory and
            ``WANDB_DIR`` live in ``base_dir/work``; W&B's config and cache dirs next to it.
        timeout: seconds a command may run before it is killed (:class:`SubprocessHung`).
        grace: seconds the tree may take to exit after the command exited (wandb-core flushing),
            before the supervisor SIGKILLs what is left.
        env: extra environment variables for every command.
        network: ``"auto"`` (a network namespace where the machine allows it, else the proxy guard
            alone), ``"namespace"`` (required) or ``"proxy"`` (never); default
            ``$RUNRESUME_NETWORK`` or ``auto``. See :mod:`.network` and ``docs/network.md``.

    Raises:
        ValueError: an unknown ``network`` mode.
    """

    def __init__(
        self,
        served: FakeServer,
        base_dir: Path,
        timeout: float = 120.0,
        grace: float = 15.0,
        env: Mapping[str, str] | None = None,
        network: str | None = None,
    ) -> None:
        self.network = _network.resolve_mode(network)
        self._network_from = f"network={network!r}" if network is not None else f"{_network.NETWORK_ENV}={self.network}"
        self.served = served
        self.base_dir = Path(base_dir)
        self.workdir = self.base_dir / "work"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout
        self.grace = grace
        self.extra_env = dict(env or {})
        self.results: list[RunResult] = []
        self._run_numbers = itertools.count(1)  # per-run log directories, unique across threads
        self._jobs: dict[tuple[Scheduler, tuple[str, ...]], Job] = {}

    @property
    def model(self) -> Model:
        """The model behind the served backend."""
        return self.served.model

    @property
    def backend(self) -> Model:
        """Deprecated (one release): the model is :attr:`model`."""
        warn_renamed("runresume.backend", "runresume.model")
        return self.model

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for a command: the caller's, minus every inherited ``WANDB_*`` variable,
        plus the fake's URL and key, W&B's directories under the test's directory, and test-friendly
        SDK settings (no telemetry, fast file_stream batches, short waits before a retry:
        :mod:`.sdk_env`, no system metrics). Every proxy variable points at the network guard
        (:mod:`.netguard`), so only loopback is reachable."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
        home = self.base_dir / "wandb-home"
        env.update(self.served.env())
        env.update(
            {
                "WANDB_DIR": str(self.workdir),
                "WANDB_CONFIG_DIR": str(home / "config"),
                "WANDB_CACHE_DIR": str(home / "cache"),
                "WANDB_DATA_DIR": str(home / "data"),
                "WANDB_ARTIFACT_DIR": str(home / "artifacts"),
                "WANDB_ERROR_REPORTING": "false",
                "WANDB_X_FILE_STREAM_TRANSMIT_INTERVAL": file_stream_transmit_interval(),
                **retry_waits(),
                "WANDB_X_DISABLE_STATS": "true",
                "WANDB_INIT_TIMEOUT": "30",
                "WANDB_DISABLE_GIT": "true",
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(proxy_env(self.served))  # no real network: other hosts get a 403 and a problem
        env["PYTHONPATH"] = os.pathsep.join(
            [str(CHILD_HOOK_DIR)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        )
        env.update(self.extra_env)
        env.update(extra or {})
        return env

    def job(self, scheduler: Scheduler, command: str | Sequence[str]) -> Job:
        """The job ``scheduler`` runs ``command`` as in this harness (made on first use): every
        ``run(command, scheduler=scheduler)`` is its next run (its requeue or restart).

        Raises:
            ValueError: the command cannot run under this scheduler (e.g. not a batch script).
        """
        argv = self._argv(command)
        key = (scheduler, tuple(argv))
        if key not in self._jobs:
            number = 1 + sum(1 for s, _ in self._jobs if type(s) is type(scheduler))
            self._jobs[key] = scheduler.new_job(argv, self.base_dir / "jobs" / f"{scheduler.name}-{number}", number)
        return self._jobs[key]

    @staticmethod
    def _argv(command: str | Sequence[str]) -> list[str]:
        argv = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
        if argv and argv[0] in ("python", "python3"):
            argv[0] = sys.executable
        return argv

    def run(
        self,
        command: str | Sequence[str],
        *,
        preempt: Preemption | Trigger | None = None,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        scheduler: Scheduler | None = None,
    ) -> RunResult:
        """Run ``command`` to the end (and signal it at ``preempt.trigger`` if given).

        ``"python"`` as the first word means this interpreter (``sys.executable``). The signal goes
        to the first start of the training code that reaches the trigger point (``preempt.start``
        picks another start, or every start), so a command that restarts its training process itself
        is preempted once per call.

        Args:
            command: a string (split like a shell would) or an argv list. With ``scheduler``, what
                the scheduler runs: a batch script and its arguments (SLURM), the container's
                command (Kubernetes), the training command (spot VM).
            preempt: the signal to send and where; a bare :class:`Trigger` means the default
                signal (SIGUSR1), or the scheduler's; ``None`` runs the command untouched.
            cwd: working directory (default ``self.workdir``, which is also ``WANDB_DIR``); a
                Kubernetes profile puts each container in a directory of its own (its volume).
            env: extra environment variables for this command (the scheduler's own, such as
                ``SLURM_JOB_ID``, win).
            timeout: seconds before the tree is killed (default ``self.timeout``).
            scheduler: a scheduler profile (:mod:`.schedulers`): the command runs as the next run
                of its job (:meth:`job`), the preemption is what that scheduler delivers at the
                trigger point (to the processes it picks, SIGKILL after its grace period), and the
                result's ``job`` says whether it requeues the job. See ``docs/schedulers/``.

        Returns:
            A :class:`RunResult`, kept as it was when the process ended.

        Raises:
            SubprocessHung: the command did not finish within ``timeout`` seconds (tree killed).
            TriggerNotReached: ``preempt`` was given and the command exited before the trigger point
                (with the likely cause: an exception, fewer steps logged ...).
            SignalNotDelivered: the target had already exited when the signal was due.
            HarnessError: the harness could not keep a promise (the backend never received the
                trigger step, the supervisor reported no exit status, ``network="namespace"`` and
                no network namespace could be made), naming which.
            ValueError: with ``scheduler``, a command it cannot run or a ``preempt`` that asks for
                another signal, target or grace period than the scheduler's.
        """
        argv = self._argv(command)
        job = self.job(scheduler, argv) if scheduler is not None else None
        if isinstance(preempt, Trigger):
            preempt = Preemption(trigger=preempt) if job is None else job.preemption(preempt)
        elif preempt is not None and job is not None:
            preempt = job.preemption(preempt)
        run_cwd = Path(cwd) if cwd is not None else self.workdir
        extra_env = dict(env or {})
        if job is not None:
            launched = job.launch(argv, run_cwd, extra_env)
            argv, run_cwd = launched.argv, launched.cwd
            extra_env.update(launched.env)
        timeout = self.timeout if timeout is None else timeout
        logdir = self.base_dir / "runs" / f"{next(self._run_numbers):02d}"
        logdir.mkdir(parents=True, exist_ok=True)
        events: Events = queue.Queue()
        # The command's own temporary directory (wandb's temp folders and sockets, wandb-core's port
        # file, the control socket): short, since the SDK binds Unix sockets in it (108 bytes at
        # most), and removed by the supervisor when the tree is gone, even after a SIGKILL of pytest.
        # Nothing is left in the system's temporary directory.
        own_tmp = tempfile.mkdtemp(prefix="rr-")
        extra_env.setdefault("TMPDIR", own_tmp)
        listener, extra_env[protocol.ENV_CONTROL] = open_control(own_tmp, events)
        if preempt is not None:
            extra_env[protocol.ENV_TRIGGER] = preempt.trigger.to_env()
        timeline_from = self.model.timeline_lengths()
        start_clock = self.model.now()
        try:
            command_env = self.env(extra_env)
            connector, network_args, guard_note = _network.connector_for(self.served, self.network, self._network_from)
        except BaseException:
            close_control(listener)
            shutil.rmtree(own_tmp, ignore_errors=True)
            raise
        t0 = time.monotonic()
        with open(logdir / "stdout.txt", "wb") as out, open(logdir / "stderr.txt", "wb") as err:
            proc = launch(
                argv,
                grace=self.grace,
                own_tmp=own_tmp,
                network_args=network_args,
                connector=connector,
                listener=listener,
                events=events,
                cwd=str(run_cwd),
                env=command_env,
                stdout=out,
                stderr=err,
            )
        ctx = Attempt(argv, proc, logdir, start_clock, t0, timeline_from, preempt, job=job)
        if guard_note is not None:
            ctx.events.append(ProcessEvent(_network.GUARD_EVENT, proc.pid, guard_note, 0))
        try:
            self._watch(ctx, events, t0 + timeout, timeout)
            proc.wait(timeout=10)
        finally:
            for timer in ctx.timers:
                timer.cancel()
            if proc.poll() is None:
                kill_supervisor(proc)
            close_control(listener)
            shutil.rmtree(own_tmp, ignore_errors=True)
        return self._finish(ctx)

    # ---- internals -------------------------------------------------------------------------------
    def _watch(self, ctx: Attempt, events: Events, deadline: float, timeout: float) -> None:
        """Act on the supervisor's status and the hook's messages until the supervisor is done.

        Raises:
            SubprocessHung: ``deadline`` passed; the tree was killed.
        """
        proc, job = ctx.proc, ctx.job
        while True:
            try:
                kind, payload = events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                kill_supervisor(proc)
                partial = self._result(ctx)
                if job is not None:
                    partial.job = job.finish(partial)
                raise SubprocessHung(
                    f"command did not finish within {timeout:g} s and was killed with its whole tree"
                    + render_findings(partial.findings)
                    + "\n"
                    + partial.report()
                ) from None
            if kind == "eof":
                return
            if kind == "status":
                self._on_status(ctx, payload)
            elif kind == "message":
                self._on_message(ctx, *payload)

    def _on_status(self, ctx: Attempt, status: dict[str, Any]) -> None:
        """One status line of the supervisor (see ``_supervisor.py``)."""
        ev = status["event"]
        if ev == "spawned":
            ctx.pid = status["pid"]
        elif ev == "spawn-failed":
            ctx.spawn_error = status["error"]
        elif ev == "exited":
            ctx.status = status["status"]
            if ctx.job is not None:
                self._carry_out(ctx.job.on_exit(), ctx, {"point": "exit"})
        elif ev == "killed":
            ctx.killed.extend(status["pids"])
        elif ev == "network":
            ctx.events.append(ProcessEvent(_network.GUARD_EVENT, ctx.proc.pid, status, len(ctx.sent)))

    def _on_message(self, ctx: Attempt, conn: Any, msg: dict[str, Any]) -> None:
        """One message of the hook (an event, or a trigger point reached), answered once acted on."""
        preempt, job = ctx.preempt, ctx.job
        after: list[Delivery] = []
        try:
            if not in_tree(msg.get("pid"), ctx.proc.pid):
                pass  # not from the command's tree: ignored
            elif msg.get("type") == protocol.EVENT:
                if msg.get("event") == _network.ATTEMPT_EVENT:
                    _network.record_attempt(self.served, msg, time.time())
                ctx.events.append(ProcessEvent(str(msg.get("event")), int(msg.get("pid") or 0), msg, len(ctx.sent)))
                if job is not None:
                    after = job.on_message(msg)
            elif msg.get("type") == protocol.TRIGGER and preempt is not None:
                sent = self._maybe_deliver(preempt, msg, ctx)
                if sent is not None and preempt.escalate_after is not None and not ctx.escalating:
                    ctx.escalating = True
                    escalation = threading.Timer(
                        preempt.escalate_after, self._escalate, args=(preempt, ctx.proc.pid, ctx.sent)
                    )
                    escalation.daemon = True
                    ctx.timers.append(escalation)
                    escalation.start()
        finally:
            try:
                conn.sendall(protocol.GO if msg.get("type") == protocol.TRIGGER else protocol.OK)
            except OSError:
                pass
            conn.close()
        if after:  # a request from inside the job (scontrol requeue): answered first, then acted on
            self._carry_out(after, ctx, {"point": "request", "request": msg.get("argv")})

    def _finish(self, ctx: Attempt) -> RunResult:
        """The result of a command whose tree is gone, or the error that says why there is none."""
        if ctx.spawn_error is not None:
            raise FileNotFoundError(f"cannot start the command under test: {ctx.spawn_error}")
        guard = next((e.detail for e in ctx.events if e.event == _network.GUARD_EVENT), None)
        if guard is not None and (
            guard.get("mode") == "broken" or (self.network == "namespace" and guard.get("mode") != "namespace")
        ):
            raise HarnessError(
                f"the command was not started: {_network.describe(guard)}"
                + (f", and {self._network_from} asks for one" if self.network == "namespace" else "")
            )
        if ctx.status is None:
            ctx.problems.append("the supervisor reported no exit status for the command (it was killed from outside?)")
        result = self._result(ctx)
        preempt, job = ctx.preempt, ctx.job
        if job is not None:
            result.job = job.finish(result)
        self.results.append(result)
        if preempt is not None and not ctx.fired:
            steps = [r.last_step for r in result.runs]
            raise TriggerNotReached(
                f"the process exited before reaching the trigger point ({preempt.trigger.describe()}"
                + (f", start {preempt.start}" if preempt.start != 1 else "")
                + f"); no {preempt.signal.name} was sent"
                + (f" (last W&B step logged: {steps[0]})" if len(steps) == 1 else f" (runs written: {len(steps)})")
                + render_findings(result.findings)
                + "\n"
                + result.report()
            )
        if result.problems:
            raise HarnessError(
                "the harness could not keep its promise: " + "; ".join(result.problems) + "\n" + result.report()
            )
        return result

    def _result(self, ctx: Attempt) -> RunResult:
        returncode = os.waitstatus_to_exitcode(ctx.status) if ctx.status is not None else None
        keys = set()
        for e in ctx.events:
            if e.event == "init" and e.detail.get("run_id") and e.detail.get("project"):
                keys.add(self.model.key(e.detail.get("entity"), e.detail.get("project"), str(e.detail["run_id"])))
        touched_ids = {str(s.point.get("run_id")) for s in ctx.sent if s.point.get("run_id")}
        runs = self.model.copies_of_runs(
            lambda r: (
                r.key in keys
                or any(a.started_at >= ctx.start_clock for a in r.attempts)
                or (not keys and r.key.run_id in touched_ids)
            )
        )
        previous = next((r for r in reversed(self.results) if r.command == ctx.argv), None)
        return RunResult(
            command=ctx.argv,
            returncode=returncode,
            stdout=(ctx.logdir / "stdout.txt").read_text(errors="replace"),
            stderr=(ctx.logdir / "stderr.txt").read_text(errors="replace"),
            signals=list(ctx.sent),
            runs=runs,
            killed=list(ctx.killed),
            duration=time.monotonic() - ctx.t0,
            served=self.served,
            events=list(ctx.events),
            problems=list(ctx.problems),
            preemption=ctx.preempt,
            timeline_from=dict(ctx.timeline_from),
            previous=previous,
        )
