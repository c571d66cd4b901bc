"""Shared by every test of the suite: the SDK's fixed poll intervals shortened in every process a
test starts (``examples/`` are run as a user runs them, with the SDK's own intervals)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: A ``sitecustomize`` for the processes the tests start (the harness's own hook chains to it).
#: Three of wandb's pollers wait fixed intervals that no server answer and no environment variable
#: changes: the sweep agent's run loop waits ``Agent.POLL_INTERVAL`` (5 s) for local commands before
#: every heartbeat; ``wandb.agent(function=...)`` sleeps ``HEARTBEAT_SLEEP_SECONDS`` (5 s; "tests may
#: set to 0", says its source) between heartbeats, and waits up to 5 s twice (a queue read, then a
#: sleep) for its next run before it sees that it was told to exit; a run asks wandb-core whether it
#: was stopped every ``run_stopping._POLL_INTERVAL`` (15 s, bound as ``RunStopChecker``'s default).
#: They set how long the tests wait, not what happens: each heartbeat and its answer, each stop check
#: and what a stop does, are the SDK's own code. Here they are 0.5 s, 0.5 s (each wait) and 1 s, set
#: when the module is first imported. Likewise the SDK checks for wandb-core's port file every 0.2 s
#: (``service_port_file.poll_for_token``) while wandb-core writes it in 30-70 ms: here every 20 ms.
SDK_POLLS = """
import importlib.abc, sys


def _agent(module):
    module.Agent.POLL_INTERVAL = 0.5


def _function_agent(module):
    import queue, time, types

    class _Queue(queue.Queue):
        def get(self, block=True, timeout=None):
            return super().get(block, None if timeout is None else min(timeout, 0.5))

    module.Agent.HEARTBEAT_SLEEP_SECONDS = 0.5
    module.queue = types.SimpleNamespace(Queue=_Queue, Empty=queue.Empty)
    module.time = types.SimpleNamespace(time=time.time, sleep=lambda seconds: time.sleep(min(seconds, 0.5)))


def _stop_checker(module):
    module._POLL_INTERVAL = 1
    module.RunStopChecker.__init__.__kwdefaults__["poll_interval"] = 1


def _port_file(module):
    import time

    module._SLEEP = lambda seconds: time.sleep(min(seconds, 0.02))


_PATCHES = {
    "wandb.wandb_agent": _agent,
    "wandb.agents.pyagent": _function_agent,
    "wandb.sdk.lib.run_stopping": _stop_checker,
    "wandb.sdk.lib.service.service_port_file": _port_file,
}


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
    """Every process a test starts (SDK processes, sweep agents, inner pytest sessions and what
    they start in turn) gets :data:`SDK_POLLS` on its ``PYTHONPATH``."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(sdk_polls_dir), os.environ.get("PYTHONPATH")])))


@pytest.fixture(autouse=True)
def bytecode_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every process a test starts may write bytecode caches, even when the shell sets
    ``PYTHONDONTWRITEBYTECODE`` (container images often do). Without the caches every inner pytest
    session compiles again what the one before compiled: the ``hypothesis`` package, which pytest
    rewrites for assertions because its plugin comes through an entry point (~1 s a session), and
    this package, installed editable (no ``.pyc`` from pip). A trivial inner session then takes
    ~0.75 s of CPU instead of ~2 s. Caches change how fast modules load, not what they do."""
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
