"""A run read into a :class:`~.chart.Chart`: one lane per process (attempt) with its steps, start,
signals and exit; the steps logged twice or never; the run's state transitions
(:func:`build_chart`). Pure: it reads a :class:`~pytest_runresume.model.RunRecord` only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..model import RunRecord, TimelineEvent
from .chart import PLOT, Chart, Lane, Marker, Transition


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
