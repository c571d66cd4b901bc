"""HTML around the run picture: a run's page, a sweep's page, and a standalone file of a run.

Pure: data in, HTML text out (no HTTP, no files); the wire serves these parts with its refresh
script, the harness and ``runresume check`` write :func:`run_document` next to a failed test.
Every value from a run, a sweep or an agent is escaped (:func:`.chart.esc`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..model import RunRecord
from ..model.sweeps import Sweep, SweepAgent
from .build import build_chart
from .chart import Chart, esc
from .svg import render_svg

#: The most config or summary keys a page lists, and the characters of one value it shows.
MAX_KEYS, MAX_VALUE = 200, 300
#: The most rows of a run's condensed timeline a page shows (the newest are kept).
MAX_TIMELINE_ROWS = 300

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.state { font-weight: bold; padding: 0.1em 0.5em; border-radius: 0.3em; }
.state-running, .state-preempting { background: #dbeafe; }
.state-finished { background: #dcfce7; }
.state-failed, .state-crashed, .state-killed { background: #fee2e2; }
.state-preempted { background: #fef3c7; }
.state-pending { background: #eee; }
.timeline td, .kv td { font-family: ui-monospace, monospace; font-size: 0.9em; }
.problems, .bad { color: #b91c1c; }
.ok { color: #15803d; }
figure { margin: 0.5em 0 0.5em 0; }
.legend { color: #475569; font-size: 0.9em; max-width: 960px; }
ol.transitions { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.3em; align-items: center; }
ol.transitions li { display: flex; align-items: center; gap: 0.3em; }
ol.transitions li + li::before { content: "→"; color: #64748b; }
ol.transitions small { color: #475569; font-weight: normal; }
"""

LEGEND = (
    "One lane per process that ran this run, on the W&amp;B step axis. ▶ where it started (resumed at step N, "
    "or a new run); ⚡ a signal the harness sent, to which pid, ✓ if the process holding the run got it, ✗ if "
    "not; ◆ <code>run.mark_preempting()</code>; the chip at the end of a lane: its exit code and the state it "
    "left (dashed: no exit reported). Red: steps logged more than once (hatched on the process that logged "
    "them again); grey hatching: steps never logged. Hover a mark for the whole sentence."
)


