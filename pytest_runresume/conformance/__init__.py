"""Conformance suites users run in CI.

- Entrypoint conformance (:mod:`.entrypoint`): a standard battery of preemption checks against a
  training command (``runresume check -- python train.py``, or ``--runresume-entrypoint``).
- Backend conformance (the packaged ``test_backend_*`` modules): the server-side rules checked with
  the real wandb SDK against any W&B-compatible backend URL and key, or the embedded fake.
"""

from .entrypoint import CHECKS, Check, CheckResult, EntrypointBattery, junit_xml, render_details, render_table

__all__ = ["CHECKS", "Check", "CheckResult", "EntrypointBattery", "junit_xml", "render_details", "render_table"]
