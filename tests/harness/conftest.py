"""Fixtures shared by the harness tests: one served backend per module, a harness per test with a
short grace period (1 s) so left-over processes are killed quickly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_runresume import Harness
from pytest_runresume.wire import FakeServer


@pytest.fixture(scope="module")
def served() -> Iterator[FakeServer]:
    with FakeServer() as s:
        yield s


@pytest.fixture
def harness(served: FakeServer, tmp_path: Path) -> Harness:
    served.reset()
    return Harness(served, tmp_path, timeout=60, grace=1.0)
