"""The fake under a team's CI load, at three sizes each: how its memory and latency grow.

    python bench/scale.py [--procs 4 8 16] [--rows 10000 100000 1000000] [--sweep-runs 10 30 100]
                          [--only procs history sweeps]

- ``procs``: N real SDK processes at once (``wandb.init``, ``--logs`` ``run.log`` calls,
  ``run.finish()``) against one served fake. Baselines of the same run: one such process alone, and a
  probe's ``RunResumeStatus`` round trip on the idle server. Figures: the wall per process of the
  batch over the lone process (flat means the fake adds no queueing; on a 2-core machine the SDK
  processes share the cores, so the batch's wall is expected to grow linearly with N), the probe's
  median and 95th percentile round trip under the load over idle, and the server's RSS growth.
- ``history``: one run with 10k/100k/1M history rows ingested through ``Model.file_stream`` in
  batches of 1000 (each size in a fresh process, for a clean RSS; the per-run storage limit raised
  past its 128 MB default, which refuses a 1M-row run of these lines): the ingestion rate, the RSS growth
  per row, and the ``RunResumeStatus`` handler's latency for that run over the same call on a 10-row
  run (the answer carries a history tail, not the history: flat).
- ``sweeps``: a grid sweep of 10/30/100 runs driven through the model as the agent and the SDK drive
  it through the wire (heartbeat, the run's init upsert, 20 history lines, its exit): the heartbeat's
  latency over the sweep's last tenth against its first tenth (flat), the time per run, the RSS.

Every figure is a ratio against a baseline of the same run or labelled absolute; sizes run in order
(a larger size cannot share its repetitions with a smaller one), so the ratios between sizes are the
growth. Prints ``FIGURE`` lines for ``run_all.py``.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from _common import figure, load, median
from ingest import RESUME_QUERY, history_lines, start_run

from pytest_runresume.model import FileChunk, Limits, Model, RunKey, RunUpsert

SCRIPT = """
import sys, wandb
run = wandb.init(project="scale", id=sys.argv[1])
for i in range(int(sys.argv[2])):
    run.log({"loss": 1.0 / (i + 1), "acc": i / 100})
run.finish()
"""


def rss_mb() -> float:
    """This process's resident set (``VmRSS``), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def pct(xs: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``xs``."""
    ys = sorted(xs)
    return ys[min(len(ys) - 1, int(q * len(ys)))]


