"""A :class:`~.chart.Chart` drawn as SVG text (:func:`render_svg`; :func:`run_svg` builds and draws a
run in one call). Every text from the run goes through :func:`~.chart.esc`.
"""

from __future__ import annotations

from ..model import RunRecord
from .build import _steps_text, build_chart
from .chart import BOTTOM, LANE, LEFT, PALETTE, PLOT, STATE_COLOURS, TOP, WIDTH, Chart, Lane, esc

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
    """:func:`render_svg` of :func:`~.build.build_chart`: the picture of ``run`` in state ``state``."""
    return render_svg(build_chart(run, state))
