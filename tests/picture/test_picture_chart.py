"""The run picture (:mod:`pytest_runresume.picture`), from runs seeded straight into the model: the
lanes, the marks, the duplicated and missing steps, escaping, and a size that does not grow with
the rows."""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET

import pytest
from picture_runs import Process, Tags, duplicate_steps, preempted_and_resumed, seed

from pytest_runresume.model import Attempt, ManualClock, Model, RunKey, RunRecord
from pytest_runresume.picture import build_chart, render_svg, run_document, run_svg

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def model() -> Model:
    return Model(clock=ManualClock(start=1_000_000.0))


def marks(svg: str, kind: str) -> list[dict[str, str]]:
    """The ``data-*`` attributes of every mark of ``kind`` (the SVG parsed as XML: well-formed)."""
    root = ET.fromstring(svg)
    return [
        {k.removeprefix("data-"): v for k, v in g.attrib.items() if k.startswith("data-")}
        for g in root.iter(f"{SVG}g")
        if f"marker-{kind}" in g.get("class", "").split()
    ]


def classes(svg: str, name: str) -> list[ET.Element]:
    return [e for e in ET.fromstring(svg).iter() if name in e.get("class", "").split()]


def test_a_preempted_and_resumed_run_shows_where_it_stopped_and_resumed(model):
    rec = preempted_and_resumed(model)
    chart = build_chart(rec, model.state(rec))
    assert [(lane.number, lane.first_step, lane.last_step, lane.rows) for lane in chart.lanes] == [
        (1, 0, 3, 4),
        (2, 4, 7, 4),
    ]
    assert [lane.how for lane in chart.lanes] == ["new run, from step 0", "resumed at step 4"]
    svg = render_svg(chart)
    assert marks(svg, "start") == [{"step": "0", "resumed": "no"}, {"step": "4", "resumed": "yes"}]
    assert marks(svg, "signal") == [{"step": "3", "signal": "SIGUSR1", "pid": "4242", "received": "True"}]
    assert marks(svg, "preempting") == [{"step": "3"}]
    assert marks(svg, "exit") == [
        {"step": "3", "exit-code": "138", "state": "preempted"},
        {"step": "7", "exit-code": "0", "state": "finished"},
    ]
    assert not classes(svg, "band-dup") and not classes(svg, "band-gap") and not classes(svg, "repeat")
    assert [t.state for t in chart.transitions] == ["running", "preempting", "preempted", "running", "finished"]


def test_steps_logged_twice_are_red_across_the_lanes_and_hatched_on_the_process_that_repeated_them(model):
    rec = duplicate_steps(model)
    chart = build_chart(rec, model.state(rec))
    assert (chart.duplicate_steps, chart.duplicate_sample) == (2, [(2, 3)])
    assert chart.lanes[1].how == "resumed at step 2" and chart.lanes[1].how_tone == "bad"
    assert chart.lanes[1].detail == "but the run was at 3"
    assert chart.lanes[0].repeats == [] and chart.lanes[1].repeats == [(2, 3)]
    svg = render_svg(chart)
    assert len(classes(svg, "band-dup")) == 1 and len(classes(svg, "repeat")) == 1
    (note,) = classes(svg, "note-dup")
    assert note.text == "✗ logged more than once: 2–3 (2 steps)"


def test_steps_never_logged_and_a_restart_that_did_not_resume(model):
    rec = seed(model, "holes", [Process([0, 1, 5, 6], exit_code=1), Process([0, 1], resume=False, exit_code=None)])
    chart = build_chart(rec, model.state(rec))
    assert (chart.missing_steps, chart.missing_sample) == (3, [(2, 4)])
    assert chart.lanes[1].how == "NOT resumed: step 0" and chart.lanes[1].how_tone == "bad"
    svg = render_svg(chart)
    assert len(classes(svg, "band-gap")) == 1
    assert classes(svg, "note-gap")[0].text == "never logged: 2–4 (3 steps)"
    assert marks(svg, "no-exit") == [{"step": "1", "state": "running"}]  # still heard from: running


def test_a_signal_the_process_holding_the_run_never_got_is_marked_as_such(model):
    rec = seed(model, "launcher", [Process([0, 1, 2], signal=("SIGUSR1", [4200], False), exit_code=0)])
    svg = run_svg(rec, model.state(rec))
    assert marks(svg, "signal") == [{"step": "2", "signal": "SIGUSR1", "pid": "4200", "received": "False"}]
    assert "✗ not the run&#x27;s" in svg
    assert "the process holding the run, pid 4243 (python train.py --steps 8), never received it" in svg


def test_a_run_without_processes_or_steps_still_draws(model):
    rec = model.create_run("empty", "proj")
    for svg in (run_svg(rec, "pending"), run_svg(seed(model, "nothing", [Process([])]), "finished")):
        ET.fromstring(svg)
    assert "no process has started this run yet" in run_svg(rec, "pending")


HOSTILE = [
    '<script>alert("x")</script>',
    "\"' onload=alert(1) x='",
    "]]><svg onload=alert(1)>",
    "&amp; &lt; \x00\x01\x1b[31m \ud800 ☃",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_names_config_summary_tags_and_commands_are_escaped(model, text):
    rec = seed(
        model,
        "hostile",
        [Process([0, 1], signal=("SIGUSR1", [4242], False), preempting=True, exit_code=138), Process([2, 3])],
        project="p",
        display_name=text,
        tags=[text, "ok"],
    )
    rec.config[text] = {"value": text}
    rec.summary[text] = [text, {text: text}]
    holders = {"4243": text}
    rec.timeline.append(
        type(rec.timeline[0])(
            rec.timeline[-1].t,
            "signal",
            text,
            2,
            {"signal": text, "pids": [text], "commands": {text: text}, "holders": holders, "received": False},
        )
    )
    svg = run_svg(rec, text)
    root = ET.fromstring(svg)  # well-formed XML whatever the run holds
    assert {e.tag.removeprefix(SVG) for e in root.iter()} <= {
        "svg",
        "defs",
        "pattern",
        "rect",
        "line",
        "text",
        "tspan",
        "g",
        "title",
        "path",
    }
    page = run_document(rec, text, note=text)
    found = Tags()
    found.feed(page)
    assert "script" not in found.tags and not [a for a in found.attrs if a.startswith("on")]
    assert html.escape(text.replace("\x00", "").replace("\x01", "").replace("\x1b", "").replace("\ud800", "")) in page
    assert "\x00" not in page and "\x1b" not in page


def test_the_picture_of_a_million_rows_stays_small():
    """One million history rows in two processes (the second repeats 2 steps and skips 10): the SVG
    is cut into at most 620 pixel cells, so its size does not grow with the rows (bench/picture.py
    measures the page's time and size through the wire)."""
    n = 1_000_000
    rec = RunRecord(RunKey("e", "p", "big"), "s", 0.0)
    first = 600_000
    rec.steps = list(range(first)) + list(range(first - 2, first + 98)) + list(range(first + 108, n + 10))
    rec.files["wandb-history.jsonl"] = [None] * len(rec.steps)
    rec.attempts = [Attempt(1, 0.0, False, 0, complete=True, exit_code=138), Attempt(2, 1.0, True, first)]
    svg = run_svg(rec, "running")
    assert len(svg) < 20_000
    chart = build_chart(rec, "running")
    assert chart.duplicate_steps == 2 and chart.missing_steps == 10
    assert len(chart.duplicates) == 1 and len(chart.missing) == 1  # still drawn, one pixel cell each
