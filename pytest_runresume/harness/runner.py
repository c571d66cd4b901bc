"""Run code under test in a supervised subprocess, stop it at an exact point, send a real signal.

The process tree: harness -> supervisor (``_supervisor.py``, a child subreaper in its own session)
-> the command -> wandb-core (which the SDK starts in a session of its own). Every process of the
tree is reaped, on success, failure, timeout and interrupt.

A trigger point is reached inside the command by the hook in ``_child/sitecustomize.py``; the
command then blocks until the harness has sent its signal, so it cannot run past the point first.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import queue
import secrets
import shlex
import shutil
import signal as _signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model import Backend, RunRecord
from ..wire import ServedBackend
from . import protocol
from ._supervisor import descendants as _descendants
from .diagnosis import render_findings
from .errors import HarnessError, SignalNotDelivered, SubprocessHung, TriggerNotReached
from .netguard import proxy_env
from .results import ProcessEvent, RunResult, SentSignal
from .schedulers import Delivery, Job, Scheduler, TreeView
from .spec import Preemption, Trigger

HERE = Path(__file__).resolve().parent
SUPERVISOR = HERE / "_supervisor.py"
CHILD_HOOK_DIR = HERE / "_child"


@functools.cache
def file_stream_transmit_interval() -> str:
    """``WANDB_X_FILE_STREAM_TRANSMIT_INTERVAL`` for a command: the SDK's file_stream batch interval.

    wandb-core turns the setting into ``time.Second * time.Duration(value)``: a fraction truncates to
    0 and falls back to its 15 s default, so 1 s is the least it takes by design. With wandb 0.31.0
    (the version verified) the Go product of the integer below wraps around int64 to 0.099999744 s
    (a multiple of 4096 ns, so the integer is exact as a float): batches every 0.1 s, so a step is
    on the server about 0.1 s after ``run.log`` (the step trigger's sync) instead of up to 1 s.
    Every other wandb version gets ``"1"`` (a release that read the value as seconds would never
    send before exit). The version is the one installed for this interpreter.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        verified = version("wandb") == "0.31.0"
    except PackageNotFoundError:
        verified = False
    return "18717284022294576" if verified else "1"


_counter = itertools.count(1)


class Harness:
    """Runs commands against a served fake backend, in a clean environment, one tree at a time.

    Args:
        served: the running fake backend.
        base_dir: a directory for this test (``tmp_path``): the default working directory and
            ``WANDB_DIR`` live in ``base_dir/work``; W&B's config and cache dirs next to it.
        timeout: seconds a command may run before it is killed (:class:`SubprocessHung`).
        grace: seconds the tree may take to exit after the command exited (wandb-core flushing),
            before the supervisor SIGKILLs what is left.
        env: extra environment variables for every command.
    """

    def __init__(
        self,
        served: ServedBackend,
        base_dir: Path,
        timeout: float = 120.0,
        grace: float = 15.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
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
    def backend(self) -> Backend:
        """The model behind the served backend."""
        return self.served.backend

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for a command: the caller's, minus every inherited ``WANDB_*`` variable,
        plus the fake's URL and key, W&B's directories under the test's directory, and test-friendly
        SDK settings (no telemetry, fast file_stream batches, no system metrics). Every proxy variable
        points at the network guard (:mod:`.netguard`), so only loopback is reachable."""
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
                trigger step, the supervisor reported no exit status), naming which.
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
            launch = job.launch(argv, run_cwd, extra_env)
            argv, run_cwd = launch.argv, launch.cwd
            extra_env.update(launch.env)
        timeout = self.timeout if timeout is None else timeout
        number = next(_counter)
        logdir = self.base_dir / "runs" / f"{next(self._run_numbers):02d}"
        logdir.mkdir(parents=True, exist_ok=True)
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        # The command's own temporary directory (wandb's temp folders and sockets, wandb-core's port
        # file): short, since the SDK binds Unix sockets in it (108 bytes at most), and removed by the
        # supervisor when the tree is gone, even after a SIGKILL of pytest; the control socket is in
        # the abstract namespace (no file). Nothing is left in the system's temporary directory.
        own_tmp = "" if "TMPDIR" in extra_env else tempfile.mkdtemp(prefix="rr-")
        if own_tmp:
            extra_env["TMPDIR"] = own_tmp
        control = f"@runresume-{os.getpid()}-{number}-{secrets.token_hex(8)}"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(protocol.socket_address(control))
        listener.listen(16)
        threading.Thread(target=_accept_loop, args=(listener, events), daemon=True).start()
        extra_env[protocol.ENV_CONTROL] = control
        if preempt is not None:
            extra_env[protocol.ENV_TRIGGER] = preempt.trigger.to_env()
        status_r, status_w = os.pipe()
        with self.backend.lock:
            timeline_from = {r.key.path: len(r.timeline) for r in self.backend.runs.values()}
        start_clock = self.backend.now()
        t0 = time.monotonic()
        with open(logdir / "stdout.txt", "wb") as out, open(logdir / "stderr.txt", "wb") as err:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    str(SUPERVISOR),
                    str(status_w),
                    str(self.grace),
                    str(os.getpid()),
                    own_tmp,
                    "--",
                    *argv,
                ],
                cwd=str(run_cwd),
                env=self.env(extra_env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                pass_fds=(status_w,),
                start_new_session=True,
            )
        os.close(status_w)
        threading.Thread(target=_status_loop, args=(status_r, events), daemon=True).start()
        ctx = _Attempt(argv, proc, logdir, start_clock, t0, timeline_from, preempt, job=job)
        spawn_error: str | None = None
        deadline = t0 + timeout
        escalation: threading.Timer | None = None
        try:
            while True:
                try:
                    kind, payload = events.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    self._kill_hung(proc)
                    partial = self._result(ctx)
                    if job is not None:
                        partial.job = job.finish(partial)
                    raise SubprocessHung(
                        f"command did not finish within {timeout:g} s and was killed with its whole tree"
                        + render_findings(partial.findings)
                        + "\n"
                        + partial.report()
                    ) from None
                if kind == "status":
                    ev = payload["event"]
                    if ev == "spawned":
                        ctx.pid = payload["pid"]
                    elif ev == "spawn-failed":
                        spawn_error = payload["error"]
                    elif ev == "exited":
                        ctx.status = payload["status"]
                        if job is not None:
                            self._carry_out(job.on_exit(), ctx, {"point": "exit"})
                    elif ev == "killed":
                        ctx.killed.extend(payload["pids"])
                elif kind == "eof":
                    break
                elif kind == "message":
                    conn, msg = payload
                    after: list[Delivery] = []
                    try:
                        if not _in_tree(msg.get("pid"), proc.pid):
                            pass  # not from the command's tree (the socket name is not a secret): ignored
                        elif msg.get("type") == protocol.EVENT:
                            ctx.events.append(
                                ProcessEvent(str(msg.get("event")), int(msg.get("pid") or 0), msg, len(ctx.sent))
                            )
                            if job is not None:
                                after = job.on_message(msg)
                        elif msg.get("type") == protocol.TRIGGER and preempt is not None:
                            sent = self._maybe_deliver(preempt, msg, ctx)
                            if sent is not None and preempt.escalate_after is not None and escalation is None:
                                escalation = threading.Timer(
                                    preempt.escalate_after, self._escalate, args=(preempt, proc.pid, ctx.sent)
                                )
                                escalation.daemon = True
                                escalation.start()
                    finally:
                        try:
                            conn.sendall(protocol.GO if msg.get("type") == protocol.TRIGGER else protocol.OK)
                        except OSError:
                            pass
                        conn.close()
                    if after:  # a request from inside the job (scontrol requeue): answered first, then acted on
                        self._carry_out(after, ctx, {"point": "request", "request": msg.get("argv")})
            proc.wait(timeout=10)
        finally:
            if escalation is not None:
                escalation.cancel()
            for timer in ctx.timers:
                timer.cancel()
            if proc.poll() is None:
                self._kill_hung(proc)
            listener.close()
            if own_tmp:
                shutil.rmtree(own_tmp, ignore_errors=True)
        if spawn_error is not None:
            raise FileNotFoundError(f"cannot start the command under test: {spawn_error}")
        if ctx.status is None:
            ctx.problems.append("the supervisor reported no exit status for the command (it was killed from outside?)")
        result = self._result(ctx)
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

    # ---- internals -------------------------------------------------------------------------------
    def _targets(self, target: str, pid: int | None, supervisor: int, point_pid: int | None = None) -> list[int]:
        if target == "group":
            return _descendants(supervisor)
        if target == "point" and point_pid is not None:
            return [point_pid]
        return [pid] if pid is not None else []

    def _find_run(self, msg: dict[str, Any], ctx: _Attempt) -> RunRecord | None:
        """The run a trigger message refers to: by entity/project/run id when the process said them;
        by run id alone only if exactly one run has it (else a problem names the candidates)."""
        run_id = msg.get("run_id")
        if not run_id:
            return None
        backend = self.backend
        if msg.get("entity") and msg.get("project"):
            return backend.get(str(msg["entity"]), str(msg["project"]), str(run_id))
        with backend.lock:
            found = [r for r in backend.runs.values() if r.key.run_id == run_id]
        if len(found) > 1:
            ctx.problems.append(
                f"run id {run_id!r} is ambiguous: {[r.key.path for r in found]} (the process did not say its project)"
            )
            return None
        return found[0] if found else None

    def _maybe_deliver(self, preempt: Preemption, msg: dict[str, Any], ctx: _Attempt) -> SentSignal | None:
        """Count this start at the trigger point; send the signal if it is the one to preempt."""
        ctx.starts += 1
        if not preempt.fires_at(ctx.starts):
            return None
        ctx.fired = True
        if ctx.job is not None and preempt.signal != _signal.SIGKILL:  # SIGKILL: a node failure, sent as asked
            ctx.rec = self._sync(preempt, msg, ctx)
            self._carry_out(ctx.job.at_trigger(), ctx, msg)
            return None
        sent = self._deliver(preempt, msg, ctx)
        sent.start = ctx.starts
        ctx.sent.append(sent)
        return sent

    def _sync(self, preempt: Preemption, msg: dict[str, Any], ctx: _Attempt) -> RunRecord | None:
        """For a step trigger, wait until the backend holds the step the process logged; the run."""
        backend = self.backend
        rec = self._find_run(msg, ctx)
        # A row logged with an explicit step= is still pending in the client: wait for the row that
        # call committed (the previous explicit step), if any, so the server's data at the signal is
        # the same every time.
        committed = msg.get("committed_step")
        pending = msg.get("pending")
        if (
            preempt.sync
            and preempt.trigger.kind == "step"
            and msg.get("run_id")
            and (not pending or isinstance(committed, int))
        ):
            step = committed if pending and isinstance(committed, int) else int(msg["step"])
            key = rec.key if rec is not None else None
            run_id = str(msg["run_id"])

            def has_step() -> bool:
                if key is not None:
                    r = backend.runs.get(key)
                    return r is not None and r.last_step is not None and r.last_step >= step
                return any(
                    r.key.run_id == run_id and r.last_step is not None and r.last_step >= step
                    for r in backend.runs.values()
                )

            try:
                backend.wait_for(has_step, timeout=preempt.sync_timeout)
            except TimeoutError:
                ctx.problems.append(
                    f"sync-timeout: the backend did not receive step {step} of run {run_id} within "
                    f"{preempt.sync_timeout:g} s of the process logging it, so the server's data at the signal is "
                    "not what the test asked for (offline mode? pass sync=False to signal without waiting)"
                )
            if rec is None:
                rec = self._find_run(msg, ctx)
        return rec

    def _deliver(self, preempt: Preemption, msg: dict[str, Any], ctx: _Attempt) -> SentSignal:
        backend = self.backend
        rec = self._sync(preempt, msg, ctx)
        point_pid = int(msg["pid"]) if isinstance(msg.get("pid"), int) else None
        pids = self._targets(preempt.target, ctx.pid, ctx.proc.pid, point_pid)
        if not pids:
            raise SignalNotDelivered(f"no process to send {preempt.signal.name} to (target {preempt.target!r})")
        commands = {p: _command_line(p) for p in pids}
        delivered = _send(pids, preempt.signal)
        if not delivered:
            raise SignalNotDelivered(f"{preempt.signal.name} not delivered: processes {pids} had already exited")
        sent = SentSignal(
            preempt.signal,
            delivered,
            time.time(),
            dict(msg),
            rec.last_step if rec else None,
            {p: commands[p] for p in delivered},
        )
        if rec is not None:
            backend.record_event(
                rec,
                "signal",
                f"harness sent {preempt.signal.name} to {delivered} {preempt.trigger.describe()}",
                _signal_data(sent, self._holders(ctx, rec.key.run_id), preempt.trigger.describe()),
            )
        return sent

    def _carry_out(self, deliveries: list[Delivery], ctx: _Attempt, point: dict[str, Any]) -> None:
        """Send each of a scheduler's deliveries now (``at`` <= 0) or after ``at`` seconds."""
        for d in deliveries:
            if d.at <= 0:
                self._send_delivery(d, ctx, point)
            else:
                timer = threading.Timer(d.at, self._send_delivery, args=(d, ctx, point))
                timer.daemon = True
                ctx.timers.append(timer)
                timer.start()

    def _send_delivery(self, d: Delivery, ctx: _Attempt, point: dict[str, Any]) -> None:
        """One scheduler signal: to the processes its target names now, recorded as a :class:`SentSignal`
        (also when it reaches nobody: that is what the diagnosis names)."""
        job = ctx.job
        assert job is not None
        view = TreeView(ctx.pid, lambda: _descendants(ctx.proc.pid))
        pids, note = job.pids(d.target, view)
        if not pids and d.signal == _signal.SIGKILL:
            return  # nothing left to kill: the job ended in time
        commands = {p: _command_line(p) for p in pids}
        ignored = []
        for p in pids:
            why = job.deliverable(p, d.signal, view)
            if why:
                ignored.append(p)
                note = why
        delivered = _send([p for p in pids if p not in ignored], d.signal)
        if not delivered and not ignored and pids:
            return  # they exited in between
        where = {"point": "escalation"} if d.grace_end else ({"point": d.point} if d.point else dict(point))
        rec = ctx.rec
        sent = SentSignal(
            d.signal,
            delivered + ignored,
            time.time(),
            where,
            rec.last_step if rec is not None else None,
            {p: commands.get(p, "?") for p in delivered + ignored},
            (ctx.starts or None) if point.get("point") not in ("request", "exit") else None,
            reason=d.reason,
            note=note,
        )
        ctx.sent.append(sent)
        if rec is not None:
            data = _signal_data(sent, self._holders(ctx, rec.key.run_id), d.reason)
            if ignored:  # sent to the holder, but its process ignores it: it did not get it
                data["received"] = bool(set(data["holders"]) & {str(p) for p in delivered}) if data["holders"] else None
            self.backend.record_event(
                rec,
                "signal",
                f"{job.describe()}: {d.reason}: {d.signal.name} to {delivered + ignored}"
                + (f" ({note})" if note else ""),
                data,
            )

    @staticmethod
    def _holders(ctx: _Attempt, run_id: str) -> dict[int, str]:
        """The processes of this command that hold run ``run_id`` (called ``wandb.init`` for it):
        ``{pid: command line}``."""
        return {
            e.pid: " ".join(map(str, e.detail.get("argv") or [])) or "?"
            for e in ctx.events
            if e.event == "init" and str(e.detail.get("run_id", run_id)) == run_id
        }

    def _escalate(self, preempt: Preemption, supervisor: int, sent: list[SentSignal]) -> None:
        targets = _descendants(supervisor) if preempt.target == "group" else (sent[-1].pids if sent else [])
        commands = {p: _command_line(p) for p in targets}
        pids = _send(targets, _signal.SIGKILL)
        if pids:
            kill = SentSignal(
                _signal.SIGKILL, pids, time.time(), {"point": "escalation"}, None, {p: commands[p] for p in pids}
            )
            sent.append(kill)
            run_id = str(sent[0].point.get("run_id") or "") if sent else ""
            with self.backend.lock:
                recs = [r for r in self.backend.iter_runs() if run_id and r.key.run_id == run_id]
            if len(recs) == 1:
                self.backend.record_event(
                    recs[0],
                    "signal",
                    f"harness sent SIGKILL to {pids}: the grace period ran out",
                    _signal_data(kill, {}, "after the grace period"),
                )

    def _kill_hung(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM the supervisor (it SIGKILLs the tree and reaps it), then SIGKILL it if needed."""
        if proc.poll() is None:
            try:
                proc.send_signal(_signal.SIGTERM)
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def _result(self, ctx: _Attempt) -> RunResult:
        returncode = os.waitstatus_to_exitcode(ctx.status) if ctx.status is not None else None
        keys = set()
        for e in ctx.events:
            if e.event == "init" and e.detail.get("run_id") and e.detail.get("project"):
                keys.add(self.backend.key(e.detail.get("entity"), e.detail.get("project"), str(e.detail["run_id"])))
        touched_ids = {str(s.point.get("run_id")) for s in ctx.sent if s.point.get("run_id")}
        with self.backend.lock:
            runs = [
                r.copy()
                for r in self.backend.iter_runs()
                if r.key in keys
                or any(a.started_at >= ctx.start_clock for a in r.attempts)
                or (not keys and r.key.run_id in touched_ids)
            ]
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


@dataclass
class _Attempt:
    """What the harness tracks while one command runs."""

    argv: list[str]
    proc: subprocess.Popen[bytes]
    logdir: Path
    start_clock: float
    t0: float
    timeline_from: dict[str, int]
    preempt: Preemption | None
    job: Job | None = None
    pid: int | None = None
    status: int | None = None
    starts: int = 0
    fired: bool = False
    rec: RunRecord | None = None
    timers: list[threading.Timer] = field(default_factory=list)
    killed: list[int] = field(default_factory=list)
    sent: list[SentSignal] = field(default_factory=list)
    events: list[ProcessEvent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _in_tree(pid: object, supervisor: int) -> bool:
    """Whether ``pid`` is a process of the command's tree (below the supervisor)."""
    return isinstance(pid, int) and not isinstance(pid, bool) and pid in _descendants(supervisor)


def _command_line(pid: int) -> str:
    """``bash launch.sh --steps 8`` for a live pid (``?`` once it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            parts = [p.decode(errors="replace") for p in f.read().split(b"\0") if p]
    except OSError:
        return "?"
    return shlex.join(parts)[:200] if parts else "?"


def _signal_data(sent: SentSignal, holders: dict[int, str], at: str) -> dict[str, Any]:
    """The facts of a signal for the run's timeline (``TimelineEvent.data``): what went to which
    pids, who holds the run, and whether one of them got it (``None``: no holder known)."""
    return {
        "signal": sent.signal.name,
        "pids": list(sent.pids),
        "commands": {str(p): c for p, c in sent.commands.items()},
        "holders": {str(p): c for p, c in holders.items()},
        "received": bool(set(holders) & set(sent.pids)) if holders else None,
        "at": at,
        "escalation": sent.escalation,
    }


def _send(pids: list[int], sig: _signal.Signals) -> list[int]:
    """Send ``sig`` to each pid; return those it reached (the others had already exited)."""
    reached = []
    for p in pids:
        try:
            os.kill(p, sig)
            reached.append(p)
        except ProcessLookupError:
            pass
    return reached


def _accept_loop(listener: socket.socket, events: queue.Queue[tuple[str, Any]]) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        data = b""
        while b"\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        try:
            msg = protocol.decode(data)
        except ValueError:
            conn.close()
            continue
        events.put(("message", (conn, msg)))


def _status_loop(fd: int, events: queue.Queue[tuple[str, Any]]) -> None:
    with os.fdopen(fd, "rb") as f:
        for line in f:
            try:
                events.put(("status", json.loads(line)))
            except ValueError:
                continue
    events.put(("eof", None))
