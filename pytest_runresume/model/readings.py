"""Which reading of a documented contradiction the fake follows (``rules.md`` A01-A14).

Where the docs, the SDK and the docs' own tables disagree and the *server* has to pick a behaviour,
the model follows one reading by default and offers the other as a setting:
``Model(interrupt_exit_state="killed")`` or ``Model(readings=Readings(...))``. Each field names the
contradiction it settles; ``docs/contradictions.md`` gives both readings with their sources.

Pure: no imports from the rest of the model (``runs`` imports this module).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

#: The exit code wandb reports for an uncaught ``KeyboardInterrupt`` (Ctrl+C, SIGINT) outside a
#: ``with wandb.init()`` block, and after a server-side stop (R57, R58, NOTES 1.6).
INTERRUPT_EXIT_CODE = 255

#: Allowed values of each string setting.
CHOICES: dict[str, tuple[str, ...]] = {
    "preempting_state": ("preempting", "running"),
    "unset_resume": ("append", "overwrite", "refuse"),
    "interrupt_exit_state": ("failed", "killed"),
    "crash_trigger": ("heartbeat", "metrics"),
    "run_id_rules": ("sdk", "docs"),
}


@dataclass(frozen=True)
class Readings:
    """The fake's choice for each contradiction the server has to settle.

    Attributes:
        preempting_state: A01. What a run that sent ``preempting`` and is still alive reports:
            ``"preempting"`` (default; the SDK's state list, R51) or ``"running"`` (the six states
            of S3/S4/S11, R50, which have no preempting).
        unset_resume: A02/R14. What an init upsert without resume into a run that exists does:
            ``"append"`` (default; the SDK and GH #6216: no check, history appended after the old
            lines, steps from 0), ``"overwrite"`` (S5 "always starts a new run": the old history,
            events, output and summary are archived and the run starts empty) or ``"refuse"`` (S6
            "WANDB_RESUME defaults to never": the upsert is refused, so ``wandb.init`` raises).
        interrupt_exit_state: A04/R58/R70d. The state of a run that reported exit code 255 (an
            uncaught Ctrl+C outside ``with``) without a server stop or preempting: ``"failed"``
            (default; R55/R66: any non-zero exit is failed) or ``"killed"`` (R58, R70d: SIGINT with no
            ``mark_preempting()`` ends KILLED).
        crash_trigger: A06/R61. What keeps a run from counting as crashed: ``"heartbeat"`` (default;
            S3/S18: any request, empty file_stream heartbeats included, R62) or ``"metrics"`` (S2:
            only requests that post history, events or summary; a run that sends only heartbeats
            crashes after the timeout).
        preempting_timeout: A06/R70c/R70e. Seconds of silence after which a preempting run is
            preempted; ``None`` (default) means the crash timeout (S2: "PREEMPTED after about 5
            minutes"). A larger value is the "more lenient crash detection" of the SDK comment.
        pending_resumable: A08/R43. Whether a run created ``pending`` and never started can be
            resumed: ``False`` (default; wandb-core: no ``_wandb.t``, so it counts as missing) or
            ``True`` (S4 "can later be resumed": ``wandbConfig`` reports ``t``, so ``must`` resumes it).
        run_id_rules: A05/R31. Which run ids the server accepts: ``"sdk"`` (default; the SDK
            validator: no ``: ; , # ? / '``, not empty, no outer whitespace) or ``"docs"`` (S5 forbids
            ``/ \\ # ? % :``, S6 caps ids at 64 characters).
    """

    preempting_state: str = "preempting"
    unset_resume: str = "append"
    interrupt_exit_state: str = "failed"
    crash_trigger: str = "heartbeat"
    preempting_timeout: float | None = None
    pending_resumable: bool = False
    run_id_rules: str = "sdk"

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"bad reading {name}={value!r}: expected one of {', '.join(map(repr, allowed))}")
        t = self.preempting_timeout
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0):
            raise ValueError(f"bad reading preempting_timeout={t!r}: expected seconds >= 0 or None")
        if not isinstance(self.pending_resumable, bool):
            raise ValueError(f"bad reading pending_resumable={self.pending_resumable!r}: expected True or False")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The setting names (the ``Model`` keywords)."""
        return tuple(f.name for f in fields(cls))

    def replace(self, **changes: Any) -> Readings:
        """A copy with ``changes`` applied (``None`` values are ignored).

        Raises:
            TypeError: for an unknown setting name.
            ValueError: for a bad value.
        """
        unknown = sorted(set(changes) - set(self.names()))
        if unknown:
            raise TypeError(f"unknown reading(s) {', '.join(unknown)}; known: {', '.join(self.names())}")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update({k: v for k, v in changes.items() if v is not None})
        return Readings(**values)


#: The defaults (see each field of :class:`Readings`).
DEFAULT_READINGS = Readings()
