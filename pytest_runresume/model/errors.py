"""Errors of the model."""

from __future__ import annotations


class RuleViolation(ValueError):
    """A request the rules refuse (an illegal state transition, R52; rewinding past the end, R47).

    The wire answers it with a GraphQL error, as the real server does, and does *not* record it as a
    problem of the test: refusing it is the documented behaviour.
    """


class LimitExceeded(ValueError):
    """A request that would make the backend hold more than one of its limits allows
    (:class:`~.limits.Limits`). Nothing of the request was applied.

    Attributes:
        limit: the name of the limit (``max_run_bytes`` ...), as ``Limits`` and the docs spell it.
        kind: ``"gap"`` for offsets too far past the data (a malformed request), ``"storage"`` for
            more data than the backend keeps.
    """

    def __init__(self, message: str, limit: str, kind: str = "storage") -> None:
        super().__init__(message)
        self.limit = limit
        self.kind = kind
