"""The network guard inside a Python process under test: an audit hook on its socket calls. Standard
library only; installed by ``sitecustomize.py`` beside it.

``sys.addaudithook`` sees every ``socket.connect``/``connect_ex``, ``sendto``, ``sendmsg`` and name
lookup (``getaddrinfo``, ``gethostbyname``, ``gethostbyaddr`` ...) of the process before it
happens. A destination other than loopback - an address outside ``127.0.0.0/8`` and ``::1``, or a
host name other than ``localhost`` and this machine's own name (``0.0.0.0`` and ``::`` are this
host too) - is refused on the spot: the call
raises (``ENETUNREACH``, or ``gaierror`` for a lookup) before any byte or DNS query leaves, whether
or not the command runs in a network namespace of its own, and the attempt is reported to the
harness (``report``: one event per destination), which fails the test naming it.

What is not Python (wandb-core, ``curl``) or bypasses the hook (``ctypes``, ``python -I``) is only
stopped by the network namespace, where the machine has them.
"""

import errno
import ipaddress
import socket
import sys
import threading

#: Event name of a refused attempt (``{"event": "network", "host", "port", "method"}``).
EV_NETWORK = "network"

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_busy = threading.local()


def _own_names():
    names = set(_LOCAL_NAMES)
    try:
        names.add(socket.gethostname().lower())
    except OSError:
        pass
    return names


def _is_loopback_address(host):
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None  # not an address: a name
    address = getattr(address, "ipv4_mapped", None) or address  # ::ffff:127.0.0.1
    return address.is_loopback or address.is_unspecified  # 0.0.0.0 and :: mean this host


def _is_local(host, names):
    """Whether ``host`` (an address or a name, str or bytes) stays on this machine."""
    if host is None:
        return True  # a passive lookup (bind to any address)
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip().rstrip(".").lower()
    if host == "" or host.endswith(".localhost"):
        return True
    loopback = _is_loopback_address(host)
    if loopback is not None:
        return loopback
    return host in names


def _destination(event, args):
    """``(host, port, method)`` of an audited socket call that leaves this machine, else ``None``."""
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, address = args[0], args[1]
        family = getattr(sock, "family", None)
        if family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple) or len(address) < 2:
            return None  # a Unix socket (the harness's, wandb-core's), or a connected socket's send
        kind = "UDP" if getattr(sock, "type", None) == socket.SOCK_DGRAM else "TCP"
        method = {"socket.connect": f"{kind} connect"}.get(event, f"{kind} {event.split('.')[1]}")
        return address[0], address[1], method
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        host = args[0].decode("ascii", "replace") if isinstance(args[0], bytes) else args[0]
        if isinstance(host, str) and _is_loopback_address(host) is not None:
            return None  # an address: no query is sent (the connect to it is what is checked)
        return host, args[1] if event == "socket.getaddrinfo" else 0, "DNS lookup"
    if event == "socket.gethostbyaddr":
        return args[0], 0, "reverse DNS lookup"
    return None


def install(report):
    """Refuse and report every socket call of this process to a host other than loopback.

    Args:
        report: called as ``report(host=..., port=..., method=...)`` for each destination, once.
    """
    names = _own_names()
    seen = set()

    def hook(event, args):
        if not event.startswith("socket.") or getattr(_busy, "on", False):
            return
        found = _destination(event, args)
        if found is None or _is_local(found[0], names):
            return
        host, port, method = found
        host = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
        try:
            port = int(port or 0)
        except (TypeError, ValueError):
            port = 0  # a service name ("http")
        key = (host, port, method)
        if key not in seen:
            seen.add(key)
            _busy.on = True  # the report itself connects (to the harness's Unix socket)
            try:
                report(host=host, port=port, method=method)
            finally:
                _busy.on = False
        text = f"pytest-runresume network guard: {method} to {host}:{port} refused (only loopback is reachable)"
        if "DNS" in method:
            raise socket.gaierror(socket.EAI_NONAME, text)
        raise OSError(errno.ENETUNREACH, text)

    sys.addaudithook(hook)
