"""``@pytest.mark.preempt(...)``: parsed strictly, errors name the test and the key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from ..harness.runner import Preemption, Trigger
from ..harness.signals import parse_signal

PREEMPT_HELP = (
    "preempt(signal='SIGUSR1', at_step=N | at='init'|'preempting'|'point:NAME', target='process'|'point'|'group', "
    "expect_state='preempted', expect_exit=128+signum, requeue=True, escalate_after=None): "
    "the first runresume.run() of the test gets this signal at that point, and its run must end as expected"
)

PREEMPT_KEYS = ("signal", "at_step", "at", "target", "expect_state", "expect_exit", "requeue", "escalate_after", "sync")


@dataclass(frozen=True)
class PreemptSpec:
    """What a ``preempt`` marker asks for."""

    preemption: Preemption
    expect_state: str | None
    expect_exit: int | None
    requeue: bool | None


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
        )
    except ValueError as exc:
        raise _bad(item, f"target: {exc}") from None
    expect_state = kw.get("expect_state", "preempted")
    expect_exit = kw.get("expect_exit", preemption.exit_code)
    requeue = kw.get("requeue", expect_state == "preempted" if expect_state else None)
    return PreemptSpec(preemption, expect_state, expect_exit, requeue)