class Probe:
    """A thread posting ``RunResumeStatus`` for one run every ``every`` seconds; the round trips."""

    def __init__(self, url: str, api_key: str, every: float = 0.05) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = {
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(f"api:{api_key}".encode()).decode(),
        }
        self.body = json.dumps(
            {
                "query": RESUME_QUERY,
                "variables": {"entity": "testent", "project": "scale", "name": "probe"},
                "operationName": "RunResumeStatus",
            }
        )
        self.every = every
        self.times: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def one(self) -> float:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            t0 = time.perf_counter()
            conn.request("POST", "/graphql", self.body, self.headers)
            answer = conn.getresponse()
            answer.read()
            took = time.perf_counter() - t0
        finally:
            conn.close()
        if answer.status != 200:
            raise SystemExit(f"probe: HTTP {answer.status}")
        return took

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.times.append(self.one())
            self._stop.wait(self.every)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def bench_procs(sizes: list[int], logs: int) -> None:
    from pytest_runresume import FakeServer, Harness

    print(f"procs: {load()}")
    with FakeServer() as served, tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "script.py"
        script.write_text(SCRIPT)
        counter = iter(range(1_000_000))

        def batch(n: int) -> float:
            """Start ``n`` processes at once; seconds until the last has exited."""
            procs = []
            t0 = time.perf_counter()
            for _ in range(n):
                i = next(counter)
                h = Harness(served, Path(tmp) / f"p{i}")
                env = h.env()
                env.pop("PYTHONPATH", None)  # a plain process: no trigger hook
                procs.append(
                    subprocess.Popen(
                        [sys.executable, str(script), f"p{i}", str(logs)],
                        env=env,
                        cwd=h.workdir,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
            for p in procs:
                _, err = p.communicate(timeout=600)
                if p.returncode != 0:
                    raise SystemExit(f"an SDK process failed ({p.returncode}):\n{err[-2000:]}")
            return time.perf_counter() - t0

        probe = Probe(served.url, served.api_key)
        idle = [probe.one() for _ in range(40)]
        alone = [batch(1) for _ in range(2)]
        rss0 = rss_mb()
        rows = []
        for n in sizes:
            with Probe(served.url, served.api_key) as busy:
                wall = batch(n)
            rows.append((n, wall, busy.times, rss_mb()))
            print(
                f"  {n:3d} processes at once: {wall:.1f} s ({wall / n:.2f} s per process); probe round trip "
                f"median {median(busy.times) * 1000:.1f} ms, p95 {pct(busy.times, 0.95) * 1000:.1f} ms "
                f"({len(busy.times)} probes); server RSS {rss_mb():.0f} MB"
            )
        runs = len(served.model.runs)
    base_wall, base_lat = median(alone), median(idle)
    print(
        f"  one process alone: median {base_wall:.2f} s; idle probe median {base_lat * 1000:.1f} ms; {runs} runs held"
    )
    for n, wall, times, rss in rows:
        per = (wall / n) / base_wall
        figure(
            f"{n} SDK processes at once, wall per process / one alone",
            f"{per:.2f}x (batch {wall:.1f} s absolute)",
            "recorded: flat or falling = the fake adds no queueing",
            True,
            f"one process alone, median {base_wall:.2f} s",
        )
        lat, p95 = median(times) / base_lat, pct(times, 0.95) / base_lat
        figure(
            f"{n} SDK processes at once, probe round trip / idle",
            f"median {lat:.2f}x, p95 {p95:.2f}x; server RSS +{rss - rss0:.0f} MB absolute",
            "recorded (CPU shared with the SDK processes)",
            True,
            f"the same request on the idle server, median {base_lat * 1000:.1f} ms",
        )


def one_history(rows: int, batch: int) -> dict[str, float]:
    """In this process: ingest ``rows`` history lines into one run; rate, RSS growth, latency."""
    from pytest_runresume.wire import graphql

    # The default max_run_bytes (128 MB) holds about 1M rows of these ~134-byte lines: a run of that
    # size is refused with LimitExceeded, so the limits grow with the rows asked for.
    room = max(Limits().max_run_bytes, rows * 400)
    model = Model(limits=Limits().replace(max_run_bytes=room, max_total_bytes=2 * room))
    start_run(model, "small")
    model.file_stream(model.key(None, "bench", "small"), {"wandb-history.jsonl": FileChunk(0, history_lines(10))})
    start_run(model, "big")
    key = model.key(None, "bench", "big")
    rss0 = rss_mb()
    spent = 0.0
    for off in range(0, rows, batch):
        lines = history_lines(min(batch, rows - off), start=off)
        t0 = time.perf_counter()
        model.file_stream(key, {"wandb-history.jsonl": FileChunk(off, lines)})
        spent += time.perf_counter() - t0
    grown = rss_mb() - rss0
    ctx = graphql.Context(model, "http://127.0.0.1:1")
    handler = graphql.HANDLERS["RunResumeStatus"]
    lat: dict[str, list[float]] = {"small": [], "big": []}
    for i in range(60):
        for name in ("small", "big") if i % 2 == 0 else ("big", "small"):
            t0 = time.perf_counter()
            handler(ctx, {"entity": "testent", "project": "bench", "name": name})
            lat[name].append(time.perf_counter() - t0)
    return {
        "rate": rows / spent,
        "rss_mb": grown,
        "bytes_per_row": grown * 1024 * 1024 / rows,
        "resume_big_us": median(lat["big"]) * 1e6,
        "resume_small_us": median(lat["small"]) * 1e6,
    }


def bench_history(sizes: list[int], batch: int) -> None:
    print(f"history: {load()}")
    for n in sizes:
        proc = subprocess.run(
            [sys.executable, __file__, "--one-history", str(n), "--batch", str(batch)],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if proc.returncode != 0:
            raise SystemExit(f"history of {n} rows failed:\n{proc.stderr[-2000:]}")
        r = json.loads(proc.stdout.splitlines()[-1])
        print(
            f"  {n:>9,} rows: {r['rate']:,.0f} rows/s, RSS +{r['rss_mb']:.0f} MB ({r['bytes_per_row']:.0f} bytes/row), "
            f"RunResumeStatus {r['resume_big_us']:,.0f} us (10-row run {r['resume_small_us']:,.0f} us)"
        )
        figure(
            f"{n:,}-row history, RunResumeStatus / 10-row run",
            f"{r['resume_big_us'] / r['resume_small_us']:.2f}x; ingest {r['rate']:,.0f} rows/s absolute, "
            f"RSS +{r['rss_mb']:.0f} MB absolute ({r['bytes_per_row']:.0f} bytes/row)",
            "flat latency (<= 1.5x), RSS linear in rows",
            r["resume_big_us"] / r["resume_small_us"] <= 1.5,
            f"the same handler on a 10-row run, median {r['resume_small_us']:,.0f} us",
        )


def one_sweep(model: Model, runs: int, lines: int) -> tuple[list[float], float]:
    """Drive a grid of ``runs`` runs to its end through the model; heartbeat latencies, seconds per run."""
    config = {"method": "grid", "program": "train.py", "parameters": {"lr": {"values": list(range(runs))}}}
    sweep = model.sweeps.create(json.dumps(config), project="scale")
    agent = model.sweeps.create_agent(sweep.entity, sweep.project, sweep.name, "host-1").id
    beats: list[float] = []
    done = 0
    t_start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        commands = model.sweeps.heartbeat(agent, {})
        beats.append(time.perf_counter() - t0)
        kinds = [c["type"] for c in commands]
        if "exit" in kinds or not commands:
            break
        for c in commands:
            if c["type"] not in ("run", "resume"):
                continue
            run_id = c["run_id"]
            fields = {"name": run_id, "entity": sweep.entity, "project": sweep.project, "sweep": sweep.name}
            model.upsert_run(RunUpsert.from_variables(fields))
            key = RunKey(sweep.entity, sweep.project, run_id)
            model.file_stream(key, {"wandb-history.jsonl": FileChunk(0, history_lines(lines))})
            model.file_stream(key, {}, complete=True, exit_code=0)
            done += 1
    if done != runs:
        raise SystemExit(f"the sweep ran {done} runs, expected {runs}")
    return beats, (time.perf_counter() - t_start) / runs


def bench_sweeps(sizes: list[int], lines: int) -> None:
    print(f"sweeps: {load()}")
    model = Model()
    rss0 = rss_mb()
    for n in sizes:
        beats, per_run = one_sweep(model, n, lines)
        tenth = max(1, len(beats) // 10)
        first, last = median(beats[:tenth]), median(beats[-tenth - 1 : -1] or beats[-1:])
        print(
            f"  {n:3d}-run sweep: {per_run * 1000:.2f} ms per run, heartbeat first tenth {first * 1e6:.0f} us, "
            f"last tenth {last * 1e6:.0f} us, {len(beats)} heartbeats; RSS +{rss_mb() - rss0:.0f} MB"
        )
        figure(
            f"{n}-run sweep, heartbeat latency, last tenth / first tenth",
            f"{last / first:.2f}x, last tenth {last * 1e6:.0f} us absolute; {per_run * 1000:.2f} ms per run absolute",
            "flat or linear in the sweep's runs, under 1 ms",
            last < 1e-3,
            f"the same sweep's first tenth of heartbeats, median {first * 1e6:.0f} us",
        )


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--procs", type=int, nargs="+", default=[4, 8, 16])
    p.add_argument("--logs", type=int, default=50)
    p.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--sweep-runs", type=int, nargs="+", default=[10, 30, 100])
    p.add_argument("--only", nargs="+", choices=["procs", "history", "sweeps"], default=["procs", "history", "sweeps"])
    p.add_argument("--one-history", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one_history:
        print(json.dumps(one_history(args.one_history, args.batch)))
        return 0
    if "sweeps" in args.only:
        bench_sweeps(args.sweep_runs, 20)
    if "history" in args.only:
        bench_history(args.rows, args.batch)
    if "procs" in args.only:
        bench_procs(args.procs, args.logs)
    print(f"  ({load()} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
