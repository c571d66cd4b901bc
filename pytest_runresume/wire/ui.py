"""A read-only web page of the fake backend's runs (``GET /`` and ``GET /_runresume/ui``).

For manual work with ``runresume serve``: each run's state, steps, attempts (new or resumed),
preempting flag, exit code and timeline, plus the problems the backend recorded. The page reloads
itself every ``refresh`` seconds (``?refresh=N``, default 2; ``0`` turns it off): a small script
fetches ``?part=content`` and swaps it in.

No API key is needed to read it (a browser cannot send one): the server listens on loopback only,
and the page shows no key and changes nothing.
"""

from __future__ import annotations

import html
import time
from typing import Any

from werkzeug.wrappers import Request, Response

from ..model import Backend

DEFAULT_REFRESH = 2.0

_STYLE = """
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
.timeline td { font-family: ui-monospace, monospace; font-size: 0.9em; }
.problems { color: #b91c1c; }
"""


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
        f"<td>{_e(run['path'])}</td>"
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
    if snapshot["problems"]:
        items = "".join(f"<li>{_e(p)}</li>" for p in snapshot["problems"])
        parts.append(f'<h2>Problems</h2><ul class="problems" id="problems">{items}</ul>')
    return "\n".join(parts)


def render(snapshot: dict[str, Any], refresh: float = DEFAULT_REFRESH) -> str:
    """The whole page for a :meth:`Backend.snapshot`. A small script fetches the content part again
    every ``refresh`` seconds (without JavaScript, a ``noscript`` meta refresh reloads the page)."""
    noscript = f'<noscript><meta http-equiv="refresh" content="{refresh:g}"></noscript>' if refresh > 0 else ""
    note = f"refreshes every {refresh:g} s" if refresh > 0 else "does not refresh (refresh=0)"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html><head><meta charset="utf-8"><link rel="icon" href="data:,">{noscript}<title>runresume: fake W&amp;B backend</title>',
            f"<style>{_STYLE}</style></head><body>",
            f"<h1>pytest-runresume fake W&amp;B backend</h1><p>This page {note}.</p>",
            f'<main id="content">{render_content(snapshot)}</main>',
            f"<script>{_SCRIPT % f'{refresh:g}'}</script>",
            "</body></html>",
        ]
    )


def page(backend: Backend, request: Request) -> Response:
    """The response to ``GET /_runresume/ui``: the page (``?refresh=SECONDS``), or with
    ``?part=content`` only its changing part (what the page's script fetches)."""
    if request.args.get("part") == "content":
        return Response(render_content(backend.snapshot()), mimetype="text/html")
    try:
        refresh = max(0.0, float(request.args.get("refresh", DEFAULT_REFRESH)))
    except ValueError:
        refresh = DEFAULT_REFRESH
    return Response(render(backend.snapshot(), refresh), mimetype="text/html")
