"""The run page of a big run: its size and the time to draw it.

    python bench/picture.py [--rows 1000000] [--reps 5]

A run of ``--rows`` history rows ingested through ``Model.file_stream`` as wandb-core sends them
(realistic lines, batches of 1000): a first process logs 60 % of the steps, gets a SIGUSR1 (the
harness's ``signal`` event), marks preempting and exits 138; a second resumes two steps too early
(steps logged twice) and logs the rest with a gap of 10 steps, then exits 0. Then, ``--reps``
times each, alternating: the whole page through the WSGI app (``GET /<entity>/<project>/runs/<id>``,
werkzeug's test client, no socket: copy under the lock, chart, HTML) and the picture alone
(``build_chart`` + ``render_svg``). Targets: the page at most 300 KB whatever the rows (the step
axis is cut into at most 620 pixel cells), and drawn in under 1 s (median).
"""

from __future__ import annotations

import argparse
import time

from _common import figure, interleaved, load, median, spread
from ingest import history_lines
from werkzeug.test import Client

from pytest_runresume.model import FileChunk, Limits, Model
from pytest_runresume.picture import build_chart, render_svg
from pytest_runresume.wire import FakeWandbApp


def big_run(model: Model, rows: int) -> str:
    """Ingest the run described in the module docstring; returns its path."""
    first = int(rows * 0.6)
    rec = model.start("bench/big", config={"lr": 0.001}, host="h", program="train.py")
    key = rec.key
    offset = 0

    def send(lines: list[str]) -> None:
        nonlocal offset
        for i in range(0, len(lines), 1000):
            model.file_stream(key, {"wandb-history.jsonl": FileChunk(offset, lines[i : i + 1000])})
            offset += len(lines[i : i + 1000])

    send(history_lines(first))
    model.record_event(
        rec,
        "signal",
        f"harness sent SIGUSR1 to [4242] at step {first - 1}",
        {
            "signal": "SIGUSR1",
            "pids": [4242],
            "commands": {"4242": "python train.py"},
            "holders": {"4242": "python train.py"},
            "received": True,
            "at": f"at step {first - 1}",
            "escalation": False,
        },
    )
    model.file_stream(key, {}, preempting=True)
    model.file_stream(key, {}, complete=True, exit_code=138)
    model.start(key.path, "must", config={"lr": 0.001}, host="h", program="train.py")  # resumes it
    rest = rows - first
    send(history_lines(100, start=first - 2) + history_lines(rest - 100, start=first + 108))
    model.file_stream(key, {}, complete=True, exit_code=0)
    return key.path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args()
    print(load())
    model = Model(limits=Limits(max_run_bytes=1 << 30, max_total_bytes=1 << 31))  # room for 1M rows
    t0 = time.perf_counter()
    path = big_run(model, args.rows)
    print(f"ingested {args.rows} rows in {time.perf_counter() - t0:.1f} s")
    app = FakeWandbApp(model, "k" * 40)
    client = Client(app)
    sizes: list[int] = []

    def page(_: int) -> float:
        t = time.perf_counter()
        entity, project, run_id = path.split("/")
        answer = client.get(f"/{entity}/{project}/runs/{run_id}?refresh=0")
        took = time.perf_counter() - t
        assert answer.status_code == 200
        sizes.append(len(answer.data))
        return took

    svg_sizes: list[int] = []

    def picture(_: int) -> float:
        rec = model.run(path)
        t = time.perf_counter()
        svg = render_svg(build_chart(rec, model.state(rec)))
        took = time.perf_counter() - t
        svg_sizes.append(len(svg))
        return took

    times = interleaved({"page": page, "picture": picture}, args.reps)
    print(f"page (GET, whole HTML): {spread(times['page'])}, {sizes[-1]} bytes")
    print(f"picture (chart + SVG): {spread(times['picture'])}, {svg_sizes[-1]} bytes")
    figure(
        "run page bytes",
        f"{max(sizes) / 1024:.0f} KB absolute for {args.rows:,} rows",
        "<= 300 KB",
        max(sizes) <= 300 * 1024,
        f"none: an absolute size (the picture alone, chart + SVG: {svg_sizes[-1] / 1024:.0f} KB)",
    )
    figure(
        "run page time",
        f"{median(times['page']):.3f} s absolute ({median(times['page']) / median(times['picture']):.2f}x the baseline)",
        "< 1 s",
        median(times["page"]) < 1.0,
        f"the picture alone (chart + SVG), median {median(times['picture']):.3f} s",
    )


if __name__ == "__main__":
    main()
