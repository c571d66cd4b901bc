"""The file_stream interval and retry waits the harness gives wandb-core (``harness/sdk_env.py``)."""

from __future__ import annotations

import json
import sys

import pytest

from pytest_runresume.harness import sdk_env


def _go_duration_seconds(value: str) -> float:
    """What wandb-core makes of the setting: ``time.Second * time.Duration(value)`` in Go's int64,
    which wraps on overflow (two's complement)."""
    product = (int(value) * 1_000_000_000) % 2**64
    if product >= 2**63:
        product -= 2**64
    return product / 1e9


def test_with_wandb_0_31_0_the_interval_wraps_to_twenty_milliseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    sdk_env.shortest_seconds.cache_clear()
    monkeypatch.setattr("importlib.metadata.version", lambda name: "0.31.0")
    value = sdk_env.file_stream_transmit_interval()
    sdk_env.shortest_seconds.cache_clear()
    assert float(value) == int(value)  # the SDK's settings read it as a number: exact as a float
    assert 0.019 < _go_duration_seconds(value) <= 0.02


@pytest.mark.parametrize("installed", ["0.30.0", "0.19.11", None])
def test_any_other_wandb_gets_one_second(monkeypatch: pytest.MonkeyPatch, installed: str | None) -> None:
    from importlib.metadata import PackageNotFoundError

    def version(name: str) -> str:
        if installed is None:
            raise PackageNotFoundError(name)
        return installed

    sdk_env.shortest_seconds.cache_clear()
    monkeypatch.setattr("importlib.metadata.version", version)
    value = sdk_env.file_stream_transmit_interval()
    sdk_env.shortest_seconds.cache_clear()
    assert value == "1" and _go_duration_seconds(value) == 1.0


def test_retry_waits_take_the_shortest_wait_for_graphql_file_stream_and_uploads() -> None:
    waits = sdk_env.retry_waits()
    assert set(waits) == {
        "WANDB_X_GRAPHQL_RETRY_WAIT_MIN_SECONDS",
        "WANDB_X_FILE_STREAM_RETRY_WAIT_MIN_SECONDS",
        "WANDB_X_FILE_TRANSFER_RETRY_WAIT_MIN_SECONDS",
    }
    assert set(waits.values()) == {sdk_env.shortest_seconds()}
    assert _go_duration_seconds(sdk_env.shortest_seconds()) > 0  # a fraction would truncate to 0: the 2 s default


def test_every_command_the_harness_runs_gets_the_retry_waits(harness) -> None:
    """A caller's own ``WANDB_*`` variables are dropped (the harness's env); the waits are set."""
    show = "import json, os; print(json.dumps({k: v for k, v in os.environ.items() if 'RETRY_WAIT' in k}))"
    result = harness.run([sys.executable, "-c", show])
    assert json.loads(result.stdout.strip().splitlines()[-1]) == sdk_env.retry_waits(), result.report()
