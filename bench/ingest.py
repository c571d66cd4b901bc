"""The model at scale, in-process: history ingestion, RunResumeStatus latency, memory per line.

    python bench/ingest.py [--lines 200000] [--batch 100] [--reps 5] [--big 1000000] [--calls 300]

1. Ingestion: ``Model.file_stream`` with ``FileChunk`` batches of ``--batch`` realistic history
   lines (compact JSON as wandb-core sends them: metrics, ``_step``, ``_runtime``, ``_timestamp``),
   ``--lines`` lines into a fresh run per repetition (target >= 200k lines/s). Side by side, as the
   machine's yardstick: a bare ``json.loads`` of the same lines (the least any ingestion that reads
   ``_step`` must do).
2. RunResumeStatus latency for runs holding 10, 10k and ``--big`` history lines: the handler
   (``model.resume_status`` + the ``bucket`` serialisation) called ``--calls`` times per run,
   rotating over the runs; also the GraphQL ``execute`` (document parse included), the whole wire
   request (``POST /graphql`` through the WSGI app, werkzeug's test client, no socket) and the
   ``Run`` query of the public API. Target: flat, the largest run's median within 1.5x of the
   smallest's, and its answer within 1.1x of the smallest's in bytes (only the digits of the
   counts and the last line differ).
3. Memory per stored history line (tracemalloc): what the model keeps for ``--mem-lines`` lines,
   line strings included, divided by the line count, next to the mean line length.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import random
import sys
import time
import tracemalloc

from _common import figure, load, median
from werkzeug.test import Client

from pytest_runresume.model import FileChunk, Model
from pytest_runresume.wire import FakeWandbApp, graphql

RESUME_QUERY = """query RunResumeStatus($project: String, $entity: String, $name: String!) {
  model(name: $project, entityName: $entity) {
    id name entity { id name }
    bucket(name: $name, missingOk: true) {
      id name summaryMetrics displayName logLineCount historyLineCount eventsLineCount
      historyTail eventsTail config tags wandbConfig(keys: ["t"])
    }
  }
}"""

RUN_QUERY = """query Run($project: String!, $entity: String!, $name: String!) {
  project(name: $project, entityName: $entity) { run(name: $name) { id name state historyLineCount } }
}"""


def history_lines(n: int, start: int = 0, seed: int = 0) -> list[str]:
    """``n`` history lines as wandb-core writes them (compact JSON, keys in no fixed order)."""
    rng = random.Random(seed + start)
    out = []
    t0 = 1_796_062_636.0
    for step in range(start, start + n):
        row = {
            "loss": rng.random(),
            "acc": rng.random(),
            "lr": 0.001,
            "train_step": step,
            "_runtime": step * 0.0123,
            "_timestamp": t0 + step * 0.0123,
            "_step": step,
        }
        if step % 3 == 0:
            row = dict(reversed(list(row.items())))
        out.append(json.dumps(row, separators=(",", ":")))
    return out


def start_run(model: Model, run_id: str) -> None:
    model.start(f"bench/{run_id}", config={"lr": 0.001}, host="bench", program="train.py")


def ingest(model: Model, run_id: str, lines: list[str], batch: int) -> float:
    key = model.key(None, "bench", run_id)
    t0 = time.perf_counter()
    for off in range(0, len(lines), batch):
        model.file_stream(key, {"wandb-history.jsonl": FileChunk(off, lines[off : off + batch])})
    return time.perf_counter() - t0


def bare_parse(lines: list[str]) -> float:
    t0 = time.perf_counter()
    for line in lines:
        json.loads(line)
    return time.perf_counter() - t0


def bench_ingestion(args: argparse.Namespace) -> None:
    """Ingestion rate, alternating with the bare ``json.loads`` yardstick."""
    lines = history_lines(args.lines)
    rates: list[float] = []
    yard: list[float] = []
    for i in range(args.reps):
        gc.collect()
        model = Model()
        start_run(model, "ingest")
        order = ["model", "bare"] if i % 2 == 0 else ["bare", "model"]
        for name in order:
            if name == "model":
                rates.append(len(lines) / ingest(model, "ingest", lines, args.batch))
            else:
                yard.append(len(lines) / bare_parse(lines))
        assert model.run("testent/bench/ingest").last_step == args.lines - 1
    rate, bare = median(rates), median(yard)
    mean_len = sum(map(len, lines)) / len(lines)
    print(
        f"  {args.lines} lines of {mean_len:.0f} characters in batches of {args.batch}: model {rate:,.0f} lines/s, "
        f"bare json.loads {bare:,.0f} lines/s (model at {rate / bare:.2f}x of bare parsing)"
    )
    figure(
        "history ingestion (Model.file_stream)",
        f"{rate:,.0f} lines/s absolute ({rate / bare:.2f}x of the baseline)",
        ">= 200,000 lines/s",
        rate >= 200_000,
        f"bare json.loads of the same lines, median {bare:,.0f} lines/s",
    )


def bench_resume_status(args: argparse.Namespace) -> None:
    """RunResumeStatus (and Run) latency against history length, sizes rotated every call."""
    model = Model()
    sizes = [10, 10_000, args.big]
    for n in sizes:
        start_run(model, f"h{n}")
        for off in range(0, n, 10_000):
            ingest(model, f"h{n}", history_lines(min(10_000, n - off), start=off), 1000)
    ctx = graphql.Context(model, "http://127.0.0.1:1")
    handler = graphql.HANDLERS["RunResumeStatus"]

    def variables(n: int) -> dict[str, str]:
        return {"entity": "testent", "project": "bench", "name": f"h{n}"}

    key = "k" * 40
    client = Client(FakeWandbApp(model, key))
    auth = {"Authorization": "Basic " + base64.b64encode(f"api:{key}".encode()).decode()}

    def post(n: int) -> None:
        body = {"query": RESUME_QUERY, "variables": variables(n), "operationName": "RunResumeStatus"}
        answer = client.post("/graphql", json=body, headers=auth)
        assert answer.status_code == 200 and answer.json["data"]["model"]["bucket"], answer.text

    kinds = {
        "handler": lambda n: handler(ctx, variables(n)),
        "execute": lambda n: graphql.execute(ctx, RESUME_QUERY, variables(n), "RunResumeStatus"),
        "wire": post,
        "Run": lambda n: graphql.execute(ctx, RUN_QUERY, variables(n), "Run"),
    }
    lat: dict[tuple[str, int], list[float]] = {(k, n): [] for k in kinds for n in sizes}
    for c in range(args.calls):
        for k, fn in kinds.items():
            for n in sizes if c % 2 == 0 else reversed(sizes):
                t0 = time.perf_counter()
                fn(n)
                lat[(k, n)].append(time.perf_counter() - t0)
    answer_bytes = {n: len(json.dumps(kinds["handler"](n))) for n in sizes}
    for k in kinds:
        row = ", ".join(f"{n:,} lines {median(lat[(k, n)]) * 1e6:,.0f} us" for n in sizes)
        print(f"  {k:8s}: {row}")
    print("  answer size: " + ", ".join(f"{n:,} lines {b:,} bytes" for n, b in answer_bytes.items()))
    growth = median(lat[("handler", args.big)]) / median(lat[("handler", 10)])
    size_growth = answer_bytes[args.big] / answer_bytes[10]
    figure(
        f"RunResumeStatus latency, {args.big:,} / 10 history lines",
        f"{growth:.2f}x, answer size {size_growth:.2f}x",
        "flat: <= 1.5x, answer <= 1.1x",
        growth <= 1.5 and size_growth <= 1.1,
        f"the same calls on a 10-line run, median {median(lat[('handler', 10)]) * 1e6:,.0f} us, "
        f"{answer_bytes[10]:,} bytes",
    )


def bench_memory(args: argparse.Namespace) -> None:
    """What the model keeps per history line (tracemalloc), the lines made while tracing."""
    model = Model()
    start_run(model, "mem")
    key = model.key(None, "bench", "mem")
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    total_len = 0
    for off in range(0, args.mem_lines, args.batch):
        chunk = history_lines(min(args.batch, args.mem_lines - off), start=off)
        total_len += sum(map(len, chunk))
        model.file_stream(key, {"wandb-history.jsonl": FileChunk(off, chunk)})
    chunk = []
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    per_line = (after - before) / args.mem_lines
    mean_len = total_len / args.mem_lines
    print(
        f"  memory: {per_line:.0f} bytes per stored history line for lines of {mean_len:.0f} characters "
        f"({per_line / mean_len:.2f}x the text; {args.mem_lines:,} lines, timeline included)"
    )
    figure(
        "memory per stored history line",
        f"{per_line:.0f} bytes absolute ({per_line / mean_len:.2f}x the line's text)",
        "recorded (no target)",
        True,
        f"the line's JSON text, {mean_len:.0f} characters",
    )


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--lines", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--big", type=int, default=1_000_000)
    p.add_argument("--calls", type=int, default=300)
    p.add_argument("--mem-lines", type=int, default=100_000)
    args = p.parse_args()
    print(f"ingest: {load()}")
    bench_ingestion(args)
    gc.collect()
    bench_resume_status(args)
    gc.collect()
    bench_memory(args)
    print(f"  ({load()} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
