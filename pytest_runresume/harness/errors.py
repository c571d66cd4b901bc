"""Errors the harness raises. Each names what went wrong and carries the output to show."""

from __future__ import annotations


class HarnessError(AssertionError):
    """Base class: a harness failure is a test failure (an ``AssertionError``)."""


class SubprocessHung(HarnessError):
    """The process under test did not exit within its timeout; it and its tree were killed."""


class TriggerNotReached(HarnessError):
    """The process exited before it reached the trigger point, so no signal was sent."""


class SignalNotDelivered(HarnessError):
    """A signal could not be delivered (the process had already exited, or no such process)."""


class ExpectationFailed(HarnessError):
    """The run did not end as a marker or a call expected (state, exit code, requeue)."""
