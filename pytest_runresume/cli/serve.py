"""``runresume serve``: the fake W&B backend for manual work, until Ctrl+C (SIGINT) or SIGTERM."""

from __future__ import annotations

import re
import shlex
import signal
import threading
from dataclasses import fields
from types import FrameType

import click

from ..model import Limits, Model
from ..wire import FakeServer
from ..wire.limits import SECONDS, WireLimits


def check_key(key: str) -> str:
    """The key, if the wandb SDK accepts its format (40+ word characters after an optional
    ``prefix-``, as ``wandb.sdk.lib.wbauth.validation.check_api_key`` wants).

    Raises:
        click.BadParameter: saying why the SDK would refuse it.
    """
    secret = key.split("-", 1)[-1]
    if not re.fullmatch(r"[\w-]+", secret) or len(secret) < 40:
        raise click.BadParameter(
            f"the wandb SDK refuses API keys that are not 40+ letters, digits or underscores (got {len(secret)})",
            param_hint="--key",
        )
    return key


def parse_limits(values: tuple[str, ...]) -> tuple[Limits, WireLimits]:
    """``--limit NAME=VALUE`` options as the model's and the wire's limits (``docs/limits.md``).

    Raises:
        click.BadParameter: an unknown name, or a value that is not a number the limit takes.
    """
    model = {f.name for f in fields(Limits)}
    wire = {f.name for f in fields(WireLimits)}
    changes: dict[str, dict[str, int | float]] = {"model": {}, "wire": {}}
    for item in values:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in model | wire:
            raise click.BadParameter(
                f"{item!r}: expected NAME=VALUE with NAME one of {', '.join(sorted(model | wire))}",
                param_hint="--limit",
            )
        try:
            value: int | float = float(text) if name in SECONDS else int(text.replace("_", ""))
        except ValueError:
            raise click.BadParameter(f"{item!r}: {text!r} is not a number", param_hint="--limit") from None
        changes["model" if name in model else "wire"][name] = value
    try:
        return Limits().replace(**changes["model"]), WireLimits().replace(**changes["wire"])
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--limit") from None


def env_lines(served: FakeServer) -> list[str]:
    """``export NAME=value`` lines for a POSIX shell."""
    return [f"export {name}={shlex.quote(value)}" for name, value in served.env().items()]


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0 picks a free port")
@click.option("--key", help="the API key clients must send (default: 40 random hex characters)")
@click.option(
    "--crash-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=300.0,
    show_default=True,
    help="seconds without a request before a run counts as crashed (R61)",
)
@click.option(
    "--limit",
    "limits",
    multiple=True,
    metavar="NAME=VALUE",
    help="set one of the server's limits, e.g. --limit max_body=1048576 --limit read_timeout=30 (see docs/limits.md)",
)
def serve(port: int, key: str | None, crash_timeout: float, limits: tuple[str, ...]) -> None:
    """Start the fake W&B backend on 127.0.0.1 and print the environment lines to export.

    Runs are shown at http://127.0.0.1:PORT/ (the page refreshes itself; on loopback it needs no
    key). Ctrl+C stops the server.
    """
    if key is not None:
        check_key(key)
    model_limits, wire_limits = parse_limits(limits)
    served = FakeServer(
        Model(crash_timeout=crash_timeout, limits=model_limits), api_key=key, port=port, limits=wire_limits
    ).start()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for line in env_lines(served):
            click.echo(line)
        click.echo(f"# runs: {served.url}/  (Ctrl+C stops the server)")
        while not stop.wait(0.5):
            pass
    finally:
        served.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    click.echo("# stopped", err=True)
