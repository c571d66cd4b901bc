"""Settings of the plugin, their help texts, and where a value comes from.

Precedence: marker > command line > environment > ini > default. Help texts are constants reused
by the CLI, the ini registration and the docs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class Setting:
    """One setting: ini name, ``--`` option, environment variable, default, parser, help."""

    name: str
    env: str
    default: str
    parse: Callable[[str], Any]
    help: str

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError(f"must be > 0, got {text!r}")
    return value


def _signal(text: str) -> Any:
    from ..harness.signals import parse_signal

    return parse_signal(text)


SETTINGS = {
    s.name: s
    for s in (
        Setting(
            "runresume_signal",
            "RUNRESUME_SIGNAL",
            "SIGUSR1",
            _signal,
            "default preemption signal for @pytest.mark.preempt (name or number)",
        ),
        Setting(
            "runresume_timeout",
            "RUNRESUME_TIMEOUT",
            "120",
            _positive,
            "seconds a command under test may run before it and its tree are killed",
        ),
        Setting(
            "runresume_crash_timeout",
            "RUNRESUME_CRASH_TIMEOUT",
            "300",
            _positive,
            "seconds without a heartbeat before the fake backend marks a run crashed (R61)",
        ),
    )
}


def add_options(parser: pytest.Parser, settings: Mapping[str, Setting] = SETTINGS) -> None:
    """Register every setting as an ini key and a command-line option."""
    group = parser.getgroup("runresume", "W&B run-resume harness (pytest-runresume)")
    for s in settings.values():
        group.addoption(s.option, dest=s.name, default=None, help=f"{s.help} (env {s.env}; default {s.default})")
        parser.addini(s.name, help=s.help, default=None)


def resolve(config: pytest.Config, name: str, settings: Mapping[str, Setting] = SETTINGS) -> Any:
    """The value of a setting from the command line, the environment, the ini file or the default.

    Raises:
        pytest.UsageError: naming the setting and where the bad value came from.
    """
    s = settings[name]
    for source, raw in (
        (f"command-line option {s.option}", config.getoption(s.name)),
        (f"environment variable {s.env}", os.environ.get(s.env)),
        (f"ini key {s.name}", config.getini(s.name)),
        ("default", s.default),
    ):
        if raw not in (None, ""):
            try:
                return s.parse(str(raw))
            except ValueError as exc:
                raise pytest.UsageError(f"bad value {raw!r} for {s.name} from {source}: {exc}") from None
    raise AssertionError("unreachable: every setting has a default")
