"""``@pytest.mark.preempt(...)``: parsed strictly, errors name the test and the key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from ..harness.signals import parse_signal
from ..harness.spec import Preemption, Trigger

if TYPE_CHECKING:  # the profiles load when a marker names one (the plugin loads in every session)
    from ..harness.schedulers import Scheduler

PREEMPT_HELP = (
    "preempt(signal='SIGUSR1', at_step=N | at='init'|'preempting'|'point:NAME'|'runtime:SECONDS', target='process'|'point'|'group', "
    "expect_state='preempted', expect_exit=128+signum, requeue=True, escalate_after=None, start=1|'every', "
    "allow=(), scheduler=None|'slurm'|'kubernetes'|'spot-gcp'|'spot-aws'|Slurm(...)|Kubernetes(...)|SpotVM(...)): the first "
    "runresume.run() of the test gets this signal at that point (at the first start of the training code that reaches "
    "it), and its run must end as expected with no bug found by the diagnosis (allow: finding codes to accept); with "
    "scheduler, every run and requeue of the test runs under that scheduler profile, which delivers its own signal "
    "(docs/schedulers/)"
)

PREEMPT_KEYS = (
    "signal",
    "at_step",
    "at",
    "target",
    "expect_state",
    "expect_exit",
    "requeue",
    "escalate_after",
    "sync",
    "start",
    "allow",
    "scheduler",
)


CRASH_HELP = (
    "crash(at_step=N | at=..., target='process'|'point'|'group', expect_state='crashed'): the first runresume.run() "
    "of the test is SIGKILLed at that point; the run must still be alive (no exit reported), and once the backend's "
    "clock is moved past the crash timeout it must be crashed (R60, R61, R63, R70c)"
)

CRASH_KEYS = ("at_step", "at", "target", "expect_state", "sync", "start", "allow")

RULES_HELP = (
    "rules('R61', ...): this test checks these rules of rules.md (runresume rules lists each rule's tests from "
    "these markers, also as pytestmark; an R-id in a docstring or comment counts for nothing)"
)


@dataclass(frozen=True)
class PreemptSpec:
    """What a ``preempt`` or ``crash`` marker asks for.

    ``crash_clock`` (crash markers): after the run, check it is not yet crashed, then move the
    backend clock past the crash timeout before checking ``expect_state``.
    """

    preemption: Preemption
    expect_state: str | None
    expect_exit: int | None
    requeue: bool | None
    crash_clock: bool = False
    allow: tuple[str, ...] = ()
    scheduler: Scheduler | None = None
    signal_given: bool = True


def _bad(item: pytest.Item, text: str) -> pytest.UsageError:
    return pytest.UsageError(f"{item.nodeid}: @pytest.mark.preempt: {text}")


def parse_preempt(item: pytest.Item, marker: pytest.Mark, default_signal: Any) -> PreemptSpec:
    """Validate a ``preempt`` marker.

    Raises:
        pytest.UsageError: an unknown key, a positional argument, a bad signal, step or target,
            naming the test and the key.
    """
    if marker.args:
        raise _bad(item, f"takes keyword arguments only, got positional {marker.args!r}")
    kw = dict(marker.kwargs)
    unknown = sorted(set(kw) - set(PREEMPT_KEYS))
    if unknown:
        raise _bad(item, f"unknown key(s) {unknown}; known keys: {list(PREEMPT_KEYS)}")
    try:
        sig = parse_signal(kw.get("signal", default_signal))
    except ValueError as exc:
        raise _bad(item, f"signal: {exc}") from None
    if "at_step" in kw and "at" in kw:
        raise _bad(item, "give either at_step or at, not both")
    try:
        if "at" in kw:
            at = str(kw["at"])
            if at.startswith("point:"):
                trigger = Trigger("point", name=at.split(":", 1)[1])
            elif at.startswith("step:"):
                trigger = Trigger.at_step(int(at.split(":", 1)[1]))
            elif at.startswith("runtime:"):
                trigger = Trigger("runtime", seconds=float(at.split(":", 1)[1]))
            else:
                trigger = Trigger(at)
        else:
            trigger = Trigger.at_step(kw.get("at_step", 1))
    except ValueError as exc:
        raise _bad(item, f"{'at' if 'at' in kw else 'at_step'}: {exc}") from None
    try:
        preemption = Preemption(
            signal=sig,
            trigger=trigger,
            target=kw.get("target", "process"),
            sync=bool(kw.get("sync", True)),
            escalate_after=kw.get("escalate_after"),
            start=kw.get("start", 1),
        )
    except ValueError as exc:
        key = next((k for k in ("target", "start", "escalate_after") if k in str(exc)), "signal")
        raise _bad(item, f"{key}: {exc}") from None
    allow = kw.get("allow", ())
    if isinstance(allow, str):
        allow = (allow,)
    if allow:
        from ..harness.diagnosis import CODES  # only when a marker allows a finding

        unknown_codes = sorted(set(allow) - set(CODES))
    else:
        unknown_codes = []
    if unknown_codes:
        raise _bad(item, f"allow: unknown finding code(s) {unknown_codes}; known: {sorted(CODES)}")
    scheduler = parse_scheduler(item, kw.get("scheduler"))
    expect_state = kw.get("expect_state", "preempted")
    # With a scheduler, the exit status a correct job ends with is the scheduler's (None: not looked at).
    expect_exit = kw.get("expect_exit", preemption.exit_code if scheduler is None else None)
    requeue = kw.get("requeue", expect_state == "preempted" if expect_state else None)
    return PreemptSpec(
        preemption,
        expect_state,
        expect_exit,
        requeue,
        allow=tuple(allow),
        scheduler=scheduler,
        signal_given=scheduler is None or "signal" in kw or "expect_exit" in kw,
    )


def parse_scheduler(item: pytest.Item, value: Any) -> Scheduler | None:
    """The marker's ``scheduler``: ``None``, a profile name (:data:`SCHEDULERS`) or a profile object.

    Raises:
        pytest.UsageError: an unknown name or another type, naming the test and the known names.
    """
    if value is None:
        return None
    from ..harness.schedulers import SCHEDULERS, Scheduler, scheduler_from_name

    if isinstance(value, Scheduler):
        return value
    if isinstance(value, str):
        try:
            return scheduler_from_name(value)
        except ValueError as exc:
            raise _bad(item, f"scheduler: {exc}") from None
    raise _bad(
        item,
        f"scheduler: expected a name ({', '.join(sorted(SCHEDULERS))}) or a profile such as Slurm(kill_wait=5), "
        f"got {value!r}",
    )


def parse_crash(item: pytest.Item, marker: pytest.Mark) -> PreemptSpec:
    """Validate a ``crash`` marker: a ``preempt`` with SIGKILL whose run is checked after the
    backend's clock passes the crash timeout.

    Raises:
        pytest.UsageError: an unknown key or a bad value, naming the test and the key.
    """
    unknown = sorted(set(marker.kwargs) - set(CRASH_KEYS))
    if unknown:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.crash: unknown key(s) {unknown}; known keys: {list(CRASH_KEYS)}"
        )
    kwargs = {k: v for k, v in marker.kwargs.items() if k != "expect_state"}
    spec = parse_preempt(item, pytest.mark.preempt(signal="SIGKILL", **kwargs).mark, "SIGKILL")
    return PreemptSpec(
        spec.preemption,
        marker.kwargs.get("expect_state", "crashed"),
        spec.preemption.exit_code,
        requeue=False,
        crash_clock=True,
        allow=spec.allow,
    )


def check_rules(item: pytest.Item) -> None:
    """Validate the test's ``rules`` markers: positional R-ids of :mod:`pytest_runresume.rules` only.

    Raises:
        pytest.UsageError: no id, a keyword, or an id that is not a rule, naming the test.
    """
    from ..rules import BY_ID

    for marker in item.iter_markers("rules"):
        if marker.kwargs or not marker.args:
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.rules takes rule ids only, e.g. rules('R61')")
        unknown = [rid for rid in marker.args if rid not in BY_ID]
        if unknown:
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.rules: {unknown!r} not a rule id (R01 ... R97, R70a ... R70e)"
            )
