"""The entrypoint battery's checks as data: names, what each asserts, the rules each checks.

Kept apart from the battery (:mod:`.entrypoint`) so the pytest plugin can validate check names in
every session without loading the harness and the server.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One check of the battery: its name, what it asserts, the rules it checks."""

    name: str
    title: str
    rules: tuple[str, ...]


CHECKS: tuple[Check, ...] = (
    Check("finishes", "completes -> finished, exit 0, not requeueable", ("R55", "R66", "R70a")),
    Check(
        "preempted",
        "preemption signal after step N -> preempted, exit 128+signum, requeueable",
        ("R65", "R66", "R67", "R68", "R70e", "R71"),
    ),
    Check(
        "resumed",
        "restart with the same id -> resumed at the last step + 1, each step once, finished",
        ("R03", "R18", "R21", "R28", "R35", "R36", "R41"),
    ),
    Check(
        "crashed",
        "SIGKILL after step N -> running, then crashed once the clock passes the timeout",
        ("R60", "R61", "R63", "R70c"),
    ),
    Check(
        "restarted_after_kill",
        "SIGKILL after step N, then the same command again -> the same run resumed, each step once, finished",
        ("R21", "R28", "R35", "R36", "R63", "R73"),
    ),
    Check(
        "failed",
        "an exception after step N -> failed, not preempted, not requeueable",
        ("R55", "R57", "R66", "R69", "R70b"),
    ),
    Check("auto_same_dir", 'resume="auto": a restart in the same directory resumes the run', ("R07", "R09", "R10")),
    Check("auto_other_dir", 'resume="auto": a start in another directory makes a new run', ("R09", "R12", "R21")),
)
BY_NAME = {c.name: c for c in CHECKS}
