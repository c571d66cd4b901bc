"""The run and sweep pages through the served fake (no key on loopback): the link wandb prints
opens the run's picture, an unknown run gets a page that waits for it, a sweep's page shows its
state, queue, handouts (run vs resume), agents and runs, and values from clients stay escaped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from picture_runs import Process, Tags, preempted_and_resumed, seed

from pytest_runresume.model import ManualClock, Model, RunKey
from pytest_runresume.wire import FakeServer

GRID = """
method: grid
program: train.py
parameters:
  lr:
    values: [0.1, 0.01]
"""


@pytest.fixture(scope="module")
def served() -> Iterator[FakeServer]:
    srv = FakeServer(Model(clock=ManualClock(start=1_000_000.0))).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def model(served: FakeServer) -> Model:
    served.reset()
    return served.model


def get(served: FakeServer, path: str) -> str:
    answer = requests.get(served.url + path, timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html"), path
    return answer.text


def test_the_run_link_opens_the_runs_picture_and_the_index_links_it(served, model):
    rec = preempted_and_resumed(model)
    page = get(served, f"/{rec.key.entity}/proj/runs/resumed-ok?refresh=0")
    assert page.startswith("<!DOCTYPE html>") and 'class="run-chart"' in page and "does not refresh" in page
    assert 'data-exit-code="138" data-state="preempted"' in page and '<ul id="tags"><li>none</li></ul>' in page
    assert "<td>lr</td><td>0.1</td>" in page  # the config as the backend holds it, {"value": ...} unwrapped
    part = get(served, f"/{rec.key.entity}/proj/runs/resumed-ok?part=content")
    assert part.startswith('<section class="run-page"') and "<html" not in part
    index = get(served, "/?refresh=0")
    assert f'<a href="/{rec.key.entity}/proj/runs/resumed-ok">{rec.key.path}</a>' in index
    assert get(served, "/testent/proj/runs/not-yet?refresh=0").count('id="no-run"') == 1
    assert model.problems == []


def test_the_sweep_page_shows_state_queue_handouts_agents_and_runs(served, model):
    sweep = model.sweeps.create(GRID, project="sp")
    agent = model.sweeps.create_agent(sweep.entity, sweep.project, sweep.name, "host-1")
    (cmd,) = model.sweeps.heartbeat(agent.id, {})
    run_id = cmd["run_id"]
    model.start(f"{sweep.entity}/sp/{run_id}", host="host-1")  # the agent's child runs wandb.init
    model.file_stream(RunKey(sweep.entity, "sp", run_id), {}, preempting=True, complete=True, exit_code=138)
    assert list(sweep.queue) == [run_id]  # preempted -> requeued (R81)
    model.sweeps.heartbeat(agent.id, {})  # handed out again, as a resume

    page = get(served, f"/{sweep.entity}/sp/sweeps/{sweep.name}?refresh=0")
    assert f'id="sweep-{sweep.path}" data-state="running"' in page
    assert [kind for kind in ("run", "resume") if f'<tr class="handout" data-kind="{kind}">' in page] == [
        "run",
        "resume",
    ]
    assert f'id="agent-{agent.id}"' in page and '<tr class="sweep-run" data-state="preempted">' in page
    assert f'href="/{sweep.entity}/sp/runs/{run_id}"' in page
    index = get(served, "/?refresh=0")
    assert f'<a href="/{sweep.entity}/sp/sweeps/{sweep.name}">{sweep.path}</a>' in index
    assert 'id="no-sweep"' in get(served, f"/{sweep.entity}/sp/sweeps/nope?refresh=0")
    assert model.problems == []


def test_values_from_clients_stay_escaped_on_the_run_page(served, model):
    evil = "<img src=x onerror=alert(1)>"
    seed(model, "evil", [Process([0, 1])], display_name=evil, tags=[evil], config={evil: evil})
    page = get(served, "/testent/proj/runs/evil?refresh=0")
    found = Tags()
    found.feed(page)
    assert "img" not in found.tags and "onerror" not in found.attrs
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
