"""The bounded attack run of issue 14 against ``runresume serve`` in a subprocess.

Phases (each a burst of requests, all with a client timeout; a request that times out is a hang):
malformed bodies, deep nesting, non-finite numbers, huge offsets on any file, gzip bombs 8 at a
time, a 50k-alias GraphQL document, keyless requests on every route, slow connections (some
trickling one byte at a time, so only a per-request deadline closes them).

Prints the count of 5xx answers (503 "busy" load sheds counted apart: the SDK retries them), hangs,
keyless requests accepted, the server's RSS before/after/peak (``/proc/PID/status`` VmRSS/VmHWM,
with the RSS after each phase) and slow connections held past the deadline, then ``FIGURE`` lines.

    python bench/attack.py [--slow 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import figure, load  # noqa: E402

KEY = "a" * 40
PATH = "ent/proj/run-a"
TIMEOUT = 30.0
READ_TIMEOUT = 2.0
REQUEST_TIMEOUT = 4.0
UPSERT = (
    "mutation UpsertBucket($id: String, $name: String, $project: String, $entity: String, $config: JSONString)"
    " { upsertBucket(input: {id: $id, name: $name, modelName: $project, entityName: $entity, config: $config})"
    " { bucket { id name } inserted } }"
)
ROUTES = [
    ("POST", "/graphql"),
    ("POST", f"/files/{PATH}/file_stream"),
    ("PUT", f"/upload/{PATH}/config.yaml"),
    ("GET", f"/files/{PATH}/config.yaml"),
    ("GET", f"/history/{PATH}/x"),
    ("GET", "/_runresume/state"),
    ("POST", "/_runresume/clock"),
    ("POST", "/_runresume/reset"),
    ("POST", "/_runresume/stop"),
    ("POST", "/_runresume/faults"),
    ("DELETE", "/_runresume/faults"),
    ("GET", "/nope"),
    ("DELETE", "/healthz"),
]


def rss(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in KiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


class Attack:
    def __init__(self, url: str) -> None:
        self.url = url
        self.status: dict[int, int] = {}
        self.hangs = 0
        self.errors = 0
        self.keyless_accepted = 0
        self.lock = threading.Lock()

    def send(self, method: str, path: str, data: bytes | None = None, key: bool = True, **kw: Any) -> int:
        auth = ("api", KEY) if key else None
        try:
            r = requests.request(method, self.url + path, data=data, auth=auth, timeout=TIMEOUT, **kw)
        except requests.Timeout:
            with self.lock:
                self.hangs += 1
            return -1
        except requests.ConnectionError:
            with self.lock:
                self.errors += 1
            return -2
        with self.lock:
            self.status[r.status_code] = self.status.get(r.status_code, 0) + 1
            if not key and r.status_code != 401:
                self.keyless_accepted += 1
        return r.status_code

    def gql(self, query: str, variables: Any = None, **kw: Any) -> int:
        return self.send("POST", "/graphql", json.dumps({"query": query, "variables": variables}).encode(), **kw)

    def stream(self, body: Any, **kw: Any) -> int:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.send("POST", f"/files/{PATH}/file_stream", data, **kw)


def phases(a: Attack, pool: ThreadPoolExecutor, rounds: int) -> dict[str, Any]:
    def cfg(step: Any) -> str:
        return '{"_wandb": {"value": {"branch_point": {"run_id": "run-a", "step": ' + step + "}}}}"

    def malformed() -> None:
        for junk in [b"{", b"\xff\xfe", b"[]", b'{"files": 5}', b'{"query": 1}', b"null"] * 20:
            a.send("POST", "/graphql", junk)
            a.stream(junk)
            a.send("POST", "/_runresume/clock", junk)

    def nesting() -> None:
        for levels in (100, 10_000, 200_000):
            deep = b"[" * levels + b"]" * levels
            a.send("POST", "/graphql", deep)
            a.stream(b'{"files": {"output.log": {"offset": 0, "content": ' + deep + b"}}}")
            a.gql(UPSERT, {"name": "run-a", "project": "proj", "config": deep.decode()})

    def nonfinite() -> None:
        for step in ("1e999", "NaN", "Infinity", '"abc"'):
            a.gql(UPSERT, {"name": "fork", "project": "proj", "config": cfg(step)})
            a.send("POST", "/_runresume/clock", b'{"advance": ' + step.encode() + b"}")

    def offsets() -> None:
        for name in ("custom.txt", "media/x.log", "wandb-history.jsonl", "output.log"):
            for offset in (10**7, 10**13, 10**30):
                a.stream({"files": {name: {"offset": offset, "content": ["x"]}}})

    def bombs() -> None:
        bomb = gzip.compress(b"x" * (1024 * 1024 * 1024), 9)  # 1 GiB of x, ~1 MB compressed
        for _ in range(rounds):
            list(pool.map(lambda _: a.stream(bomb, headers={"Content-Encoding": "gzip"}), range(8)))

    def aliases() -> None:
        doc = "query Viewer { viewer { " + " ".join(f"a{i}: id" for i in range(50_000)) + " } }"
        a.gql(doc)

    def keyless() -> None:
        for method, path in ROUTES:
            a.send(method, path, b"{}", key=False)
            a.send(
                method,
                path,
                b"{}",
                key=False,
                headers={"Authorization": "Basic " + base64.b64encode(b"api:x").decode()},
            )

    a.gql(UPSERT, {"name": "run-a", "project": "proj", "entity": "ent", "config": "{}"})
    return {
        "malformed": malformed,
        "nesting": nesting,
        "nonfinite": nonfinite,
        "offsets": offsets,
        "bombs": bombs,
        "aliases": aliases,
        "keyless": keyless,
    }


def slow_clients(url: str, n: int) -> tuple[int, float]:
    """``n`` slow connections: a third idle, a third with half their headers, a third trickling a
    byte every ``READ_TIMEOUT / 2`` s. Returns how many were still open ``REQUEST_TIMEOUT + 3`` s
    after they started, and the longest any was held."""
    host, port = url.rsplit("/", 1)[1].split(":")
    socks: list[tuple[socket.socket, str]] = []
    for i in range(n):
        s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
        kind = ("idle", "half", "trickle")[i % 3]
        if kind == "half":
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        socks.append((s, kind))
    t0 = time.monotonic()
    closed_at: dict[int, float] = {}
    limit = REQUEST_TIMEOUT + 3
    while len(closed_at) < n and time.monotonic() - t0 < limit:
        for i, (s, kind) in enumerate(socks):
            if i in closed_at:
                continue
            try:
                if kind == "trickle":
                    s.sendall(b"X")
                s.setblocking(False)
                try:
                    if s.recv(65536) == b"":
                        closed_at[i] = time.monotonic() - t0
                except BlockingIOError:
                    pass
                finally:
                    s.setblocking(True)
            except OSError:
                closed_at[i] = time.monotonic() - t0
        time.sleep(READ_TIMEOUT / 2)
    for s, _ in socks:
        s.close()
    return n - len(closed_at), max(closed_at.values(), default=0.0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--slow", type=int, default=300, help="slow connections (default 300)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of 8 parallel gzip bombs (default 3)")
    args = p.parse_args()
    print(f"# {load()}")
    cmd = [
        sys.executable,
        "-m",
        "pytest_runresume.cli",
        "serve",
        "--key",
        KEY,
        "--limit",
        f"read_timeout={READ_TIMEOUT}",
    ]
    cmd += ["--limit", "max_connections=512"]
    if (
        "request_timeout"
        in subprocess.run(
            [sys.executable, "-c", "from pytest_runresume.wire.limits import WireLimits as W; print(W())"],
            capture_output=True,
            text=True,
        ).stdout
    ):
        cmd += ["--limit", f"request_timeout={REQUEST_TIMEOUT}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url = ""
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("export WANDB_BASE_URL="):
                url = line.split("=", 1)[1].strip().strip("'")
                break
        requests.get(url + "/healthz", timeout=TIMEOUT).raise_for_status()
        before, _ = rss(proc.pid)
        print(f"# server pid {proc.pid} at {url}; RSS before {before / 1024:.1f} MiB")
        a = Attack(url)
        with ThreadPoolExecutor(8) as pool:
            for name, run in phases(a, pool, args.rounds).items():
                t0 = time.monotonic()
                run()
                now, peak = rss(proc.pid)
                print(
                    f"# after {name:10s} {time.monotonic() - t0:6.1f} s  RSS {now / 1024:7.1f} MiB  peak {peak / 1024:7.1f} MiB"
                )
        held, longest = slow_clients(url, args.slow)
        after, peak = rss(proc.pid)
        print(
            f"# after slow       RSS {after / 1024:7.1f} MiB  peak {peak / 1024:7.1f} MiB; longest held {longest:.1f} s"
        )
        fivexx = sum(n for code, n in a.status.items() if code >= 500 and code != 503)
        print(f"# answers by status {dict(sorted(a.status.items()))}; connection errors {a.errors}")
        growth = (peak - before) / 1024
        figure("attack 5xx (not 503 busy)", str(fivexx), "0", fivexx == 0)
        figure("attack hangs", str(a.hangs), "0", a.hangs == 0)
        figure("attack keyless accepted", str(a.keyless_accepted), "0", a.keyless_accepted == 0)
        figure(
            "attack server RSS growth (peak - before)",
            f"{growth:.1f} MiB (before {before / 1024:.1f}, after {after / 1024:.1f}, peak {peak / 1024:.1f})",
            "<= 64 MiB",
            growth <= 64,
        )
        figure(f"attack slow connections held past {REQUEST_TIMEOUT + 3:g} s", str(held), "0", held == 0)
        return 0
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    sys.exit(main())
