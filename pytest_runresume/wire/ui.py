"""Read-only web pages of the fake backend (``GET /``, ``GET /_runresume/ui``, a run's and a sweep's).

For manual work with ``runresume serve``: the index lists each run's state, steps, attempts (new or
resumed), preempting flag, exit code and timeline, the sweeps, plus the problems the backend
recorded; each run links its page (``/<entity>/<project>/runs/<id>``, the link wandb prints), with
the run's picture (:mod:`pytest_runresume.picture`: one lane per process on the step axis, signals,
preempting, exits, resumes, duplicated and missing steps), its state transitions, config, summary
and tags; each sweep its page (``/<entity>/<project>/sweeps/<id>``: state, queue, handouts, agents,
runs). Every page reloads itself every ``refresh`` seconds (``?refresh=N``, default 2; ``0`` turns
it off): a small script fetches ``?part=content`` and swaps it in. No script is needed to read
them, and nothing is loaded from elsewhere: they work offline.

No API key is needed to read it (a browser cannot send one): the server listens on loopback only,
and the page shows no key and changes nothing.
"""

from __future__ import annotations

import html
import time
from typing import Any

from werkzeug.wrappers import Request, Response

from ..model import Model, RunKey
from ..picture import SweepRunView, run_content, sweep_content
from ..picture.pages import STYLE

DEFAULT_REFRESH = 2.0

_STYLE = STYLE


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _clock(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + " UTC"


def _run_row(run: dict[str, Any], now: float) -> str:
    attempts = run["attempts"]
    last = attempts[-1] if attempts else {}
    how = ", ".join("resumed" if a.get("resumed") else "new" for a in attempts) or "not started"
    heard = f"{now - last['last_heard']:.0f} s ago" if last.get("last_heard") else ""
    state = run["state"]
    return (
        f'<tr class="run" id="run-{_e(run["path"])}" data-state="{_e(state)}">'
        f'<td><a href="/{_e(run["path"].split("/", 2)[0])}/{_e(run["path"].split("/", 2)[1])}/runs/'
        f'{_e(run["path"].split("/", 2)[2])}">{_e(run["path"])}</a></td>'
        f'<td><span class="state state-{_e(state)}">{_e(state)}</span></td>'
        f"<td>{_e(run['last_step'])}</td><td>{_e(run['history_lines'])}</td>"
        f"<td>{len(attempts)} ({_e(how)})</td>"
        f"<td>{'yes' if last.get('preempting') else 'no'}</td>"
        f"<td>{_e(last.get('exit_code'))}</td><td>{_e(heard)}</td></tr>"
    )


def _timeline(run: dict[str, Any]) -> str:
    events = run["timeline"]
    t0 = events[0]["t"] if events else 0.0
    rows = "".join(
        f"<tr><td>+{ev['t'] - t0:.2f}s</td><td>{_e(ev['kind'])}</td><td>{_e(ev['detail'])}</td></tr>" for ev in events
    )
    return (
        f"<details open><summary>timeline of {_e(run['path'])} ({len(events)} events)</summary>"
        f'<table class="timeline"><tr><th>time</th><th>event</th><th>detail</th></tr>{rows}</table></details>'
    )


_SCRIPT = """
const every = %s * 1000;
if (every > 0) {
  setInterval(async () => {
    try {
      const answer = await fetch(location.pathname + "?part=content", {cache: "no-store"});
      if (answer.ok) document.getElementById("content").innerHTML = await answer.text();
    } catch (err) {}
  }, every);
}
"""


def render_content(snapshot: dict[str, Any]) -> str:
    """The part of the page that changes: clock, runs, timelines, problems."""
    now = snapshot["now"]
    runs = snapshot["runs"]
    parts = [
        f'<p>backend clock <span id="clock">{_e(_clock(now))}</span>; <span id="count">{len(runs)}</span> runs</p>'
    ]
    if runs:
        parts.append(
            '<table id="runs"><tr><th>run</th><th>state</th><th>last step</th><th>history lines</th>'
            "<th>attempts</th><th>preempting</th><th>exit code</th><th>last heard</th></tr>"
        )
        parts.extend(_run_row(run, now) for run in runs)
        parts.append("</table>")
        parts.extend(_timeline(run) for run in runs)
    else:
        parts.append('<p id="empty">No runs yet. Point <code>WANDB_BASE_URL</code> at this server and start one.</p>')
    sweeps = snapshot.get("sweeps") or []
    if sweeps:
        items = "".join(
            f'<li><a href="/{_e(sw["entity"])}/{_e(sw["project"])}/sweeps/{_e(sw["name"])}">{_e(sw["path"])}</a> '
            f'<span class="state state-{_e(sw["state"])}">{_e(sw["state"])}</span></li>'
            for sw in sweeps
        )
        parts.append(f'<h2>Sweeps</h2><ul id="sweeps">{items}</ul>')
    if snapshot["problems"]:
        items = "".join(f"<li>{_e(p)}</li>" for p in snapshot["problems"])
        parts.append(f'<h2>Problems</h2><ul class="problems" id="problems">{items}</ul>')
    return "\n".join(parts)


def render(
    snapshot: dict[str, Any],
    refresh: float = DEFAULT_REFRESH,
    content: str | None = None,
    title: str = "runresume: fake W&amp;B backend",
    heading: str = "pytest-runresume fake W&amp;B backend",
) -> str:
    """The whole page for a :meth:`Model.snapshot` (or for ``content``, a run's or a sweep's
    page). A small script fetches the content part again every ``refresh`` seconds (without
    JavaScript, a ``noscript`` meta refresh reloads the page). ``title``/``heading`` are HTML."""
    noscript = f'<noscript><meta http-equiv="refresh" content="{refresh:g}"></noscript>' if refresh > 0 else ""
    note = f"refreshes every {refresh:g} s" if refresh > 0 else "does not refresh (refresh=0)"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html><head><meta charset="utf-8"><link rel="icon" href="data:,">{noscript}<title>{title}</title>',
            f"<style>{_STYLE}</style></head><body>",
            f'<p class="top"><a href="/">all runs</a> · {heading} · this page {note}.</p>',
            f'<main id="content">{render_content(snapshot) if content is None else content}</main>',
            f"<script>{_SCRIPT % f'{refresh:g}'}</script>",
            "</body></html>",
        ]
    )


