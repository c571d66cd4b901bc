"""How the harness keeps the command under test off the network: its mode, the ports it relays, and
the line the failure report shows. See ``docs/network.md``.

Two layers, both on by default:

- **a network namespace** (Linux, where the process may make one): the command runs with only
  loopback; the fake W&B backend's port and the proxy guard's port are relayed into it
  (``_netns.py``). Raw TCP, UDP, DNS and clients that ignore the proxy variables reach nothing.
- **the proxy guard** (:mod:`.netguard`) and, in every Python process of the command, an audit hook
  on its socket calls (``_child/_runresume_netguard.py``): every attempt to reach another host is
  refused and recorded as a backend problem naming it, so the test fails at teardown.

Where namespaces are unavailable (another OS, a container without the privilege, user namespaces
disabled) the command runs without one and the report says so, with the reason.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._netns import Connector
from .errors import HarnessError
from .netguard import BlockedConnection, guard_for

#: Environment variable choosing the mode when the harness is not told (``Harness(network=...)``).
NETWORK_ENV = "RUNRESUME_NETWORK"
#: ``auto``: a namespace where the machine allows it, else the proxy guard alone (the default);
#: ``namespace``: a namespace or the run fails (:class:`~.errors.HarnessError`) naming why not;
#: ``proxy``: never a namespace (the fallback, forced).
NETWORK_MODES = ("auto", "namespace", "proxy")
#: The status event of the supervisor saying which guard a command ran under.
GUARD_EVENT = "network-guard"
#: The event of the hook in a Python process naming a refused destination.
ATTEMPT_EVENT = "network"
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
import _netns
try:
    _netns.unshare_network()
except OSError as exc:
    print(exc.strerror or exc)
"""


@functools.lru_cache(maxsize=1)
def namespace_unavailable() -> str:
    """``""`` if this process may run commands in a network namespace of their own, else why not
    (``unshare(CLONE_NEWNET|CLONE_NEWUSER): Operation not permitted``). Asked once per process, in a
    throw-away child (the same steps as the supervisor's)."""
    if not sys.platform.startswith("linux"):
        return f"not Linux ({sys.platform})"
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _PROBE, str(Path(__file__).resolve().parent)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"the probe did not run: {exc}"
    if done.returncode != 0:
        return f"the probe failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}"
    return done.stdout.strip()


def resolve_mode(value: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The network mode: ``value`` if given, else ``$RUNRESUME_NETWORK``, else ``auto``.

    Raises:
        ValueError: naming the value and where it came from when it is not one of
            :data:`NETWORK_MODES`.
    """
    source = "network="
    if value is None:
        value = (os.environ if environ is None else environ).get(NETWORK_ENV) or "auto"
        source = f"${NETWORK_ENV}="
    mode = value.strip().lower()
    if mode not in NETWORK_MODES:
        raise ValueError(f"{source}{value!r} is not a network mode; expected one of {', '.join(NETWORK_MODES)}")
    return mode


def relay_ports(served: Any) -> tuple[list[int], str]:
    """The loopback ports a namespace must relay for ``served`` (the fake's, the proxy guard's), or
    ``([], why)`` when the fake does not listen on loopback (no namespace can reach it then)."""
    parts = urlsplit(served.url)
    if parts.hostname not in _LOOPBACK_HOSTS or parts.port is None:
        return [], f"the fake W&B backend listens on {parts.hostname}, not loopback"
    guard = urlsplit(guard_for(served).url)
    return [parts.port, int(guard.port or 0)], ""


def connector_for(served: Any, mode: str, chosen_by: str) -> tuple[Connector | None, list[str], dict[str, Any] | None]:
    """What a command run against ``served`` in network ``mode`` needs: the connector that relays the
    fake's and the proxy guard's ports into its namespace and the supervisor's ``--network``
    option; or, without a namespace, the :data:`GUARD_EVENT` detail saying why (``chosen_by``: the
    setting that forced ``proxy``, e.g. ``RUNRESUME_NETWORK=proxy``).

    Raises:
        HarnessError: ``mode`` is ``namespace`` and the fake does not listen on loopback.
    """
    if mode == "proxy":
        return None, [], {"event": "network", "mode": "proxy", "forced": True, "reason": chosen_by}
    ports, why = relay_ports(served)
    if not ports:
        if mode == "namespace":
            raise HarnessError(f"no network namespace is possible: {why}")
        return None, [], {"event": "network", "mode": "proxy", "reason": why}
    connector = Connector(ports)
    return connector, ["--network", f"{connector.peer.fileno()}:{','.join(map(str, ports))}:{mode}"], None


def record_attempt(served: Any, detail: Mapping[str, Any], t: float) -> None:
    """Record a destination the hook refused inside the command as the proxy guard records a host:
    in ``guard.blocked`` and as a backend problem naming it (``messages.NETWORK_BLOCKED``)."""
    try:
        port = int(detail.get("port") or 0)
    except (TypeError, ValueError):
        port = 0
    host, method = str(detail.get("host") or "?")[:255], str(detail.get("method") or "?")[:40]
    guard_for(served).record(BlockedConnection(host, port, method, t))


def describe(detail: Mapping[str, Any] | None) -> str:
    """The report line for the supervisor's :data:`GUARD_EVENT` of a run (``None``: not known)."""
    if detail is None:
        return "network guard: not reported by the supervisor"
    hook = "the socket hook in Python processes"
    if detail.get("mode") == "namespace":
        ports = [int(p) for p in detail.get("ports") or []]
        relayed = ", ".join(f"127.0.0.1:{p}" for p in ports)
        return f"network guard: network namespace (loopback only; relayed: {relayed}), proxy variables, {hook}"
    reason = detail.get("reason") or "?"
    if detail.get("forced"):
        return f"network guard: proxy variables only (network namespace off: {reason}), plus {hook}"
    return f"network guard: proxy variables only (network namespaces unavailable: {reason}), plus {hook}"
