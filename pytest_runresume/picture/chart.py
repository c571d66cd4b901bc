"""A run as a picture: one lane per process (attempt) on the W&B step axis, as SVG text.

:func:`~.build.build_chart` reads a :class:`~pytest_runresume.model.RunRecord` (what the backend holds, or
a harness result's copy of it) into a :class:`Chart`; :func:`~.svg.render_svg` draws it. Pure: no HTTP,
no files, stdlib only, so the wire's run page, the harness's failure pictures and ``runresume
check`` draw the same thing.

What a lane shows: the steps that process logged (a bar per run of consecutive steps), where it
started (new, resumed at step N, or restarted at 0 without resuming), the signals the harness sent
while it ran (to which pid, and whether the process holding the run got it), ``preempting``, and
its exit code with the state it left. Across the lanes: steps logged more than once (red) and steps
never logged (grey, hatched). A run of a million rows draws in at most a few hundred rectangles: the
step axis is cut into at most :data:`WIDTH` pixel cells, and a bar or band covers whole cells.

Every text that comes from the run (ids, commands, states) is escaped, and characters XML forbids
are dropped, so the SVG stays well-formed whatever a client sent.

This module holds the picture's model (:class:`Chart`, :class:`Lane`, :class:`Marker`), its layout
constants and :func:`esc`; :mod:`.build` reads a run into it (:func:`~.build.build_chart`) and
:mod:`.svg` draws it (:func:`~.svg.render_svg`, :func:`~.svg.run_svg`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

#: The picture's width in pixels (and so the most cells the step axis is cut into).
WIDTH = 960
LEFT, RIGHT, TOP, LANE, BOTTOM = 190, 160, 58, 64, 40
PLOT = WIDTH - LEFT - RIGHT
#: One colour per process (attempt), in order, repeating after the last.
PALETTE = ("#2563eb", "#059669", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#9333ea", "#475569")
#: The colour of each run state (exit chips, state transitions).
STATE_COLOURS = {
    "finished": "#16a34a",
    "preempted": "#d97706",
    "preempting": "#f59e0b",
    "running": "#2563eb",
    "failed": "#dc2626",
    "crashed": "#dc2626",
    "killed": "#dc2626",
    "pending": "#6b7280",
}
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def esc(value: Any, limit: int = 2000) -> str:
    """``value`` as text safe inside XML/HTML text and quoted attributes: escaped, without the
    characters XML forbids, cut to ``limit`` characters."""
    text = "" if value is None else str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(_NOT_XML.sub("", text), quote=True)


@dataclass
class Marker:
    """Something that happened to one process, drawn on its lane.

    Attributes:
        kind: ``start``, ``signal``, ``preempting``, ``exit``, ``no-exit``, ``stop``.
        step: where on the step axis (the last step the process had logged then; ``None``: none yet).
        label: the short text beside the mark.
        title: the whole sentence (the mark's tooltip, and the page's list of events).
        tone: ``ok``, ``bad``, ``warn`` or ``info`` (the colour).
        attrs: ``data-*`` attributes for tests and tools (e.g. ``{"pid": "4242"}``).
    """

    kind: str
    step: int | None
    label: str
    title: str
    tone: str = "info"
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class Lane:
    """One process's life with the run.

    Attributes:
        number: the attempt number (1 for the first process).
        label: ``process 2``; ``how``: ``resumed at step 4``, ``new run``, ...; ``how_tone``: its
            colour (``bad`` for a restart that did not continue the steps); ``detail``: why, if bad.
        spans: the cell spans (first, last; inclusive) where it logged steps.
        repeats: the cell spans of steps it logged that were logged before (by it or an earlier one).
        first_step, last_step: the steps it logged first and last (``None``: it logged none).
        rows: how many history rows it logged.
        markers: what happened to it, in order.
    """

    number: int
    label: str
    how: str
    how_tone: str
    spans: list[tuple[int, int]]
    repeats: list[tuple[int, int]]
    first_step: int | None
    last_step: int | None
    rows: int
    markers: list[Marker] = field(default_factory=list)
    detail: str = ""


@dataclass
class Transition:
    """A state the run entered: ``t`` seconds after the run's first event, and why."""

    t: float
    state: str
    why: str


@dataclass
class Chart:
    """What :func:`~.svg.render_svg` draws (see the module docstring).

    Attributes:
        path: ``entity/project/run_id``; ``state``: its state now.
        span: steps on the axis (``0 .. span - 1``); 0 when the run logged no step.
        cells: how many cells the axis is cut into (``min(span, PLOT)``).
        lanes: one per attempt.
        duplicates: cell spans of steps logged more than once; ``duplicate_steps`` how many steps,
            ``duplicate_sample`` the first few.
        missing: cell spans of steps between 0 and the last step never logged; ``missing_steps``
            how many, ``missing_sample`` the first few ranges.
        empty_lines: history lines left empty by an offset gap (rows the server never got).
        transitions: the states the run went through, in order.
    """

    path: str
    state: str
    span: int
    cells: int
    lanes: list[Lane]
    duplicates: list[tuple[int, int]]
    duplicate_steps: int
    duplicate_sample: list[tuple[int, int]]
    missing: list[tuple[int, int]]
    missing_steps: int
    missing_sample: list[tuple[int, int]]
    empty_lines: int
    transitions: list[Transition]

    def cell(self, step: int) -> int:
        """The cell of ``step``."""
        return min(self.cells - 1, max(0, step * self.cells // self.span)) if self.span else 0

    def x(self, cell: float) -> float:
        """The x coordinate of the left edge of ``cell``."""
        return LEFT + cell * PLOT / self.cells if self.cells else LEFT
