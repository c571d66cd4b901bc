"""Entrypoint conformance as pytest tests: the battery of :mod:`.entrypoint` against the command in
``--runresume-entrypoint`` (ini ``runresume_entrypoint``, env ``RUNRESUME_ENTRYPOINT``), one test per
check. Skipped when no command is given.

    pytest --pyargs pytest_runresume.conformance.test_entrypoint --runresume-entrypoint "python train.py"
"""

from __future__ import annotations

import pytest

from .entrypoint import CHECKS


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "entrypoint_check" in metafunc.fixturenames:
        from .plugin import entrypoint_checks

        only = entrypoint_checks(metafunc.config)
        metafunc.parametrize(
            "entrypoint_check",
            [
                pytest.param(c.name, marks=pytest.mark.runresume_rules(*c.rules), id=c.name)
                for c in CHECKS
                if only is None or c.name in only
            ],
        )


def test_entrypoint(runresume_entrypoint_battery, entrypoint_check):
    """One check of the battery (R55-R71 and the resume rules it names)."""
    result = runresume_entrypoint_battery.run_check(entrypoint_check)
    if result.status == "skipped":
        pytest.skip(result.reason)
    if result.status == "failed":
        pytest.fail(f"{result.check.title}: {result.reason}\n{result.details}", pytrace=False)
