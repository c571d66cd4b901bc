"""A run as a picture: one lane per process (attempt) on the W&B step axis, as SVG text.

:func:`build_chart` reads a :class:`~pytest_runresume.model.RunRecord` (what the backend holds, or
a harness result's copy of it) into a :class:`Chart`; :func:`render_svg` draws it. Pure: no HTTP,
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
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..model import RunRecord, TimelineEvent

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
    """What :func:`render_svg` draws (see the module docstring).

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


def _ranges(sorted_values: Iterable[int]) -> list[tuple[int, int]]:
    """Runs of consecutive integers in ascending ``sorted_values`` as ``(first, last)``."""
    out: list[tuple[int, int]] = []
    for v in sorted_values:
        if out and v <= out[-1][1] + 1:
            if v > out[-1][1]:
                out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return out


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out


def _steps_text(ranges: Sequence[tuple[int, int]], total: int) -> str:
    shown = ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in ranges[:4])
    more = len(ranges) > 4
    return shown + (" …" if more else "") + f" ({total} step{'s' if total != 1 else ''})"


def _lane_bounds(run: RunRecord) -> list[tuple[int, int]]:
    starts = [a.start_line for a in run.attempts]
    if not starts:
        return []
    ends = starts[1:] + [len(run.steps)]
    return list(zip(starts, ends, strict=True))


def _last_step_at(steps: Sequence[int | None], lo: int, positions: Sequence[int]) -> dict[int, int | None]:
    """For each line count in ``positions`` (>= ``lo``), the largest step in ``steps[lo:position]``."""
    out: dict[int, int | None] = {}
    best: int | None = None
    at = lo
    for pos in sorted(set(positions)):
        if pos > at:
            chunk = [s for s in steps[at:pos] if s is not None]
            if chunk:
                top = max(chunk)
                best = top if best is None or top > best else best
            at = pos
        out[pos] = best
    return out


def _signal_marker(ev: TimelineEvent, step: int | None) -> Marker:
    data = ev.data or {}
    name = str(data.get("signal") or "signal")
    pids = [str(p) for p in data.get("pids") or []]
    commands = data.get("commands") or {}
    holders = data.get("holders") or {}
    received = data.get("received")
    to = ", ".join(f"pid {p} ({str(commands.get(p, '?'))[:200]})" for p in pids) or "?"
    if data.get("escalation"):
        return Marker(
            "signal",
            step,
            f"{name} → {', '.join(pids)} (grace over)",
            f"the grace period ran out: the harness sent {name} to {to}",
            "bad",
            {"signal": name, "pid": " ".join(pids), "received": "escalation"},
        )
    if received is True:
        label, tone = f"{name} → pid {', '.join(pids)} ✓ got it", "warn"
        title = f"the harness sent {name} to {to} {data.get('at', '')}; the process holding the run received it"
    elif received is False:
        held = ", ".join(f"pid {p} ({str(c)[:200]})" for p, c in holders.items())
        label, tone = f"{name} → pid {', '.join(pids)} ✗ not the run's", "bad"
        title = (
            f"the harness sent {name} to {to} {data.get('at', '')}; the process holding the run, {held}, "
            "never received it (the launcher does not forward it)"
        )
    else:
        label, tone = f"{name} → pid {', '.join(pids)}" if pids else name, "warn"
        title = ev.detail
    return Marker(
        "signal", step, label, title, tone, {"signal": name, "pid": " ".join(pids), "received": str(received)}
    )


