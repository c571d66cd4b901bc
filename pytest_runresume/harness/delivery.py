"""How the harness sends its signals: at the trigger point (after the backend holds the step the
process logged), a scheduler's deliveries (now or after a delay), the escalation to SIGKILL after a
grace period; each recorded as a :class:`~.results.SentSignal` and on the run's timeline."""

from __future__ import annotations

import signal as _signal
import threading
import time
from typing import Any

from .._lazy import warn_renamed
from ..model import Model, RunRecord
from ._supervisor import descendants
from .errors import SignalNotDelivered
from .process import Attempt, command_line, send_signal
from .results import SentSignal
from .schedulers import Delivery, TreeView
from .spec import Preemption


class SignalDelivery:
    """The signal-sending half of :class:`~.runner.Harness` (a base class: it needs ``backend``)."""

    @property
    def model(self) -> Model:
        """The model the signals are recorded in."""
        raise NotImplementedError

    @property
    def backend(self) -> Model:
        """Deprecated (one release): the model is :attr:`model`."""
        warn_renamed("runresume.backend", "runresume.model")
        return self.model

    def _targets(self, target: str, pid: int | None, supervisor: int, point_pid: int | None = None) -> list[int]:
        if target == "group":
            return descendants(supervisor)
        if target == "point" and point_pid is not None:
            return [point_pid]
        return [pid] if pid is not None else []

    def _find_run(self, msg: dict[str, Any], ctx: Attempt) -> RunRecord | None:
        """The run a trigger message refers to: by entity/project/run id when the process said them;
        by run id alone only if exactly one run has it (else a problem names the candidates)."""
        run_id = msg.get("run_id")
        if not run_id:
            return None
        model = self.model
        if msg.get("entity") and msg.get("project"):
            return model.get(str(msg["entity"]), str(msg["project"]), str(run_id))
        found = model.runs_with_id(str(run_id))
        if len(found) > 1:
            ctx.problems.append(
                f"run id {run_id!r} is ambiguous: {[r.key.path for r in found]} (the process did not say its project)"
            )
            return None
        return found[0] if found else None

    def _maybe_deliver(self, preempt: Preemption, msg: dict[str, Any], ctx: Attempt) -> SentSignal | None:
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

    def _sync(self, preempt: Preemption, msg: dict[str, Any], ctx: Attempt) -> RunRecord | None:
        """For a step trigger, wait until the backend holds the step the process logged; the run."""
        model = self.model
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
                return model.holds_step(run_id, step, key)

            try:
                model.wait_for(has_step, timeout=preempt.sync_timeout)
            except TimeoutError:
                ctx.problems.append(
                    f"sync-timeout: the backend did not receive step {step} of run {run_id} within "
                    f"{preempt.sync_timeout:g} s of the process logging it, so the server's data at the signal is "
                    "not what the test asked for (offline mode? pass sync=False to signal without waiting)"
                )
            if rec is None:
                rec = self._find_run(msg, ctx)
        return rec

    def _deliver(self, preempt: Preemption, msg: dict[str, Any], ctx: Attempt) -> SentSignal:
        model = self.model
        rec = self._sync(preempt, msg, ctx)
        point_pid = int(msg["pid"]) if isinstance(msg.get("pid"), int) else None
        pids = self._targets(preempt.target, ctx.pid, ctx.proc.pid, point_pid)
        if not pids:
            raise SignalNotDelivered(f"no process to send {preempt.signal.name} to (target {preempt.target!r})")
        commands = {p: command_line(p) for p in pids}
        delivered = send_signal(pids, preempt.signal)
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
            model.record_event(
                rec,
                "signal",
                f"harness sent {preempt.signal.name} to {delivered} {preempt.trigger.describe()}",
                _signal_data(sent, self._holders(ctx, rec.key.run_id), preempt.trigger.describe()),
            )
        return sent

    def _carry_out(self, deliveries: list[Delivery], ctx: Attempt, point: dict[str, Any]) -> None:
        """Send each of a scheduler's deliveries now (``at`` <= 0) or after ``at`` seconds."""
        for d in deliveries:
            if d.at <= 0:
                self._send_delivery(d, ctx, point)
            else:
                timer = threading.Timer(d.at, self._send_delivery, args=(d, ctx, point))
                timer.daemon = True
                ctx.timers.append(timer)
                timer.start()

    def _send_delivery(self, d: Delivery, ctx: Attempt, point: dict[str, Any]) -> None:
        """One scheduler signal: to the processes its target names now, recorded as a :class:`SentSignal`
        (also when it reaches nobody: that is what the diagnosis names)."""
        job = ctx.job
        assert job is not None
        view = TreeView(ctx.pid, lambda: descendants(ctx.proc.pid))
        pids, note = job.pids(d.target, view)
        if not pids and d.signal == _signal.SIGKILL:
            return  # nothing left to kill: the job ended in time
        commands = {p: command_line(p) for p in pids}
        ignored = []
        for p in pids:
            why = job.deliverable(p, d.signal, view)
            if why:
                ignored.append(p)
                note = why
        delivered = send_signal([p for p in pids if p not in ignored], d.signal)
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
            self.model.record_event(
                rec,
                "signal",
                f"{job.describe()}: {d.reason}: {d.signal.name} to {delivered + ignored}"
                + (f" ({note})" if note else ""),
                data,
            )

    @staticmethod
    def _holders(ctx: Attempt, run_id: str) -> dict[int, str]:
        """The processes of this command that hold run ``run_id`` (called ``wandb.init`` for it):
        ``{pid: command line}``."""
        return {
            e.pid: " ".join(map(str, e.detail.get("argv") or [])) or "?"
            for e in ctx.events
            if e.event == "init" and str(e.detail.get("run_id", run_id)) == run_id
        }

    def _escalate(self, preempt: Preemption, supervisor: int, sent: list[SentSignal]) -> None:
        targets = descendants(supervisor) if preempt.target == "group" else (sent[-1].pids if sent else [])
        commands = {p: command_line(p) for p in targets}
        pids = send_signal(targets, _signal.SIGKILL)
        if pids:
            kill = SentSignal(
                _signal.SIGKILL, pids, time.time(), {"point": "escalation"}, None, {p: commands[p] for p in pids}
            )
            sent.append(kill)
            run_id = str(sent[0].point.get("run_id") or "") if sent else ""
            recs = self.model.runs_with_id(run_id) if run_id else []
            if len(recs) == 1:
                self.model.record_event(
                    recs[0],
                    "signal",
                    f"harness sent SIGKILL to {pids}: the grace period ran out",
                    _signal_data(kill, {}, "after the grace period"),
                )


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
