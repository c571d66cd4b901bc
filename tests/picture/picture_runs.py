"""Runs seeded straight into the model, for picture tests: a preempted-and-resumed run, a run whose
restart logged its steps again, and whatever a test composes with :func:`seed`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser

from pytest_runresume.model import FileChunk, ManualClock, Model, RunKey, RunRecord


@dataclass
class Process:
    """One process of a seeded run: the steps it logs, then how it ends.

    ``signal``: ``(name, pids, received)`` sent after its last step; ``preempting``: it calls
    ``run.mark_preempting()``; ``exit_code``: reported exit (``None``: it dies silently).
    """

    steps: Sequence[int]
    resume: bool = True
    signal: tuple[str, list[int], bool | None] | None = None
    preempting: bool = False
    exit_code: int | None = 0
    extra: dict[str, object] = field(default_factory=dict)


def seed(
    model: Model,
    run_id: str,
    processes: Sequence[Process],
    project: str = "proj",
    *,
    config: Mapping[str, object] | None = None,
    tags: Sequence[str] | None = None,
    display_name: str | None = None,
) -> RunRecord:
    """Play ``processes`` into ``backend`` as the SDK would (init, history, exit): each process starts
    the run with ``resume="allow"`` (unset for a :class:`Process` with ``resume=False``), ``config``
    laid over ``{"lr": 0.1}``, and ``tags`` and ``display_name`` when given."""
    clock = model.clock
    assert isinstance(clock, ManualClock)
    key = RunKey(model.entity, project, run_id)
    offset = 0
    for number, proc in enumerate(processes, start=1):
        rec = model.start(
            key.path,
            "allow" if proc.resume else None,
            config={"lr": 0.1, **(config or {})},
            host="node-1",
            program="train.py",
            tags=tags,
        )
        if display_name is not None:
            model.update(key.path, display_name=display_name)
        lines = [json.dumps({"_step": s, "loss": 1.0 / (s + 1), "_timestamp": clock.now()}) for s in proc.steps]
        if lines:
            clock.advance(1.0)
            model.file_stream(key, {"wandb-history.jsonl": FileChunk(offset, lines)})
            offset += len(lines)
        if proc.signal is not None:
            name, pids, received = proc.signal
            holders = {str(pids[0]): "python train.py"} if received else {"4243": "python train.py --steps 8"}
            model.record_event(
                rec,
                "signal",
                f"harness sent {name} to {pids} at step {proc.steps[-1] if proc.steps else None}",
                {
                    "signal": name,
                    "pids": pids,
                    "commands": {str(p): ("python train.py" if received else "bash launch.sh") for p in pids},
                    "holders": holders,
                    "received": received,
                    "at": "at step",
                    "escalation": False,
                },
            )
        clock.advance(0.5)
        if proc.preempting:
            model.file_stream(key, {}, preempting=True)
        if proc.exit_code is not None:
            clock.advance(0.5)
            model.file_stream(key, {}, complete=True, exit_code=proc.exit_code)
        clock.advance(5.0 * number)
    return model.run(key.path)


def preempted_and_resumed(model: Model) -> RunRecord:
    """Steps 0-3, SIGUSR1 to the process holding the run, preempting, exit 138; resumed at 4, 4-7, exit 0."""
    return seed(
        model,
        "resumed-ok",
        [
            Process(range(0, 4), signal=("SIGUSR1", [4242], True), preempting=True, exit_code=138),
            Process(range(4, 8)),
        ],
    )


def duplicate_steps(model: Model) -> RunRecord:
    """The same preemption, but the restart resumes the run and logs steps 2-7: 2 and 3 twice."""
    return seed(
        model,
        "dup-steps",
        [
            Process(range(0, 4), signal=("SIGUSR1", [4242], True), preempting=True, exit_code=138),
            Process(range(2, 8)),
        ],
    )


class Tags(HTMLParser):
    """Every tag and attribute name of an HTML page, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.update(name for name, _ in attrs)