def _value(value: Any) -> str:
    try:
        text = json.dumps(value, default=str, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return esc(text, MAX_VALUE)


def _kv_table(css_id: str, items: Mapping[str, Any], unwrap: bool = False) -> str:
    if not items:
        return f'<p id="{css_id}" class="empty">none</p>'
    rows = []
    for i, (key, value) in enumerate(sorted(items.items(), key=lambda kv: str(kv[0]))):
        if i >= MAX_KEYS:
            rows.append(f"<tr><td colspan=2>… {len(items) - MAX_KEYS} more keys</td></tr>")
            break
        if unwrap and isinstance(value, dict) and set(value) == {"value"}:
            value = value["value"]
        rows.append(f"<tr><td>{esc(key, MAX_VALUE)}</td><td>{_value(value)}</td></tr>")
    return f'<table class="kv" id="{css_id}"><tr><th>key</th><th>value</th></tr>{"".join(rows)}</table>'


def _condensed_timeline(run: RunRecord) -> str:
    """The run's timeline with runs of history/heartbeat/upsert events folded into one row each."""
    rows: list[tuple[float, str, str]] = []
    t0 = run.timeline[0].t if run.timeline else 0.0
    fold: list[Any] = []

    def flush() -> None:
        if fold:
            kinds = sorted({e.kind for e in fold})
            first, last = fold[0], fold[-1]
            rows.append((first.t, " / ".join(kinds), f"{len(fold)} events; last: {last.detail}"))
            fold.clear()

    for ev in run.timeline:
        if ev.kind in ("history", "heartbeat", "upsert", "uploaded"):
            fold.append(ev)
            continue
        flush()
        rows.append((ev.t, ev.kind, ev.detail))
    flush()
    cut = len(rows) - MAX_TIMELINE_ROWS
    shown = rows[cut:] if cut > 0 else rows
    body = "".join(f"<tr><td>+{t - t0:.2f}s</td><td>{esc(k)}</td><td>{esc(d)}</td></tr>" for t, k, d in shown)
    more = f"<p>{cut} earlier rows not shown.</p>" if cut > 0 else ""
    return (
        f'<details class="run-timeline"><summary>timeline ({len(run.timeline)} events)</summary>{more}'
        f'<table class="timeline"><tr><th>time</th><th>event</th><th>detail</th></tr>{body}</table></details>'
    )


def _transitions(chart: Chart) -> str:
    items = "".join(
        f'<li><span class="state state-{esc(t.state)}" data-state="{esc(t.state)}">{esc(t.state)}</span>'
        f"<small>+{t.t:.1f}s {esc(t.why)}</small></li>"
        for t in chart.transitions
    )
    return f'<ol class="transitions" id="transitions">{items}</ol>'


def _events(chart: Chart) -> str:
    rows = []
    for lane in chart.lanes:
        said = "; ".join(m.title for m in lane.markers)
        rows.append(
            f'<tr><td>{esc(lane.label)}</td><td class="{"bad" if lane.how_tone == "bad" else ""}">{esc(lane.how)}</td>'
            f"<td>{'' if lane.first_step is None else lane.first_step}–{'' if lane.last_step is None else lane.last_step}"
            f"</td><td>{lane.rows}</td><td>{esc(said)}</td></tr>"
        )
    return (
        '<table id="processes"><tr><th>process</th><th>start</th><th>steps</th><th>rows</th><th>what happened</th></tr>'
        + "".join(rows)
        + "</table>"
    )


def run_content(run: RunRecord, state: str, links: bool = True) -> str:
    """The body of a run's page: the picture, the state transitions, each process in words, config,
    summary, tags and the condensed timeline (``links``: link the sweep's page)."""
    chart = build_chart(run, state)
    facts = [
        f"{len(run.attempts)} process{'es' if len(run.attempts) != 1 else ''}",
        f"last step {esc(run.last_step)}",
        f"{len(run.history_lines)} history lines",
    ]
    if run.display_name:
        facts.append(f"name {esc(run.display_name)}")
    if run.sweep:
        sweep = esc(run.sweep)
        href = esc(f"/{run.key.entity}/{run.key.project}/sweeps/{run.sweep}")
        facts.append(f'sweep <a href="{href}">{sweep}</a>' if links else f"sweep {sweep}")
    tags = "".join(f"<li>{esc(t)}</li>" for t in run.tags) or "<li>none</li>"
    return "".join(
        [
            f'<section class="run-page" id="run-{esc(run.key.path)}" data-state="{esc(state)}">',
            f'<h1>run <code>{esc(run.key.path)}</code> <span class="state state-{esc(state)}">{esc(state)}</span></h1>',
            f'<p class="facts">{" · ".join(facts)}</p>',
            f"<figure>{render_svg(chart)}</figure>",
            f'<p class="legend">{LEGEND}</p>',
            "<h2>State transitions</h2>",
            _transitions(chart),
            "<h2>Processes</h2>",
            _events(chart),
            "<h2>Config</h2>",
            _kv_table("config", run.config, unwrap=True),
            "<h2>Summary</h2>",
            _kv_table("summary", run.summary),
            f'<h2>Tags</h2><ul id="tags">{tags}</ul>',
            _condensed_timeline(run),
            "</section>",
        ]
    )


def document(title: str, body: str, head: str = "") -> str:
    """A whole HTML page (UTF-8, the shared style, no script unless ``head``/``body`` bring one)."""
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        f"{head}<title>{esc(title)}</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def run_document(run: RunRecord, state: str, note: str = "") -> str:
    """A standalone page of ``run`` (for a file next to a failed test): no script, no link out.

    Args:
        run: the run (as a process left it, or as the backend holds it).
        state: its state.
        note: a line said above the picture (e.g. the test or check that failed), escaped.
    """
    head = f'<p class="note">{esc(note)}</p>' if note else ""
    return document(f"runresume: {run.key.path}", head + run_content(run, state, links=False))


@dataclass
class SweepRunView:
    """What a sweep page says about one of its runs: its state and processes in the backend."""

    run_id: str
    state: str
    attempts: int
    last_step: int | None


def sweep_content(
    sweep: Sweep, state: str, runs: Mapping[str, SweepRunView], agents: Sequence[SweepAgent], now: float
) -> str:
    """The body of a sweep's page: its state, run queue, handouts (run or resume), agents and runs.

    Args:
        sweep: the sweep (a consistent view: read under the backend's lock or a copy).
        state: the sweep's state (``Sweeps.state``).
        runs: its runs' states in the backend, by run id.
        agents: the agents of this sweep.
        now: the backend clock.
    """
    base = f"/{sweep.entity}/{sweep.project}/runs/"
    t0 = sweep.created_at

    def run_link(run_id: str) -> str:
        return f'<a href="{esc(base + run_id)}">{esc(run_id)}</a>'

    queue = "".join(f"<li>{run_link(r)}</li>" for r in sweep.queue) or "<li>empty</li>"
    handouts = "".join(
        f'<tr class="handout" data-kind="{esc(h.kind)}"><td>+{h.t - t0:.1f}s</td><td>{run_link(h.run_id)}</td>'
        f"<td>{esc(h.kind)}</td><td>{esc(h.agent_id)}</td><td>{_value({k: v.get('value') for k, v in h.params.items()})}"
        "</td></tr>"
        for h in sweep.handouts
    )
    agent_rows = "".join(
        f'<tr class="agent" id="agent-{esc(a.id)}"><td>{esc(a.id)}</td><td>{esc(a.host)}</td><td>{a.heartbeats}</td>'
        f"<td>{'' if a.last_heartbeat is None else f'{now - a.last_heartbeat:.0f} s ago'}</td>"
        f"<td>{', '.join(run_link(r) for r in sorted(a.running)) or '-'}</td>"
        f"<td>{esc(', '.join(str(c.get('type', '?')) for c in a.commands[-5:]))}</td>"
        f"<td>{'yes' if a.exited else 'no'}</td></tr>"
        for a in agents
    )
    run_rows = []
    for srun in sweep.runs.values():
        view = runs.get(srun.run_id)
        st = view.state if view else "pending"
        run_rows.append(
            f'<tr class="sweep-run" data-state="{esc(st)}"><td>{run_link(srun.run_id)}</td>'
            f'<td><span class="state state-{esc(st)}">{esc(st)}</span></td>'
            f"<td>{view.attempts if view else 0}</td><td>{esc(view.last_step if view else None)}</td>"
            f"<td>{esc(srun.agent_id)}</td><td>{len(srun.handouts)}</td>"
            f"<td>{esc(', '.join(map(str, srun.requeued_attempts)) or '-')}</td>"
            f"<td>{_value({k: v.get('value') for k, v in srun.params.items()})}</td></tr>"
        )
    return "".join(
        [
            f'<section class="sweep-page" id="sweep-{esc(sweep.path)}" data-state="{esc(state)}">',
            f'<h1>sweep <code>{esc(sweep.path)}</code> <span class="state state-{esc(state)}">{esc(state)}</span></h1>',
            f'<p class="facts">method {esc(sweep.method)} · {len(sweep.runs)} runs'
            f"{'' if sweep.max_runs() is None else f' of at most {sweep.max_runs()}'} · user state "
            f"{esc(sweep.user_state)}</p>",
            f'<h2>Run queue</h2><ol id="queue">{queue}</ol>',
            "<h2>Handouts</h2>",
            '<table id="handouts"><tr><th>time</th><th>run</th><th>as</th><th>agent</th><th>parameters</th></tr>'
            f"{handouts}</table>"
            if handouts
            else '<p id="handouts">none yet</p>',
            "<h2>Agents</h2>",
            '<table id="agents"><tr><th>agent</th><th>host</th><th>heartbeats</th><th>last heard</th>'
            f"<th>running</th><th>last commands</th><th>told to exit</th></tr>{agent_rows}</table>"
            if agent_rows
            else '<p id="agents">none yet</p>',
            "<h2>Runs</h2>",
            '<table id="sweep-runs"><tr><th>run</th><th>state</th><th>processes</th><th>last step</th><th>agent</th>'
            f"<th>handouts</th><th>requeued attempts</th><th>parameters</th></tr>{''.join(run_rows)}</table>"
            if run_rows
            else '<p id="sweep-runs">none yet</p>',
            f"<details><summary>config</summary><pre>{esc(sweep.config_yaml, 20000)}</pre></details>",
            "</section>",
        ]
    )