def _refresh(request: Request) -> float:
    try:
        return max(0.0, float(request.args.get("refresh", DEFAULT_REFRESH)))
    except ValueError:
        return DEFAULT_REFRESH


def _answer(request: Request, content: str, title: str, status: int = 200) -> Response:
    if request.args.get("part") == "content":
        return Response(content, status=status, mimetype="text/html")
    page_ = render({}, _refresh(request), content=content, title=_e(title))
    return Response(page_, status=status, mimetype="text/html")


def run_page(model: Model, request: Request, entity: str, project: str, run_id: str) -> Response:
    """``GET /<entity>/<project>/runs/<run_id>``: the run's page (:func:`~pytest_runresume.picture.run_content`).

    The run is copied under the backend's lock and drawn outside it. A run that does not exist (yet)
    gets a page that says so and keeps refreshing (the link may be opened before the first upsert).
    """
    key = RunKey(entity, project, run_id)
    with model.lock:
        live = model.runs.get(key)
        rec = live.copy() if live is not None else None
        state = model.state(live) if live is not None else ""
    if rec is None:
        content = f'<p id="no-run">No run <code>{_e(key.path)}</code> (yet): this page shows it once it starts.</p>'
        return _answer(request, content, f"runresume: {key.path}")
    return _answer(request, run_content(rec, state), f"runresume: {key.path} ({state})")


def sweep_page(model: Model, request: Request, entity: str, project: str, name: str) -> Response:
    """``GET /<entity>/<project>/sweeps/<name>``: the sweep's state, queue, handouts, agents and runs."""
    sweeps = model.sweeps
    with model.lock:
        sweep = sweeps.find(entity, project, name)
        if sweep is None:
            content = f'<p id="no-sweep">No sweep <code>{_e(f"{entity}/{project}/{name}")}</code>.</p>'
            return _answer(request, content, f"runresume: sweep {name}")
        views = {}
        for run_id in sweep.runs:
            rec = sweeps.run_record(sweep, run_id)
            if rec is not None:
                views[run_id] = SweepRunView(run_id, model.state(rec), len(rec.attempts), rec.last_step)
        agents = [a for a in sweeps.agents.values() if a.sweep == sweep.name and a.project == sweep.project]
        content = sweep_content(sweep, sweeps.state(sweep), views, agents, model.now())
    return _answer(request, content, f"runresume: sweep {sweep.path}")


def page(model: Model, request: Request) -> Response:
    """The response to ``GET /_runresume/ui``: the page (``?refresh=SECONDS``), or with
    ``?part=content`` only its changing part (what the page's script fetches)."""
    snapshot = model.snapshot()
    with model.lock:
        snapshot["sweeps"] = [
            {
                "entity": sw.entity,
                "project": sw.project,
                "name": sw.name,
                "path": sw.path,
                "state": model.sweeps.state(sw),
            }
            for sw in model.sweeps.sweeps.values()
        ]
    if request.args.get("part") == "content":
        return Response(render_content(snapshot), mimetype="text/html")
    return Response(render(snapshot, _refresh(request)), mimetype="text/html")
