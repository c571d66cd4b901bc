"""The backend a conformance run talks to: the embedded fake, or any W&B-compatible URL and key.

Tests drive the real, unmodified ``wandb`` SDK in the test process (``wandb.init`` with explicit
settings, so nothing is read from the user's W&B login) and read results through the public API,
so they pass against W&B Server as well as against the fake. What only the fake can do (move its
clock, read its model) goes through :class:`Control`, which is ``None`` for other backends.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..wire import FakeServer


class Control:
    """The fake's control plane: its clock and its crash timeout."""

    #: Seconds known to be past the crash timeout, when the exact timeout is not known.
    FAR = 7 * 24 * 3600.0

    def advance_clock(self, seconds: float) -> None:
        raise NotImplementedError

    @property
    def crash_timeout(self) -> float | None:
        """The crash timeout (R61), if known."""
        return None


@dataclass
class ModelControl(Control):
    """Control of the embedded fake: the model itself."""

    served: FakeServer

    def advance_clock(self, seconds: float) -> None:
        self.served.model.advance_clock(seconds)

    @property
    def crash_timeout(self) -> float | None:
        return float(self.served.model.crash_timeout)


@dataclass
class HttpControl(Control):
    """Control of a pytest-runresume fake served elsewhere, through its ``/_runresume/`` API."""

    url: str
    api_key: str

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST")
        request.add_header("Authorization", _basic(self.api_key))
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.load(answer)

    def advance_clock(self, seconds: float) -> None:
        self._post("/_runresume/clock", {"advance": seconds})

    @classmethod
    def probe(cls, url: str, api_key: str) -> HttpControl | None:
        """A control for ``url`` if it answers ``GET /_runresume/state`` (a pytest-runresume fake)."""
        request = urllib.request.Request(url + "/_runresume/state")
        request.add_header("Authorization", _basic(api_key))
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                data = json.load(answer)
        except (OSError, ValueError):
            return None
        return cls(url, api_key) if isinstance(data, dict) and "runs" in data else None


def _basic(api_key: str) -> str:
    return "Basic " + base64.b64encode(f"api:{api_key}".encode()).decode()


@dataclass
class Target:
    """A backend under test.

    Attributes:
        url: ``WANDB_BASE_URL``.
        api_key: the key.
        project: the project the tests' runs go to (run ids are random, so runs of earlier
            conformance runs on a persistent server do not collide).
        kind: ``embedded`` (the fake in this process), ``fake`` (a pytest-runresume fake by URL) or
            ``url`` (any other backend).
        control: the fake's clock, or ``None``.
    """

    url: str
    api_key: str
    project: str
    kind: str
    control: Control | None = None
    _api: Any = field(default=None, repr=False)

    @property
    def description(self) -> str:
        names = {"embedded": "the embedded fake", "fake": "a pytest-runresume fake", "url": "a W&B backend"}
        return f"{names[self.kind]} at {self.url}"

    def new_id(self, name: str) -> str:
        """A fresh run id for this test: ``name`` plus random hex."""
        return f"{name[:40]}-{secrets.token_hex(4)}"

    def settings(self, root_dir: Path, **extra: Any) -> Any:
        """``wandb.Settings`` for this backend: its URL and key, files under ``root_dir``, no console
        capture, no system metrics, no git, quick file_stream batches."""
        import wandb

        return wandb.Settings(
            base_url=self.url,
            api_key=self.api_key,
            root_dir=str(root_dir),
            console="off",
            silent=True,
            disable_git=True,
            x_disable_stats=True,
            x_file_stream_transmit_interval=1,
            **extra,
        )

    def api(self) -> Any:
        """A ``wandb.Api`` for this backend (one per target)."""
        if self._api is None:
            import wandb

            self._api = wandb.Api(api_key=self.api_key, overrides={"base_url": self.url}, timeout=30)
        return self._api

    def public_run(self, run_id: str, project: str | None = None) -> Any:
        """``wandb.Api().run(...)`` for a run of this target's project, read afresh."""
        api = self.api()
        api.flush()  # the Api caches runs by path
        return api.run(f"{api.default_entity}/{project or self.project}/{run_id}")

    def subprocess_env(self, root_dir: Path) -> dict[str, str]:
        """The environment for a ``wandb`` subprocess against this backend (own dirs, no telemetry).

        ``TMPDIR`` is ``root_dir/tmp`` (created): ``import wandb`` makes two temporary directories
        (``tmp*wandb-media``, ``tmp*wandb-artifacts``) that only a normal exit removes, so a child
        the suite kills would otherwise leave them in the system's temporary directory."""
        tmp = root_dir / "tmp"
        tmp.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
        env.update(
            TMPDIR=str(tmp),
            WANDB_BASE_URL=self.url,
            WANDB_API_KEY=self.api_key,
            WANDB_DIR=str(root_dir),
            WANDB_CONFIG_DIR=str(root_dir / "wandb-config"),
            WANDB_CACHE_DIR=str(root_dir / "wandb-cache"),
            WANDB_DATA_DIR=str(root_dir / "wandb-data"),
            WANDB_ERROR_REPORTING="false",
            WANDB_X_DISABLE_STATS="true",
            WANDB_DISABLE_GIT="true",
            WANDB_X_FILE_STREAM_TRANSMIT_INTERVAL="1",
            WANDB_SILENT="true",
        )
        return env

    def spawn(self, script: str, root_dir: Path, *args: str) -> subprocess.Popen[str]:
        """Start ``python -c script args...`` against this backend (stdout piped, text).

        The script runs with Python's own SIGINT handler even when pytest runs with SIGINT ignored (a
        shell's background job): the SDK stops a run it is told to stop by interrupting its main
        thread, which an ignored SIGINT turns into nothing."""
        return subprocess.Popen(
            [sys.executable, "-c", _DEFAULT_SIGINT + script, *args],
            env=self.subprocess_env(root_dir),
            cwd=root_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


#: Put first in a spawned script: Python installs its SIGINT handler only if SIGINT is not ignored.
_DEFAULT_SIGINT = "import signal as _signal; _signal.signal(_signal.SIGINT, _signal.default_int_handler); del _signal\n"


def make_target(url: str | None, api_key: str | None, project: str, control: str, served: FakeServer | None) -> Target:
    """The target for these options: ``url`` ``None`` means the embedded fake ``served``.

    Args:
        control: ``auto`` (use the control API if the URL is a pytest-runresume fake) or ``off``.

    Raises:
        ValueError: a URL without a key.
    """
    if url is None:
        assert served is not None
        return Target(
            served.url, served.api_key, project, "embedded", ModelControl(served) if control != "off" else None
        )
    url = url.rstrip("/")
    if not api_key:
        raise ValueError(f"--runresume-backend-url {url} needs --runresume-backend-key (or RUNRESUME_BACKEND_KEY)")
    ctl = HttpControl.probe(url, api_key) if control != "off" else None
    return Target(url, api_key, project, "fake" if ctl else "url", ctl)


__all__ = ["Control", "HttpControl", "ModelControl", "Target", "make_target"]
