"""Each rule's status in this package, beside the rules table (:mod:`pytest_runresume.rules`, which
is generated from ``rules.md``; this module is written by hand):

- ``modelled``: the package does what the rule says: the fake decides it (server side), answers what
  the client or the agent needs to decide it (the real SDK's tests show it), or the harness checks
  the user's side;
- ``other reading``: the rule is one side of a contradiction (A01-A14 of ``rules.md``) and the fake
  follows another reading by default (``docs/contradictions.md``);
- ``not modelled``: the package neither does nor checks it.

Every rule that is not ``modelled`` has a note saying why. ``runresume rules`` shows the status
beside the tags (``docs/rules.md``).
"""

from __future__ import annotations

from .rules import BY_ID

MODELLED = "modelled"
OTHER_READING = "other reading"
NOT_MODELLED = "not modelled"
#: The statuses, in the order the summaries count them.
STATUSES = (MODELLED, OTHER_READING, NOT_MODELLED)

#: The rules that are not ``modelled``: id -> (status, why).
EXCEPTIONS: dict[str, tuple[str, str]] = {
    "R14": (
        OTHER_READING,
        "A02: as the SDK and the real server do, an existing id without `resume` is upserted into and its "
        'history appended to (`unset_resume="append"`); S5\'s new run is `unset_resume="overwrite"`',
    ),
    "R17": (NOT_MODELLED, "A11: a docs example that cannot work; nothing for the package to do"),
    "R20": (
        OTHER_READING,
        'A05: the fake follows the SDK (`run_id_rules="sdk"`): no 64-character limit, no conversion to dashes',
    ),
    "R32": (NOT_MODELLED, "the SDK drops the id inside a sweep by itself; no test runs a sweep script with an id"),
    "R33": (NOT_MODELLED, "the SDK's default; the fake stores the steps it is sent and no test checks it alone"),
    "R49": (NOT_MODELLED, "advice to the user; nothing to check"),
    "R50": (
        OTHER_READING,
        'A01: the fake also reports `preempting` and `preempted` (R51); `preempting_state="running"` keeps '
        "a live run in the six-state list",
    ),
    "R78": (NOT_MODELLED, "A12: the agent's Ctrl+C cascade is not exercised"),
    "R79": (NOT_MODELLED, "the agent's `--term-timeout` is not exercised"),
    "R83": (
        OTHER_READING,
        "A03: a running sweep hands out requeued runs without `--resume`, which only un-pauses a sweep (S11, S13)",
    ),
    "R84": (
        NOT_MODELLED,
        "each queued run goes to exactly one agent, under the model's lock: the race W&B calls a known "
        "limitation does not happen",
    ),
    "R92": (
        OTHER_READING,
        "A03: as in the SDK, a requeued sweep run resumes when the script passes `resume=` with the agent's id",
    ),
    "R93": (NOT_MODELLED, "advice on distributed training; the shared mode it offers is modelled on its own"),
    "R97": (NOT_MODELLED, "no ordering guarantee: the fake keeps the order it receives; nothing to check"),
}


def status_of(rule_id: str) -> str:
    """The rule's status: ``modelled``, ``other reading`` or ``not modelled``.

    Raises:
        KeyError: ``rule_id`` is not a rule.
    """
    if rule_id not in BY_ID:
        raise KeyError(f"{rule_id!r} is not a rule id")
    return EXCEPTIONS.get(rule_id, (MODELLED, ""))[0]


def note_of(rule_id: str) -> str:
    """Why a rule is not ``modelled`` (``""`` for a modelled one)."""
    return EXCEPTIONS.get(rule_id, (MODELLED, ""))[1]


__all__ = ["EXCEPTIONS", "MODELLED", "NOT_MODELLED", "OTHER_READING", "STATUSES", "note_of", "status_of"]
