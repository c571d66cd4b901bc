"""Shared by the end-to-end tests: a small wandb.init script driven by JSON arguments (the SDK's
fixed poll intervals are shortened for every test: ``tests/conftest.py``)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

#: Prints one ``E2E-RESULT {...}`` line: the run id, resumed, starting_step, or the init error's
#: class and message; then logs ``n`` steps and exits with ``exit`` (default: finish cleanly).
INIT_SCRIPT = """
    import json, sys, wandb

    args = json.loads(sys.argv[1])
    kwargs = dict(args.get("init") or {})
    for key in ("id", "resume"):
        if key in args:
            kwargs[key] = args[key]
    try:
        run = wandb.init(project="m", **kwargs)
    except Exception as exc:
        print("E2E-RESULT " + json.dumps({"error": type(exc).__name__, "message": str(exc)}), flush=True)
        sys.exit(1)
    print("E2E-RESULT " + json.dumps({"id": run.id, "resumed": run.resumed, "starting_step": run.starting_step}),
          flush=True)
    for i in range(args.get("n", 3)):
        run.log({"i": i})
    if args.get("exit"):
        sys.exit(args["exit"])
    run.finish()
"""


@pytest.fixture
def init_script(tmp_path: Path) -> str:
    path = tmp_path / "e2e_init.py"
    path.write_text(textwrap.dedent(INIT_SCRIPT))
    return str(path)


@pytest.fixture
def e2e_launch(runresume, init_script):
    """``e2e_launch(id=..., resume=..., n=3, exit=0, init={...}, cwd=..., env={...}, preempt=...,
    script=...)`` -> (RunResult, the printed dict). ``script`` defaults to :data:`INIT_SCRIPT`; any
    script given must print one ``E2E-RESULT {json}`` line."""

    def _launch(
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        preempt: Any = None,
        script: str | None = None,
        **args: Any,
    ):
        command = ["python", script or init_script, json.dumps(args)]
        result = runresume.run(command, cwd=cwd, env=env, preempt=preempt)
        lines = [line for line in result.stdout.splitlines() if line.startswith("E2E-RESULT ")]
        assert len(lines) == 1, result.report()
        return result, json.loads(lines[0][len("E2E-RESULT ") :])

    return _launch


@pytest.fixture
def run_tagged(runresume, tmp_path: Path):
    """``run_tagged(script, tag, timeout=180)`` -> the object of the ``TAG {json}`` line that
    ``script`` (dedented, written to a file) prints when run with ``python`` under the harness.

    Raises:
        AssertionError: a non-zero exit (with the run's report) or no ``TAG`` line.
    """

    def _run(script: str, tag: str, timeout: float = 180) -> dict[str, Any]:
        path = tmp_path / f"{tag.lower()}.py"
        path.write_text(textwrap.dedent(script))
        result = runresume.run(["python", str(path)], timeout=timeout)
        assert result.returncode == 0, result.report()
        prefix = f"{tag} "
        lines = [line[len(prefix) :] for line in result.stdout.splitlines() if line.startswith(prefix)]
        assert lines, f"no {tag} line\n{result.report()}"
        return json.loads(lines[0])

    return _run
