"""The run page in a real headless browser (Debian's ``chromium``; ``.ci/run`` installs it), for
real wandb 0.31.0 runs: one preempted and resumed, one whose restart did not resume and logged its
steps again. Each page is screenshot to ``tmp_path`` (``run-page-*.png``) and its picture's marks
are looked up in the DOM the browser built."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "examples" / "train.py"
NO_RESUME = ROOT / "examples" / "buggy" / "no_resume_arg.py"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("RUNRESUME_BROWSER") == "required":  # .ci/run: fail, never skip
    raise RuntimeError("RUNRESUME_BROWSER=required but no chromium on PATH (apt-get install chromium)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")


def chromium(url: str, profile: Path, *args: str, timeout: float = 60) -> str:
    """Run headless chromium on ``url`` with ``args`` (``--dump-dom``, ``--screenshot=...``); its
    stdout. The whole browser process group is killed on timeout."""
    argv = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
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


def page(url: str, tmp_path: Path, name: str) -> str:
    """The page's DOM as chromium built it, after a screenshot of it went to ``tmp_path/name``."""
    png = tmp_path / name
    chromium(url, tmp_path / "chrome", "--window-size=1100,820", f"--screenshot={png}")
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return chromium(url, tmp_path / "chrome", "--dump-dom")


@pytest.mark.preempt(signal="SIGUSR1", at_step=3)
def test_a_preempted_and_resumed_run_shows_where_it_stopped_and_resumed(runresume, wandb_server, tmp_path):
    """Two lanes: process 1 logs steps 0-3, gets SIGUSR1 (to the pid holding the run: received),
    marks preempting and exits 138 -> preempted; process 2 resumes at step 4, logs 4-7, exits 0."""
    cmd = ["python", str(TRAIN), "--run-id", "pictured", "--steps", "8"]
    first = runresume.run(cmd)
    runresume.run(cmd).expect(state="finished", exit_code=0)
    (pid,) = first.signals[0].pids

    dom = page(
        f"{wandb_server.url}/testent/runresume-example/runs/pictured?refresh=0", tmp_path, "run-page-resumed.png"
    )
    assert 'class="run-chart"' in dom and 'data-run="testent/runresume-example/pictured"' in dom
    assert '<g class="marker marker-start" data-step="4" data-resumed="yes">' in dom
    assert (
        f'<g class="marker marker-signal" data-step="3" data-signal="SIGUSR1" data-pid="{pid}" data-received="True">'
        in dom
    )
    assert '<g class="marker marker-preempting" data-step="3">' in dom
    assert 'data-exit-code="138" data-state="preempted"' in dom and 'data-exit-code="0" data-state="finished"' in dom
    assert "band-dup" not in dom and "band-gap" not in dom
    assert dom.count('class="state state-') >= 5  # running, preempting, preempted, running, finished
    assert '<td>{"lr": 0.1, "steps": 8}</td>' not in dom and "<td>steps</td><td>8</td>" in dom  # config


@pytest.mark.preempt(signal="SIGUSR1", at_step=3)
def test_a_restart_that_logs_its_steps_again_is_red_at_a_glance(runresume, wandb_server, tmp_path):
    """``wandb.init(id=...)`` without ``resume=``: the restart writes steps 0-7 again on top of
    0-3 (R14): a red band over steps 0-3, hatched on process 2, which is labelled NOT resumed."""
    cmd = ["python", str(NO_RESUME), "--run-id", "twice", "--steps", "8"]
    runresume.run(cmd)
    assert "w&b-steps-repeated" in [f.code for f in runresume.run(cmd).findings]

    dom = page(f"{wandb_server.url}/testent/runresume-example/runs/twice?refresh=0", tmp_path, "run-page-twice.png")
    assert dom.count('class="band band-dup"') == 1 and dom.count('class="repeat"') == 1
    assert "✗ logged more than once: 0–3 (4 steps)" in dom
    assert "NOT resumed: step 0" in dom and "same run id, history again" in dom
    assert '<g class="marker marker-start" data-step="0" data-resumed="no">' in dom