def _transitions(run: RunRecord, state: str) -> list[Transition]:
    t0 = run.timeline[0].t if run.timeline else run.created_at
    out: list[Transition] = []

    def enter(t: float, st: str, why: str) -> None:
        if not out or out[-1].state != st or st == "running":
            out.append(Transition(t - t0, st, why))

    for ev in run.timeline:
        data = ev.data or {}
        if ev.kind == "init":
            number = data.get("number", "?")
            how = "resumed" if data.get("resumed") else "new" if number == 1 else "not resumed"
            enter(ev.t, "running", f"process {number} started ({how})")
        elif ev.kind == "preempting":
            enter(ev.t, "preempting", "run.mark_preempting()")
        elif ev.kind == "exit":
            m = re.search(r"-> (\w+)", ev.detail)
            st = str(data.get("state") or (m.group(1) if m else "?"))
            enter(ev.t, st, f"exit code {data.get('exit_code', '?')}")
        elif ev.kind == "state":
            m = re.search(r"-> (\w+)", ev.detail)
            enter(ev.t, str(data.get("to") or (m.group(1) if m else "?")), "set through the API")
        elif ev.kind == "create":
            enter(ev.t, "pending", "created")
    if not out or out[-1].state != state:
        why = {"crashed": "silent past the crash timeout", "preempted": "silent after preempting"}.get(state, "now")
        out.append(Transition((run.timeline[-1].t if run.timeline else t0) - t0, state, why))
    return out


def build_chart(run: RunRecord, state: str) -> Chart:
    """The picture of ``run`` (in state ``state``, as the backend judges it now).

    Args:
        run: a run as the backend holds it, or a copy (a harness result's).
        state: the run's state (lowercase, R51).
    """
    steps = run.steps
    known = sorted(s for s in steps if s is not None)
    span = known[-1] + 1 if known else 0
    cells = min(span, PLOT)
    chart = Chart(
        run.key.path, state, span, cells, [], [], 0, [], [], 0, [], run.gaps.get("wandb-history.jsonl", 0), []
    )

    if known:
        twice = _ranges(a for a, b in zip(known, known[1:], strict=False) if a == b)
        chart.duplicate_steps = sum(b - a + 1 for a, b in twice)
        chart.duplicate_sample = twice[:4]
        chart.duplicates = _merge((chart.cell(a), chart.cell(b)) for a, b in twice)
        holes: list[tuple[int, int]] = [(0, known[0] - 1)] if known[0] > 0 else []
        holes += [(a + 1, b - 1) for a, b in zip(known, known[1:], strict=False) if b > a + 1]
        chart.missing_steps = sum(b - a + 1 for a, b in holes)
        chart.missing_sample = holes[:4]
        chart.missing = _merge((chart.cell(a), chart.cell(b)) for a, b in holes)

    # Which lane each timeline event belongs to: the latest process started before it.
    per_lane: dict[int, list[TimelineEvent]] = {}
    lane = 0
    for ev in run.timeline:
        if ev.kind == "init":
            lane = int((ev.data or {}).get("number") or lane + 1)
        if lane and ev.kind in ("signal", "preempting", "exit", "stop", "concurrent"):
            per_lane.setdefault(lane, []).append(ev)

    seen: set[int] = set()
    previous_last: int | None = None
    for (lo, hi), attempt in zip(_lane_bounds(run), run.attempts, strict=True):
        seg = [s for s in steps[lo:hi] if s is not None]
        mine = set(seg)
        again = mine & seen
        if len(mine) < len(seg):
            ordered = sorted(seg)
            again |= {a for a, b in zip(ordered, ordered[1:], strict=False) if a == b}
        seen |= mine
        first = seg[0] if seg else None
        last = max(seg) if seg else None
        detail = ""
        if attempt.number == 1 and not attempt.resumed:
            how, tone = (f"new run, from step {first}" if first is not None else "new run"), "info"
        elif attempt.resumed:
            how = f"resumed at step {first}" if first is not None else "resumed (logged nothing)"
            tone = "bad" if first is not None and previous_last is not None and first <= previous_last else "ok"
            if tone == "bad":
                detail = f"but the run was at {previous_last}"
        else:
            how, tone, detail = f"NOT resumed: step {first}", "bad", "same run id, history again"
        item = Lane(
            attempt.number,
            f"process {attempt.number}",
            how,
            tone,
            _cell_spans(chart, mine),
            _cell_spans(chart, again),
            first,
            last,
            len(seg),
            detail=detail,
        )
        item.markers.append(
            Marker(
                "start",
                first,
                how,
                f"process {attempt.number} started: {how}{', ' + detail if detail else ''} "
                f"(the run held {lo} history lines)",
                tone,
                {"step": "" if first is None else str(first), "resumed": "yes" if attempt.resumed else "no"},
            )
        )
        events = per_lane.get(attempt.number, [])
        at = _last_step_at(steps, lo, [min(max(ev.lines or hi, lo), hi) for ev in events])
        for ev in events:
            step = at[min(max(ev.lines or hi, lo), hi)]
            if ev.kind == "signal":
                item.markers.append(_signal_marker(ev, step))
            elif ev.kind == "preempting":
                item.markers.append(Marker("preempting", step, "preempting", "run.mark_preempting() received", "warn"))
            elif ev.kind == "stop":
                item.markers.append(Marker("stop", step, "stop asked", ev.detail, "warn"))
            elif ev.kind == "concurrent":
                item.markers.append(Marker("stop", step, "two writers", ev.detail, "bad"))
            elif ev.kind == "exit":
                data = ev.data or {}
                code = data.get("exit_code", attempt.exit_code)
                st = str(data.get("state") or "")
                tone = "ok" if code in (0, None) else "warn" if st == "preempted" else "bad"
                item.markers.append(
                    Marker(
                        "exit",
                        last,
                        f"exit {code}" + (f" → {st}" if st else ""),
                        f"process {attempt.number} exited with code {code}" + (f": the run was {st}" if st else ""),
                        tone,
                        {"exit-code": str(code), "state": st},
                    )
                )
        if not attempt.complete:
            is_last = attempt is run.attempts[-1]
            why = f"no exit reported: {state}" if is_last else "no exit reported (killed: SIGKILL or the machine lost)"
            tone = "info" if is_last and state in ("running", "preempting") else "bad"
            item.markers.append(
                Marker("no-exit", last, why if len(why) < 40 else "no exit reported", why, tone, {"state": state})
            )
        chart.lanes.append(item)
        if last is not None:
            previous_last = last if previous_last is None else max(previous_last, last)
    chart.transitions = _transitions(run, state)
    return chart


