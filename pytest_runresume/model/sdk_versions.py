"""What the wandb SDK does differently from release to release (docs/sdk-versions.md).

The fake answers every supported release; where the SDK itself behaves differently (not the
server), the tests ask this module what the installed release does, and the reference model what
the release of each process does (``Attempt.sdk_version``, sent by the SDK as
``_wandb.cli_version``; :func:`assumed` when a process did not say). Each
fact names the rule it bends and the releases it holds for; ``docs/sdk-versions.md`` has one row
per fact. Stdlib only, no import of the rest of the package.

Versions are ``(major, minor, patch)`` tuples of ints; :func:`parse_version` makes one from the
package version string (``"0.28.2"``; a pre-release suffix such as ``"0.32.0rc1"`` counts as that
release).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata

Version = tuple[int, int, int]

#: The oldest release the package supports (pyproject's ``wandb`` extra: ``wandb>=0.19.11,<0.32``).
OLDEST_SUPPORTED: Version = (0, 19, 11)
#: The first release past the supported range.
FIRST_UNSUPPORTED: Version = (0, 32, 0)
#: The latest patch of each supported minor, newest first: the releases the CI matrix runs
#: (``noxfile.py``, ``SDK_VERSIONS``).
SUPPORTED_SDKS: tuple[str, ...] = (
    "0.31.0",
    "0.30.0",
    "0.29.0",
    "0.28.2",
    "0.27.2",
    "0.26.1",
    "0.25.1",
    "0.24.2",
    "0.23.1",
    "0.22.3",
    "0.21.4",
    "0.20.1",
    "0.19.11",
)

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


class UnknownSDKVersion(ValueError):
    """A version string that does not start with ``MAJOR.MINOR`` (``"latest"``, ``""``)."""


def parse_version(text: str) -> Version:
    """``"0.28.2"`` -> ``(0, 28, 2)``; ``"0.19"`` -> ``(0, 19, 0)``; a suffix (``rc1``, ``.dev0``) is ignored.

    Raises:
        UnknownSDKVersion: ``text`` does not start with ``MAJOR.MINOR``.
    """
    match = _VERSION.match(text.strip())
    if match is None:
        raise UnknownSDKVersion(f"not a wandb version: {text!r} (expected MAJOR.MINOR[.PATCH])")
    return int(match[1]), int(match[2]), int(match[3] or 0)


def installed_sdk() -> Version | None:
    """The version of the ``wandb`` distribution installed in this interpreter, ``None`` without one."""
    try:
        return parse_version(metadata.version("wandb"))
    except metadata.PackageNotFoundError:
        return None


def assumed(sdk: Version | None) -> Version:
    """The release the model assumes for a process that said ``sdk``: ``sdk`` itself; for one that
    did not say (``None``), the installed release, else the newest supported one."""
    if sdk is not None:
        return sdk
    return installed_sdk() or parse_version(SUPPORTED_SDKS[0])


def is_supported(sdk: Version) -> bool:
    """Whether ``sdk`` is in the supported range (:data:`OLDEST_SUPPORTED` <= sdk < :data:`FIRST_UNSUPPORTED`)."""
    return OLDEST_SUPPORTED <= sdk < FIRST_UNSUPPORTED


@dataclass(frozen=True)
class SDKFact:
    """One behaviour of the SDK that changed at a release (a row of docs/sdk-versions.md).

    Attributes:
        name: the fact's key (``"summary_step_resume_plus_one"``), what :func:`has` takes.
        rule: the rule it bends (``"R35"``).
        since: the first release that behaves the new way; older ones behave the old way.
        new: what releases from ``since`` on do.
        old: what older releases do.
        first_affected: for a behaviour that was right, broke and was fixed again: the first release
            that behaves the old way (older ones behave the new way too). ``None``: every release
            before ``since``.
    """

    name: str
    rule: str
    since: Version
    new: str
    old: str
    first_affected: Version | None = None

    def holds(self, sdk: Version) -> bool:
        """Whether release ``sdk`` behaves the new way."""
        return sdk >= self.since or (self.first_affected is not None and sdk < self.first_affected)


#: Every version-dependent behaviour the tests and the model know, found by running the CI matrix
#: (the latest patch of each minor) and reading the SDK's source of the neighbouring releases.
FACTS: tuple[SDKFact, ...] = (
    SDKFact(
        "summary_step_resume_plus_one",
        "R35",
        (0, 31, 0),
        "a run with no history lines but a summary `_step` N resumes at N + 1",
        "it resumes at N (the summary's `_step` is taken as the next step)",
    ),
    SDKFact(
        "events_and_output_continue_on_resume",
        "R36",
        (0, 28, 1),
        "a resumed process writes `wandb-events.jsonl` and `output.log` after the stored lines",
        "a resumed process writes system metrics and output from offset 0 again, over the old lines "
        "(the fake notes each overwritten events line in the run's timeline, as this release's doing)",
        first_affected=(0, 20, 0),
    ),
    SDKFact(
        "run_id_checked_in_client",
        "R31",
        (0, 21, 0),
        "a run id with a reserved character (`:;,#?/'`) raises `UsageError` before any request",
        "the id is sent; the server refuses `UpsertBucket` and init raises `CommError`",
    ),
    SDKFact(
        "no_run_files_after_refused_init",
        "R02",
        (0, 22, 0),
        "after a refused init the SDK sends nothing more",
        "it still asks `CreateRunFiles` for the run it never made (the wire records a problem)",
    ),
    SDKFact(
        "notes_read_on_resume",
        "R38",
        (0, 21, 0),
        "on resume `run.notes` is the stored notes (`RunResumeStatus` asks for `notes`)",
        "`run.notes` is None after a resume; the server keeps the notes",
    ),
    SDKFact(
        "run_create_state",
        "R53",
        (0, 20, 0),
        "`Run.create(..., state=)` takes `pending`/`running`",
        "`Run.create` has no `state` (TypeError): the pending run is made on the server side",
    ),
    SDKFact(
        "run_update_state",
        "R52",
        (0, 24, 0),
        "`wandb.Api().run(path).update_state(state)` exists",
        "no `Run.update_state` (AttributeError)",
    ),
    SDKFact(
        "run_stop",
        "R58",
        (0, 28, 0),
        "`wandb.Api().run(path).stop()` sends `StopRun`",
        "no `Run.stop` (AttributeError); a run is stopped from the app (the SDK still obeys)",
    ),
)

_BY_NAME = {fact.name: fact for fact in FACTS}


def fact(name: str) -> SDKFact:
    """The :class:`SDKFact` called ``name``.

    Raises:
        KeyError: no fact has that name (the message lists the known ones).
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no SDK fact {name!r}; known: {sorted(_BY_NAME)}") from None


def has(name: str, sdk: Version | None = None) -> bool:
    """Whether release ``sdk`` (default: the installed one) behaves the new way of fact ``name``.

    Raises:
        KeyError: an unknown fact.
        RuntimeError: ``sdk`` is omitted and no wandb is installed.
    """
    chosen = fact(name)
    if sdk is None:
        sdk = installed_sdk()
        if sdk is None:
            raise RuntimeError("wandb is not installed: pass the SDK version")
    return chosen.holds(sdk)
