"""Shared by the end-to-end tests: a small wandb.init script driven by JSON arguments, and the SDK's
fixed poll intervals shortened for every SDK process these tests start."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

#: A ``sitecustomize`` for the processes these tests start (the harness's own hook chains to it).
#: Two of wandb's pollers wait fixed intervals that no server answer and no environment variable
#: changes: the sweep agent's run loop waits ``Agent.POLL_INTERVAL`` (5 s) for local commands before
#: every heartbeat, and a run asks wandb-core whether it was stopped every ``run_stopping._POLL_INTERVAL``
#: (15 s, bound as ``RunStopChecker``'s default). They set how long the tests wait, not what happens:
#: each heartbeat and its answer, each stop check and what a stop does, are the SDK's own code. Here
#: they are 0.5 s and 1 s, set when the module is first imported.
SDK_POLLS = """
import importlib.abc, sys


def _agent(module):
    module.Agent.POLL_INTERVAL = 0.5


def _stop_checker(module):
    module._POLL_INTERVAL = 1
    module.RunStopChecker.__init__.__kwdefaults__["poll_interval"] = 1


_PATCHES = {"wandb.wandb_agent": _agent, "wandb.sdk.lib.run_stopping": _stop_checker}


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in _PATCHES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                break
        else:
            return None
        run = spec.loader.exec_module

        def exec_module(module, _run=run, _patch=_PATCHES[name]):
            _run(module)
            _patch(module)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _PatchAfterImport())
"""


@pytest.fixture(scope="session")
def sdk_polls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding :data:`SDK_POLLS` as ``sitecustomize.py``."""
    path = tmp_path_factory.mktemp("sdk-polls")
    (path / "sitecustomize.py").write_text(SDK_POLLS)
    return path


@pytest.fixture(autouse=True)
def fast_sdk_polls(sdk_polls_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every process an end-to-end test starts gets :data:`SDK_POLLS` on its ``PYTHONPATH``."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(sdk_polls_dir), os.environ.get("PYTHONPATH")])))


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
