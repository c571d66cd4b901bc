"""Conformance suites users run in CI.

- Entrypoint conformance (:mod:`.entrypoint`): a standard battery of preemption checks against a
  training command (``runresume check -- python train.py``, or ``--runresume-entrypoint``).
- Backend conformance (the packaged ``test_backend_*`` modules): the server-side rules checked with
  the real wandb SDK against any W&B-compatible backend URL and key, or the embedded fake.

The names below are imported on first use (PEP 562): this package's pytest plugin loads in every
pytest session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .checks import CHECKS, Check
    from .entrypoint import CheckResult, EntrypointBattery, junit_xml, render_details, render_table

_EXPORTS = {
    "CHECKS": ".checks",
    "Check": ".checks",
    "CheckResult": ".entrypoint",
    "EntrypointBattery": ".entrypoint",
    "junit_xml": ".entrypoint",
    "render_details": ".entrypoint",
    "render_table": ".entrypoint",
}

__all__ = [
    "CHECKS",
    "Check",
    "CheckResult",
    "EntrypointBattery",
    "junit_xml",
    "render_details",
    "render_table",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
