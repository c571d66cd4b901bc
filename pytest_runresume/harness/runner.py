"""Run code under test in a supervised subprocess, stop it at an exact point, send a real signal.

The process tree: harness -> supervisor (``_supervisor.py``, a child subreaper in its own session)
-> the command -> wandb-core (which the SDK starts in a session of its own). Every process of the
tree is reaped, on success, failure, timeout and interrupt.

A trigger point is reached inside the command by the hook in ``_child/sitecustomize.py``; the
command then blocks until the harness has sent its signal, so it cannot run past the point first.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import shlex
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
from ._supervisor import descendants as _descendants
from .errors import ExpectationFailed, SignalNotDelivered, SubprocessHung, TriggerNotReached
from .netguard import proxy_env
from .requeue import RequeueResult, requeue_loop
from .signals import parse_signal, signal_exit_code

HERE = Path(__file__).resolve().parent
SUPERVISOR = HERE / "_supervisor.py"
CHILD_HOOK_DIR = HERE / "_child"

TRIGGER_KINDS = ("step", "init", "preempting", "point", "runtime")
TARGETS = ("process", "point", "group")


@dataclass(frozen=True)
class Trigger:
    """Where in the code under test a signal is sent.

    Attributes:
        kind: ``"step"`` (after ``run.log`` committed W&B step ``step``), ``"init"`` (after
            ``wandb.init`` returned), ``"preempting"`` (after ``run.mark_preempting()``), or
            ``"point"`` (when the code calls ``pytest_runresume.trigger_point(name)``), or
            ``"runtime"`` (at the first ``run.log`` at least ``seconds`` after ``wandb.init``
            returned in this process: the run's own clock, not the test's).
        step: the W&B ``_step`` for ``kind="step"`` (steps, >= 0).
        name: the point's name for ``kind="point"``.
        seconds: for ``kind="runtime"``, seconds (>= 0).
    """

    kind: str = "step"
    step: int | None = None
    name: str | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in TRIGGER_KINDS:
            raise ValueError(f"unknown trigger kind {self.kind!r}; expected one of {TRIGGER_KINDS}")
        if self.kind == "step" and (not isinstance(self.step, int) or isinstance(self.step, bool) or self.step < 0):
            raise ValueError(f"a step trigger needs a step >= 0, got {self.step!r}")
        if self.kind == "point" and not self.name:
            raise ValueError("a point trigger needs the point's name")
        if self.kind == "runtime" and (
            not isinstance(self.seconds, (int, float)) or isinstance(self.seconds, bool) or self.seconds < 0
        ):
            raise ValueError(f"a runtime trigger needs seconds >= 0, got {self.seconds!r}")

    @classmethod
    def at_step(cls, step: int) -> Trigger:
        """Right after W&B step ``step`` is logged."""
        return cls("step", step=step)

    def describe(self) -> str:
        """Human-readable, for reports: ``after step 5``, ``after init``..."""
        if self.kind == "step":
            return f"after step {self.step}"
        if self.kind == "point":
            return f"at point {self.name!r}"
        if self.kind == "runtime":
            return f"at the first log after {self.seconds:g} s of run time"
        return f"after {self.kind}"

    def to_env(self) -> str:
        return json.dumps({"kind": self.kind, "step": self.step, "name": self.name, "seconds": self.seconds})


@dataclass(frozen=True)
class Preemption:
    """A signal to send at a trigger point.

    Attributes:
        signal: the signal (name, number or ``signal.Signals``); default SIGUSR1.
        trigger: where to send it (default: after step 1).
        target: ``"process"`` (the command's own process), ``"point"`` (the process that reached
            the trigger point: the training run under ``wandb agent`` or a launch script), or
            ``"group"`` (every process of the command's tree, wandb-core included, as a
            scheduler's cancel does).
        sync: for step triggers, wait until the backend has received that step before signalling,
            so what the server holds at the signal is the same every time. (A step logged with an
            explicit ``run.log(..., step=N)`` is still pending in the client until a later step or
            the exit commits it, so there is nothing to wait for: the signal lands right away.)
        sync_timeout: seconds to wait for that (the SDK sends at most every transmit interval).
        escalate_after: if set, SIGKILL the target this many seconds after the signal if it has
            not exited (a scheduler's grace period, e.g. SLURM's KillWait).
    """

    signal: _signal.Signals = _signal.SIGUSR1
    trigger: Trigger = field(default_factory=lambda: Trigger.at_step(1))
    target: str = "process"
    sync: bool = True
    sync_timeout: float = 20.0
    escalate_after: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "signal", parse_signal(self.signal))
        if self.target not in TARGETS:
            raise ValueError(f"unknown signal target {self.target!r}; expected one of {TARGETS}")

    @property
    def exit_code(self) -> int:
        """128 + signum: the exit code a correct handler ends with (R67)."""
        return signal_exit_code(self.signal)


@dataclass
class SentSignal:
    """A signal the harness sent.

    Attributes:
        signal: which.
        pids: to which processes.
        t: wall-clock time it was sent, seconds since the epoch.
        point: what the process reported at the trigger point (``{"point": "step", "step": 5, ...}``).
        backend_last_step: the last step the backend held when the signal was sent.
    """

    signal: _signal.Signals
    pids: list[int]
    t: float
    point: dict[str, Any]
    backend_last_step: int | None = None


@dataclass
class RunResult:
    """What one supervised process did.

    Attributes:
        command: the argv that was run.
        returncode: as ``subprocess`` gives it: the exit status, or ``-signum`` if a signal killed it.
        stdout, stderr: its output (text).
        signals: what the harness sent.
        runs: the runs the process started or resumed, as the backend holds them.
        killed: left-over processes the supervisor had to SIGKILL after the grace period.
        duration: wall seconds from launch to the end of the whole tree.
    """

    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    signals: list[SentSignal]
    runs: list[RunRecord]
    killed: list[int]
    duration: float
    served: ServedBackend

    @property
    def exit_code(self) -> int:
        """The shell's view: ``128 + signum`` for a process a signal killed, else the exit status."""
        return 128 - self.returncode if self.returncode < 0 else self.returncode

    @property
    def killed_by_signal(self) -> _signal.Signals | None:
        """The signal that ended the process, if no handler caught it."""
        return _signal.Signals(-self.returncode) if self.returncode < 0 else None

    @property
    def run(self) -> RunRecord:
        """The one run this process wrote to.

        Raises:
            ExpectationFailed: if it wrote to none or to several.
        """
        if len(self.runs) != 1:
            paths = [r.key.path for r in self.runs]
            raise ExpectationFailed(
                f"expected the process to write exactly one run, it wrote {len(self.runs)}: {paths}\n" + self.report()
            )
        return self.runs[0]

    @property
    def state(self) -> str:
        """The run's state now (lowercase, R51)."""
        return self.served.backend.state(self.run)

    def report(self, tail: int = 30) -> str:
        """The run's timeline and the process's last output lines, for failure messages."""
        lines = [f"command: {shlex.join(self.command)}"]
        for sent in self.signals:
            lines.append(
                f"signal {sent.signal.name} sent to {sent.pids} at {sent.point.get('point')}"
                f" {sent.point.get('step', sent.point.get('name', ''))} (backend last step {sent.backend_last_step})"
            )
        lines.append(
            f"exit: returncode {self.returncode} (exit code {self.exit_code})"
            + (f", killed by {self.killed_by_signal.name}" if self.killed_by_signal else "")
        )
        if self.killed:
            lines.append(f"left-over processes killed after the grace period: {self.killed}")
        backend = self.served.backend
        for rec in self.runs:
            requeue = "requeueable (R66, R71)" if backend.is_requeueable(rec) else "not requeueable"
            lines.append(f"run {rec.key.path}: state {backend.state(rec)}, last step {rec.last_step}, {requeue}")
            t0 = rec.timeline[0].t if rec.timeline else 0.0
            for ev in rec.timeline:
                lines.append(f"  +{ev.t - t0:7.2f}s {ev.kind:<13} {ev.detail}")
        for name, text in (("stdout", self.stdout), ("stderr", self.stderr)):
            out = text.splitlines()[-tail:]
            if out:
                lines.append(f"--- {name} (last {len(out)} lines) ---")
                lines.extend(out)
        return "\n".join(lines)

    def expect(
        self,
        state: str | None = None,
        exit_code: int | None = None,
        requeueable: bool | None = None,
    ) -> RunResult:
        """Assert how the run ended; returns ``self``.

        Args:
            state: the run's expected state (compared lowercase, R51/A13).
            exit_code: the expected shell exit code (``128 + signum`` after a handled signal, R67).
            requeueable: whether the backend must consider the run requeueable (R66, R71).

        Raises:
            ExpectationFailed: with the timeline when anything differs.
        """
        problems = []
        if exit_code is not None and self.exit_code != exit_code:
            problems.append(f"exit code {self.exit_code}, expected {exit_code}")
        if state is not None and self.state != state.lower():
            problems.append(f"run state {self.state!r}, expected {state.lower()!r}")
        if requeueable is not None and self.served.backend.is_requeueable(self.run) != requeueable:
            problems.append(f"requeueable is {not requeueable}, expected {requeueable} (R66, R71)")
        if problems:
            raise ExpectationFailed("; ".join(problems) + "\n" + self.report())
        return self


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

    @property
    def backend(self) -> Backend:
        """The model behind the served backend."""
        return self.served.backend

    def requeue(
        self,
        command: str | Sequence[str],
        preemptions: Sequence[Preemption | None],
        max_attempts: int | None = None,
        **run_kwargs: Any,
    ) -> RequeueResult:
        """Run ``command`` repeatedly like a scheduler requeue; see :func:`.requeue.requeue_loop`."""
        return requeue_loop(self, command, preemptions, max_attempts, **run_kwargs)

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
                "WANDB_X_FILE_STREAM_TRANSMIT_INTERVAL": "1",
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

    def run(
        self,
        command: str | Sequence[str],
        *,
        preempt: Preemption | None = None,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> RunResult:
        """Run ``command`` to the end (and signal it at ``preempt.trigger`` if given).

        ``"python"`` as the first word means this interpreter (``sys.executable``).

        Args:
            command: a string (split like a shell would) or an argv list.
            preempt: the signal to send and where; ``None`` runs the command untouched.
            cwd: working directory (default ``self.workdir``, which is also ``WANDB_DIR``).
            env: extra environment variables for this command.
            timeout: seconds before the tree is killed (default ``self.timeout``).

        Returns:
            A :class:`RunResult`.

        Raises:
            SubprocessHung: the command did not finish within ``timeout`` seconds (tree killed).
            TriggerNotReached: ``preempt`` was given and the command exited before the trigger point.
            SignalNotDelivered: the target had already exited when the signal was due.
        """
        argv = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
        if argv and argv[0] in ("python", "python3"):
            argv[0] = sys.executable
        timeout = self.timeout if timeout is None else timeout
        number = next(_counter)
        logdir = self.base_dir / "runs" / f"{next(self._run_numbers):02d}"
        logdir.mkdir(parents=True, exist_ok=True)
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        extra_env = dict(env or {})
        listener = sockdir = None
        if preempt is not None:
            sockdir = tempfile.mkdtemp(prefix="rr-")
            sock_path = os.path.join(sockdir, f"c{number}")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(sock_path)
            listener.listen(8)
            threading.Thread(target=_accept_loop, args=(listener, events), daemon=True).start()
            extra_env.update({"RUNRESUME_CONTROL": sock_path, "RUNRESUME_TRIGGER": preempt.trigger.to_env()})
        status_r, status_w = os.pipe()
        start_clock = self.backend.now()
        t0 = time.monotonic()
        with open(logdir / "stdout.txt", "wb") as out, open(logdir / "stderr.txt", "wb") as err:
            proc = subprocess.Popen(
                [sys.executable, str(SUPERVISOR), str(status_w), str(self.grace), "--", *argv],
                cwd=str(cwd) if cwd is not None else str(self.workdir),
                env=self.env(extra_env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                pass_fds=(status_w,),
                start_new_session=True,
            )
        os.close(status_w)
        threading.Thread(target=_status_loop, args=(status_r, events), daemon=True).start()
        pid: int | None = None
        status: int | None = None
        killed: list[int] = []
        sent: list[SentSignal] = []
        spawn_error: str | None = None
        deadline = t0 + timeout
        escalation: threading.Timer | None = None
        try:
            while True:
                try:
                    kind, payload = events.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    self._kill_hung(proc)
                    partial = self._result(argv, proc, status, logdir, sent, killed, start_clock, t0)
                    raise SubprocessHung(
                        f"command did not finish within {timeout:g} s and was killed with its whole tree\n"
                        + partial.report()
                    ) from None
                if kind == "status":
                    ev = payload["event"]
                    if ev == "spawned":
                        pid = payload["pid"]
                    elif ev == "spawn-failed":
                        spawn_error = payload["error"]
                    elif ev == "exited":
                        status = payload["status"]
                    elif ev == "killed":
                        killed.extend(payload["pids"])
                elif kind == "eof":
                    break
                elif kind == "trigger":
                    conn, msg = payload
                    assert preempt is not None
                    try:
                        sent.append(self._deliver(preempt, msg, pid, proc.pid))
                        if preempt.escalate_after is not None:
                            escalation = threading.Timer(
                                preempt.escalate_after, self._escalate, args=(preempt, pid, proc.pid, sent)
                            )
                            escalation.daemon = True
                            escalation.start()
                    finally:
                        try:
                            conn.sendall(b"go\n")
                        except OSError:
                            pass
                        conn.close()
            proc.wait(timeout=10)
        finally:
            if escalation is not None:
                escalation.cancel()
            if proc.poll() is None:
                self._kill_hung(proc)
            if listener is not None:
                listener.close()
            if sockdir is not None:
                for name in os.listdir(sockdir):
                    os.unlink(os.path.join(sockdir, name))
                os.rmdir(sockdir)
        if spawn_error is not None:
            raise FileNotFoundError(f"cannot start the command under test: {spawn_error}")
        result = self._result(argv, proc, status, logdir, sent, killed, start_clock, t0)
        self.results.append(result)
        if preempt is not None and not sent:
            raise TriggerNotReached(
                f"the process exited before reaching the trigger point ({preempt.trigger.describe()}); "
                f"no {preempt.signal.name} was sent\n" + result.report()
            )
        return result

    # ---- internals -------------------------------------------------------------------------------
    def _targets(self, target: str, pid: int | None, supervisor: int, point_pid: int | None = None) -> list[int]:
        if target == "group":
            return _descendants(supervisor)
        if target == "point" and point_pid is not None:
            return [point_pid]
        return [pid] if pid is not None else []

    def _deliver(self, preempt: Preemption, msg: dict[str, Any], pid: int | None, supervisor: int) -> SentSignal:
        backend = self.backend
        # A row logged with an explicit step= is still pending in the client (nothing to wait for).
        if preempt.sync and preempt.trigger.kind == "step" and msg.get("run_id") and not msg.get("pending"):
            step = int(msg["step"])
            run_id = str(msg["run_id"])

            def has_step() -> bool:
                return any(
                    r.key.run_id == run_id and r.last_step is not None and r.last_step >= step
                    for r in backend.runs.values()
                )

            try:
                backend.wait_for(has_step, timeout=preempt.sync_timeout)
            except TimeoutError:
                pass  # still signal: the report shows the backend's last step
        rec = next((r for r in backend.runs.values() if r.key.run_id == msg.get("run_id")), None)
        point_pid = int(msg["pid"]) if isinstance(msg.get("pid"), int) else None
        pids = self._targets(preempt.target, pid, supervisor, point_pid)
        if not pids:
            raise SignalNotDelivered(f"no process to send {preempt.signal.name} to (target {preempt.target!r})")
        delivered = _send(pids, preempt.signal)
        if not delivered:
            raise SignalNotDelivered(f"{preempt.signal.name} not delivered: processes {pids} had already exited")
        sent = SentSignal(preempt.signal, delivered, time.time(), dict(msg), rec.last_step if rec else None)
        if rec is not None:
            with backend.lock:
                rec.event(
                    backend.now(),
                    "signal",
                    f"harness sent {preempt.signal.name} to {delivered} {preempt.trigger.describe()}",
                )
        return sent

    def _escalate(self, preempt: Preemption, pid: int | None, supervisor: int, sent: list[SentSignal]) -> None:
        targets = _descendants(supervisor) if preempt.target == "group" else (sent[-1].pids if sent else [])
        pids = _send(targets, _signal.SIGKILL)
        if pids:
            sent.append(SentSignal(_signal.SIGKILL, pids, time.time(), {"point": "escalation"}))

    def _kill_hung(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM the supervisor (it SIGKILLs the tree and reaps it), then SIGKILL it if needed."""
        if proc.poll() is None:
            try:
                proc.send_signal(_signal.SIGTERM)
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def _result(
        self,
        argv: list[str],
        proc: subprocess.Popen[bytes],
        status: int | None,
        logdir: Path,
        sent: list[SentSignal],
        killed: list[int],
        start_clock: float,
        t0: float,
    ) -> RunResult:
        returncode = os.waitstatus_to_exitcode(status) if status is not None else -int(_signal.SIGKILL)
        touched_ids = {str(s.point.get("run_id")) for s in sent if s.point.get("run_id")}
        with self.backend.lock:
            runs = [
                r
                for r in self.backend.iter_runs()
                if any(a.started_at >= start_clock for a in r.attempts) or r.key.run_id in touched_ids
            ]
        return RunResult(
            command=argv,
            returncode=returncode,
            stdout=(logdir / "stdout.txt").read_text(errors="replace"),
            stderr=(logdir / "stderr.txt").read_text(errors="replace"),
            signals=sent,
            runs=runs,
            killed=killed,
            duration=time.monotonic() - t0,
            served=self.served,
        )


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
            msg = json.loads(data.decode() or "{}")
        except ValueError:
            conn.close()
            continue
        events.put(("trigger", (conn, msg)))


def _status_loop(fd: int, events: queue.Queue[tuple[str, Any]]) -> None:
    with os.fdopen(fd, "rb") as f:
        for line in f:
            try:
                events.put(("status", json.loads(line)))
            except ValueError:
                continue
    events.put(("eof", None))
