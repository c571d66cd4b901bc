"""``runresume serve`` as a real subprocess, and its run page in a real headless browser (Debian's
``chromium``; ``.ci/run`` installs it). A real wandb 0.31.0 process is recorded each time."""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from pytest_runresume.cli import main
from pytest_runresume.conformance.target import Target

TRAIN = Path(__file__).resolve().parents[2] / "examples" / "train.py"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("RUNRESUME_BROWSER") == "required":  # .ci/run: fail, never skip
    raise RuntimeError("RUNRESUME_BROWSER=required but no chromium on PATH (apt-get install chromium)")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")

WANDB_SCRIPT = """
import wandb
run = wandb.init(project="served", id="by-hand", resume="allow")
for i in range(3):
    run.log({"loss": 1.0 / (i + 1)})
run.finish()
"""


def chromium_dom(url: str, profile: Path, virtual_ms: int | None = None, timeout: float = 60) -> str:
    """The DOM of ``url`` after it loaded in headless chromium (and ``virtual_ms`` of virtual time,
    so the page's timers run). The whole browser process group is killed on timeout."""
    argv = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *([f"--virtual-time-budget={virtual_ms}"] if virtual_ms else []),
        "--dump-dom",
        url,
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 0, f"chromium exited {proc.returncode}"
    return out


def _lines(stream, out: queue.Queue[str]) -> None:
    for line in stream:
        out.put(line)
    out.put("")


@pytest.fixture
def served_cli(tmp_path):
    """``runresume serve`` in a subprocess: yields ``(process, exports, stdout lines queue)``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_runresume.cli", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    exports: dict[str, str] = {}
    try:
        while True:
            line = lines.get(timeout=30)
            assert line, f"runresume serve exited early: {proc.wait()} {proc.stderr.read()}"
            if line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                exports[name] = value
            if line.startswith("# runs:"):
                break
        yield proc, exports, line
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_serve_records_a_real_run_and_stops_on_sigint(served_cli, tmp_path):
    proc, exports, runs_line = served_cli
    assert sorted(exports) == ["WANDB_API_KEY", "WANDB_BASE_URL"]
    url, key = exports["WANDB_BASE_URL"], exports["WANDB_API_KEY"]
    assert url.startswith("http://127.0.0.1:") and len(key) == 40
    assert url + "/" in runs_line

    script = tmp_path / "by_hand.py"
    script.write_text(WANDB_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)],
        env=Target(url, key, "served", "url").subprocess_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr

    request = urllib.request.Request(url + "/_runresume/state")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"api:{key}".encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as answer:
        state = json.load(answer)
    (run,) = state["runs"]
    assert (run["path"], run["state"], run["last_step"]) == ("testent/served/by-hand", "finished", 2)
    assert state["problems"] == []

    if CHROMIUM is not None:
        dom = chromium_dom(url + "/", tmp_path / "chrome")
        assert 'id="run-testent/served/by-hand" data-state="finished"' in dom

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 0
    assert "# stopped" in proc.stderr.read()
    port = int(url.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


@needs_chromium
@pytest.mark.preempt(signal="SIGUSR1", at_step=2)
def test_run_page_in_headless_chromium_shows_the_run_and_refreshes(runresume, wandb_server, tmp_path):
    """A run preempted for real (R65-R67) is on the page with its state, steps, preempting flag, exit
    code and timeline; the page's script fetches its content again every second."""
    runresume.run(["python", str(TRAIN), "--run-id", "paged", "--steps", "6"])
    dom = chromium_dom(wandb_server.url + "/_runresume/ui?refresh=1", tmp_path / "chrome", virtual_ms=3500)

    row = dom.split('id="run-testent/runresume-example/paged"', 1)[1].split("</tr>", 1)[0]
    assert 'data-state="preempted"' in row
    cells = [c.split(">", 1)[1] for c in row.split("<td")[1:]]
    assert cells[2:] == ["2</td>", "3</td>", "1 (new)</td>", "yes</td>", "138</td>", cells[-1]]
    assert "timeline of testent/runresume-example/paged" in dom and "mark_preempting() received" in dom
    refreshes = [r for r in wandb_server.app.requests if r.path == "/_runresume/ui"]
    assert len(refreshes) >= 3  # the page, then the script's fetches every second of virtual time
    assert wandb_server.model.problems == []  # no favicon or other stray requests


def test_run_page_needs_no_key_escapes_text_and_can_stop_refreshing(wandb_server):
    wandb_server.model.record_problem("<script>alert(1)</script>")
    with urllib.request.urlopen(wandb_server.url + "/?refresh=0", timeout=10) as answer:
        page = answer.read().decode()
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "does not refresh" in page and "const every = 0 * 1000" in page
    assert wandb_server.api_key not in page
    with urllib.request.urlopen(wandb_server.url + "/_runresume/ui?part=content", timeout=10) as answer:
        part = answer.read().decode()
    assert part.startswith("<p>backend clock") and "<html" not in part
    wandb_server.model.problems.clear()


def test_serve_refuses_a_key_the_sdk_would_refuse():
    result = CliRunner().invoke(main, ["serve", "--key", "short"])
    assert result.exit_code == 2
    assert "40+" in result.output and "--key" in result.output
