"""Errors of the model."""

from __future__ import annotations


class RuleViolation(ValueError):
    """A request the rules refuse (an illegal state transition, R52; rewinding past the end, R47).

    The wire answers it with a GraphQL error, as the real server does, and does *not* record it as a
    problem of the test: refusing it is the documented behaviour.
    """
