"""The file_stream interval the harness gives wandb-core (``harness/sdk_env.py``)."""

from __future__ import annotations

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
    sdk_env.file_stream_transmit_interval.cache_clear()
    monkeypatch.setattr("importlib.metadata.version", lambda name: "0.31.0")
    value = sdk_env.file_stream_transmit_interval()
    sdk_env.file_stream_transmit_interval.cache_clear()
    assert float(value) == int(value)  # the SDK's settings read it as a number: exact as a float
    assert 0.019 < _go_duration_seconds(value) <= 0.02


@pytest.mark.parametrize("installed", ["0.30.0", "0.19.11", None])
def test_any_other_wandb_gets_one_second(monkeypatch: pytest.MonkeyPatch, installed: str | None) -> None:
    from importlib.metadata import PackageNotFoundError

    def version(name: str) -> str:
        if installed is None:
            raise PackageNotFoundError(name)
        return installed

    sdk_env.file_stream_transmit_interval.cache_clear()
    monkeypatch.setattr("importlib.metadata.version", version)
    value = sdk_env.file_stream_transmit_interval()
    sdk_env.file_stream_transmit_interval.cache_clear()
    assert value == "1" and _go_duration_seconds(value) == 1.0