def _cell_spans(chart: Chart, values: set[int]) -> list[tuple[int, int]]:
    """The cell spans covering ``values`` (steps on the chart's axis)."""
    if not values:
        return []
    cells, span = chart.cells, chart.span
    return _ranges(sorted({s * cells // span for s in values}))


# ---- drawing ----------------------------------------------------------------------------------
_TONES = {"ok": "#16a34a", "bad": "#dc2626", "warn": "#d97706", "info": "#334155"}


def _ticks(span: int) -> list[int]:
    if span <= 1:
        return [0]
    raw = (span - 1) / 6
    mag = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 1
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return list(range(0, span, int(step)))


def _attrs(attrs: dict[str, str]) -> str:
    return "".join(f' data-{esc(k)}="{esc(v)}"' for k, v in attrs.items())


def render_svg(chart: Chart) -> str:
    """The chart as a standalone SVG document (text). Its size does not grow with the run's rows."""
    height = TOP + LANE * max(1, len(chart.lanes)) + BOTTOM
    bottom = TOP + LANE * max(1, len(chart.lanes))
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="run-chart" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="system-ui, sans-serif" font-size="12" '
        f'role="img" aria-label="steps of {esc(chart.path)} per process" data-run="{esc(chart.path)}">',
        "<defs>"
        '<pattern id="hatch-gap" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#f1f5f9"/><line x1="0" y1="0" x2="0" y2="6" stroke="#94a3b8" '
        'stroke-width="2"/></pattern>'
        '<pattern id="hatch-dup" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#fecaca"/><line x1="0" y1="0" x2="0" y2="6" stroke="#dc2626" '
        'stroke-width="3"/></pattern></defs>',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="10" y="20" font-size="14" font-weight="bold">{esc(chart.path)}</text>',
        f'<text x="{WIDTH - 10}" y="20" text-anchor="end" font-size="13">state: '
        f'<tspan font-weight="bold" fill="{STATE_COLOURS.get(chart.state, "#334155")}" class="chart-state">'
        f"{esc(chart.state)}</tspan></text>",
    ]
    if not chart.lanes:
        out.append(f'<text x="{LEFT}" y="{TOP + 30}" fill="#6b7280">no process has started this run yet</text>')
    elif not chart.span:
        out.append(f'<text x="{LEFT}" y="{TOP - 8}" fill="#6b7280">no history step logged yet</text>')

    # Bands across every lane: steps never logged (grey), logged more than once (red).
    notes: list[tuple[str, str, str]] = []
    for cls, spans, fill, opacity in (
        ("band band-gap", chart.missing, "url(#hatch-gap)", "0.9"),
        ("band band-dup", chart.duplicates, "#dc2626", "0.12"),
    ):
        for lo, hi in spans:
            x0, x1 = chart.x(lo), chart.x(hi + 1)
            out.append(
                f'<rect class="{cls}" x="{x0:.1f}" y="{TOP - 6}" width="{max(1.0, x1 - x0):.1f}" '
                f'height="{bottom - TOP + 6}" fill="{fill}" opacity="{opacity}"/>'
            )
    if chart.duplicate_steps:
        notes.append(
            (
                "note-dup",
                "#dc2626",
                "✗ logged more than once: " + _steps_text(chart.duplicate_sample, chart.duplicate_steps),
            )
        )
    if chart.missing_steps:
        notes.append(("note-gap", "#475569", "never logged: " + _steps_text(chart.missing_sample, chart.missing_steps)))
    if chart.empty_lines:
        notes.append(("note-lines", "#475569", f"{chart.empty_lines} history lines never arrived (offset gap)"))
    x = float(LEFT)
    for cls, colour, text in notes:
        out.append(
            f'<text class="{cls}" x="{x:.0f}" y="{TOP - 14}" fill="{colour}" font-weight="bold">{esc(text)}</text>'
        )
        x += 8 + 6.6 * len(text)

    for i, lane in enumerate(chart.lanes):
        y = TOP + i * LANE
        colour = PALETTE[(lane.number - 1) % len(PALETTE)]
        bar_y = y + 24
        out.append(f'<g class="lane" data-attempt="{lane.number}" data-rows="{lane.rows}">')
        if i:
            out.append(f'<line x1="10" x2="{WIDTH - 10}" y1="{y}" y2="{y}" stroke="#e2e8f0"/>')
        out.append(f'<rect x="10" y="{y + 18}" width="10" height="10" fill="{colour}"/>')
        out.append(
            f'<text x="26" y="{y + 27}" font-weight="bold">{esc(lane.label)}'
            f'<tspan font-weight="normal" fill="#64748b" font-size="11"> · {lane.rows} rows</tspan></text>'
        )
        out.append(
            f'<text x="26" y="{y + 43}" fill="{_TONES[lane.how_tone]}" class="lane-how">{esc(lane.how, 26)}</text>'
        )
        if lane.detail:
            out.append(
                f'<text x="26" y="{y + 57}" fill="{_TONES[lane.how_tone]}" font-size="11">{esc(lane.detail, 30)}</text>'
            )
        for lo, hi in lane.spans:
            x0, x1 = chart.x(lo), chart.x(hi + 1)
            out.append(
                f'<rect class="steps" x="{x0:.1f}" y="{bar_y}" width="{max(1.0, x1 - x0):.1f}" height="16" '
                f'fill="{colour}" rx="2"/>'
            )
        for lo, hi in lane.repeats:
            x0, x1 = chart.x(lo), chart.x(hi + 1)
            out.append(
                f'<rect class="repeat" x="{x0:.1f}" y="{bar_y - 3}" width="{max(1.0, x1 - x0):.1f}" height="22" '
                f'fill="url(#hatch-dup)" stroke="#dc2626"><title>steps logged again by process {lane.number}'
                "</title></rect>"
            )
        out.extend(_markers(chart, lane, bar_y))
        out.append("</g>")

    # The step axis.
    out.append(f'<line x1="{LEFT}" x2="{LEFT + PLOT}" y1="{bottom + 4}" y2="{bottom + 4}" stroke="#334155"/>')
    for t in _ticks(chart.span) if chart.span else []:
        tx = chart.x(chart.cell(t)) + (PLOT / chart.cells / 2 if chart.cells and chart.span <= PLOT else 0)
        out.append(
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{bottom + 4}" y2="{bottom + 9}" stroke="#334155"/>'
            f'<text x="{tx:.1f}" y="{bottom + 21}" text-anchor="middle" font-size="11">{t}</text>'
        )
    out.append(
        f'<text x="{LEFT + PLOT}" y="{bottom + 35}" text-anchor="end" font-size="11" fill="#475569">'
        "W&amp;B step (_step) →</text>"
    )
    out.append("</svg>")
    return "".join(out)


def _markers(chart: Chart, lane: Lane, bar_y: int) -> list[str]:
    """The marks of one lane: start/resume, signals and preempting above/below the bar, exit at its end."""
    out: list[str] = []
    half = PLOT / chart.cells / 2 if chart.cells and chart.span <= PLOT else 0

    def xat(step: int | None, end: bool = False) -> float:
        if step is None or not chart.cells:
            return float(LEFT)
        cell = chart.cell(step)
        return chart.x(cell + 1) if end else chart.x(cell) + half

    above = 0
    for m in lane.markers:
        tone = _TONES[m.tone]
        attrs = _attrs({"step": "" if m.step is None else str(m.step), **m.attrs})
        title = f"<title>{esc(m.title)}</title>"
        if m.kind == "start":
            x = chart.x(chart.cell(m.step)) if m.step is not None and chart.cells else float(LEFT)
            out.append(
                f'<g class="marker marker-start"{attrs}>{title}<path d="M{x - 11:.1f},{bar_y - 4} l10,12 l-10,12 z" '
                f'fill="{tone}"/></g>'
            )
        elif m.kind in ("signal", "stop"):
            x = xat(m.step)
            ly = bar_y - 8 - 12 * (above % 2)
            above += 1
            right = x > LEFT + PLOT * 0.6  # the label goes left of the mark near the right edge
            tx, anchor = (x - 6, "end") if right else (x + 8, "start")
            out.append(
                f'<g class="marker marker-{m.kind}"{attrs}>{title}'
                f'<path d="M{x + 3:.1f},{bar_y - 14} l-7,9 h5 l-4,9 l9,-11 h-5 z" fill="{tone}" stroke="#fff" '
                f'stroke-width="0.5"/><text x="{tx:.1f}" y="{ly}" text-anchor="{anchor}" fill="{tone}" '
                f'font-size="11" font-weight="bold">{esc(m.label, 60)}</text></g>'
            )
        elif m.kind == "preempting":
            x = xat(m.step)
            out.append(
                f'<g class="marker marker-preempting"{attrs}>{title}'
                f'<path d="M{x:.1f},{bar_y + 12} l6,7 l-6,7 l-6,-7 z" fill="#f59e0b" stroke="#fff"/>'
                f'<text x="{x + 9:.1f}" y="{bar_y + 28}" fill="#b45309" font-size="11">preempting</text></g>'
            )
        elif m.kind in ("exit", "no-exit"):
            x = min(xat(m.step, end=True) + 4, float(LEFT + PLOT + 4))
            fill = STATE_COLOURS.get(m.attrs.get("state", ""), tone) if m.kind == "exit" else "#fff"
            stroke = tone if m.kind == "no-exit" else fill
            text_fill = "#fff" if m.kind == "exit" else tone
            w = 9 + 6.9 * len(m.label[:40])
            out.append(
                f'<g class="marker marker-{m.kind}"{attrs}>{title}'
                f'<rect x="{x:.1f}" y="{bar_y - 1}" width="{w:.0f}" height="18" rx="9" fill="{fill}" '
                f'stroke="{stroke}" stroke-dasharray="{"3,2" if m.kind == "no-exit" else "none"}"/>'
                f'<text x="{x + 4:.1f}" y="{bar_y + 12}" fill="{text_fill}" font-size="11" font-weight="bold">'
                f"{esc(m.label, 40)}</text></g>"
            )
    return out


def run_svg(run: RunRecord, state: str) -> str:
    """:func:`render_svg` of :func:`build_chart`: the picture of ``run`` in state ``state``."""
    return render_svg(build_chart(run, state))
