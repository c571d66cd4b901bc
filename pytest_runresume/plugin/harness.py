"""The harness as the ``runresume`` fixture sees it: a :class:`Harness` that applies the test's
``preempt`` marker to its first run and checks the run ended as the marker expects."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..harness import ExpectationFailed, Harness, Preemption, RequeueResult, RunResult, Trigger, requeue_loop
from ..harness.network import GUARD_EVENT, describe
from ..harness.schedulers import Scheduler
from ..wire import FakeServer
from .markers import PreemptSpec

_UNSET: Any = object()


class PytestHarness(Harness):
    """:class:`~pytest_runresume.harness.Harness` plus the test's ``preempt`` marker.

    The first :meth:`run` without an explicit ``preempt=`` gets the marker's signal at the marker's
    point, and its result is checked against ``expect_state``, ``expect_exit`` and ``requeue``.
    """

    def __init__(
        self, served: FakeServer, base_dir: Path, marker: PreemptSpec | None, hook: Any = None, **kw: Any
    ) -> None:
        super().__init__(served, base_dir, **kw)
        self.hook = hook
        self.marker = marker
        self.marker_used = False

    def run(  # type: ignore[override]
        self,
        command: str | Sequence[str],
        *,
        preempt: Preemption | Trigger | None = _UNSET,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        scheduler: Scheduler | None = _UNSET,
    ) -> RunResult:
        """Run ``command``; see :meth:`Harness.run`. ``preempt=None`` runs it untouched even when the
        test has a ``preempt`` marker. ``scheduler`` defaults to the marker's (every run of the test
        runs under it); ``scheduler=None`` runs without one."""
        if scheduler is _UNSET:
            scheduler = self.marker.scheduler if self.marker is not None else None
        use_marker = preempt is _UNSET and self.marker is not None and not self.marker_used
        expect_exit = None
        if use_marker:
            assert self.marker is not None
            self.marker_used = True
            preempt = self.marker.preemption
            expect_exit = self.marker.expect_exit
            if scheduler is not None and not self.marker.signal_given:
                job = self.job(scheduler, command)  # the scheduler says which signal reaches the training
                preempt = replace(preempt, signal=job.signal())
                expect_exit = job.expected_exit()
        elif preempt is _UNSET:
            preempt = None
        result = super().run(command, preempt=preempt, cwd=cwd, env=env, timeout=timeout, scheduler=scheduler)
        if self.hook is not None:
            self.hook.pytest_runresume_run_finished(result=result)
        if use_marker:
            assert self.marker is not None
            allow = self.marker.allow
            if self.marker.crash_clock:
                # R61: not crashed while the crash timeout has not passed; then crashed (R60).
                result.expect(exit_code=expect_exit, allow=allow)
                before = result.state
                if before in ("crashed", "preempted"):
                    raise ExpectationFailed(
                        f"run was already {before!r} before the crash timeout passed (R61)\n" + result.report()
                    )
                self.advance_clock(self.served.model.crash_timeout)
            result.expect(
                state=self.marker.expect_state,
                exit_code=expect_exit,
                requeueable=self.marker.requeue,
                allow=allow,
            )
        return result

    def requeue(
        self,
        command: str | Sequence[str],
        preemptions: Sequence[Preemption | Trigger | None],
        max_attempts: int | None = None,
        scheduler: Scheduler | None = _UNSET,
        **run_kwargs: Any,
    ) -> RequeueResult:
        """Run ``command`` again and again like a scheduler requeue, preempting attempt *i* with
        ``preemptions[i]``; see :func:`pytest_runresume.harness.requeue_loop`. Call ``.check()`` on
        the result. Every attempt passes ``preempt=`` explicitly, so the test's marker is not used;
        its ``scheduler`` is (``scheduler=None`` runs without one). With a scheduler, a bare
        :class:`Trigger` is a preemption with that scheduler's signal, and the scheduler decides
        whether the job comes back."""
        if scheduler is _UNSET:
            scheduler = self.marker.scheduler if self.marker is not None else None
        return requeue_loop(self, command, preemptions, max_attempts, scheduler=scheduler, **run_kwargs)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The command environment (see :meth:`Harness.env`), then ``pytest_runresume_subprocess_env``."""
        env = super().env(extra)
        if self.hook is not None:
            self.hook.pytest_runresume_subprocess_env(env=env, harness=self)
        return env

    @staticmethod
    def report_lines(result: RunResult) -> list[str]:
        """The harness's own lines for ``result`` in the "runresume timeline" section: which network
        guard the command ran under (a namespace, or the proxy guard alone and why; docs/network.md)."""
        guard = next((e.detail for e in result.events if e.event == GUARD_EVENT), None)
        return [describe(guard)] if guard is not None else []

    def advance_clock(self, seconds: float) -> float:
        """Move the backend's clock forward ``seconds`` (e.g. past the crash timeout, R61)."""
        return self.served.model.advance_clock(seconds)
