"""A network namespace for the command under test: loopback only, a few host ports relayed into it.

Standard library only; Linux. Used by the supervisor (``_supervisor.py``) before it starts the
command, and by the harness (:class:`Connector`, in the host's namespace).

:func:`unshare_network` moves the calling thread - the supervisor's main thread, before it starts
any other - into a new network namespace (``unshare(CLONE_NEWNET)`` through ``ctypes``, so Python
3.10 works; with ``CLONE_NEWUSER`` too, the current uid and gid mapped to themselves, when the
process may not create one alone) and brings ``lo`` up. Every process the command starts lives
there: it reaches nothing but its own loopback, so a raw TCP connect, a UDP datagram or a DNS
query to another host fails at once with ``ENETUNREACH`` and no byte leaves the machine.

:class:`Relay` then listens on ``127.0.0.1:PORT`` inside the namespace for each allowed port (the
fake W&B backend's, the proxy guard's) and copies bytes both ways between each connection and a
socket connected to the same port in the host's namespace. A socket keeps the namespace it was
created in, so that socket comes from the harness: the supervisor asks the harness's
:class:`Connector` over a socket pair for one connection to an allowed port, and the connector
connects and hands the connected socket back (``SCM_RIGHTS``). The connector refuses any other
port, so nothing inside the namespace can reach another host port through it.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
import threading

CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
LOOPBACK = "127.0.0.1"
#: Connections relayed at once per command; more are closed at once (a client sees a reset).
MAX_CONNECTIONS = 256
_CHUNK = 65536


class NamespaceUnavailable(OSError):
    """The network namespace could not be made (the text says which step failed and why)."""


def unshare_network() -> None:
    """Move the calling thread (and the processes it starts afterwards) into a new network namespace
    with ``lo`` up. Must be called before the process starts a thread (``CLONE_NEWUSER`` needs a
    single-threaded process).

    Raises:
        NamespaceUnavailable: naming the step that failed (``unshare(CLONE_NEWNET)``: Operation not
            permitted ...).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    attempts = [CLONE_NEWNET] if uid == 0 else []
    attempts.append(CLONE_NEWNET | CLONE_NEWUSER)
    failure = ""
    for flags in attempts:
        if libc.unshare(flags) == 0:
            if flags & CLONE_NEWUSER:
                _map_ids(uid, gid)
            _loopback_up()
            return
        code = ctypes.get_errno()
        name = "CLONE_NEWNET|CLONE_NEWUSER" if flags & CLONE_NEWUSER else "CLONE_NEWNET"
        failure = f"unshare({name}): {os.strerror(code)}"
    raise NamespaceUnavailable(errno.EPERM, failure)


def _map_ids(uid: int, gid: int) -> None:
    """Map the current uid and gid to themselves in the new user namespace (the files the command
    writes keep their owner)."""
    try:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1\n"), ("gid_map", f"{gid} {gid} 1\n")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    except OSError as exc:
        raise NamespaceUnavailable(exc.errno or errno.EPERM, f"user namespace id maps: {exc.strerror}") from None


def _loopback_up() -> None:
    """``ip link set lo up`` (a new namespace's ``lo`` is down), with the SIOC[GS]IFFLAGS ioctls."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            request = struct.pack("16sH14x", b"lo", 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
            fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    except OSError as exc:
        raise NamespaceUnavailable(exc.errno or errno.EPERM, f"bringing lo up: {exc.strerror}") from None


class Connector:
    """The harness's end of the relay, in the host's network namespace: on each request from the
    supervisor (a port number), connects to ``127.0.0.1:PORT`` if ``PORT`` is allowed and hands the
    connected socket back; any other port is refused.

    Args:
        ports: the allowed loopback ports (the fake backend's, the proxy guard's).

    ``peer`` is the supervisor's end of the socket pair (pass its file descriptor to the supervisor,
    then :meth:`close_peer`); :meth:`start` serves requests in a daemon thread that ends when the
    supervisor's end is closed (the supervisor exited).
    """

    def __init__(self, ports: list[int]) -> None:
        self.ports = frozenset(ports)
        self._ours, self.peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)

    def start(self) -> Connector:
        """Serve the supervisor's requests in a daemon thread; returns ``self``."""
        self.thread = threading.Thread(target=self._serve, name="runresume-connector", daemon=True)
        self.thread.start()
        return self

    def close_peer(self) -> None:
        """Close the harness's copy of the supervisor's end (once the supervisor holds it)."""
        self.peer.close()

    def close(self) -> None:
        """Close both ends (idempotent); the serving thread ends."""
        self.peer.close()
        self._ours.close()

    def _serve(self) -> None:
        with self._ours as sock:
            while True:
                try:
                    data = sock.recv(16)
                except OSError:
                    return
                if not data:
                    return
                port = int(data) if data.isdigit() else -1
                try:
                    if port not in self.ports:
                        sock.send(b"refused")
                        continue
                    try:
                        upstream = socket.create_connection((LOOPBACK, port), timeout=10)
                    except OSError as exc:
                        sock.send(f"error {exc.strerror}".encode()[:64])
                        continue
                    with upstream:
                        upstream.settimeout(None)
                        socket.send_fds(sock, [b"ok"], [upstream.fileno()])
                except OSError:
                    return


class Relay:
    """The supervisor's end, inside the namespace: listens on ``127.0.0.1:PORT`` for each port and
    relays every connection to the same port in the host's namespace (through the harness's
    :class:`Connector` on ``channel``). At most ``limit`` connections at once.

    Threads: one accepting per port, two copying per connection; all are daemon threads of the
    supervisor, so they end with it.
    """

    def __init__(self, channel: socket.socket, ports: list[int], limit: int = MAX_CONNECTIONS) -> None:
        self.channel = channel
        self.ports = list(ports)
        self._slots = threading.BoundedSemaphore(limit)
        self._ask = threading.Lock()
        self._listeners: list[socket.socket] = []

    def start(self) -> Relay:
        """Bind every port inside the namespace (before the command starts, so it never finds the
        fake's port closed) and accept in daemon threads; returns ``self``.

        Raises:
            OSError: a port cannot be bound.
        """
        for port in self.ports:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind((LOOPBACK, port))
            listener.listen(64)
            self._listeners.append(listener)
        for listener, port in zip(self._listeners, self.ports, strict=True):
            threading.Thread(target=self._accept, args=(listener, port), daemon=True).start()
        return self

    def _connect(self, port: int) -> socket.socket | None:
        """A socket connected to ``127.0.0.1:port`` in the host's namespace, from the connector."""
        with self._ask:
            try:
                self.channel.send(str(port).encode())
                answer, fds, _, _ = socket.recv_fds(self.channel, 64, 1)
            except OSError:
                return None
        if answer != b"ok" or not fds:
            for fd in fds:
                os.close(fd)
            return None
        return socket.socket(fileno=fds[0])

    def _accept(self, listener: socket.socket, port: int) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            if not self._slots.acquire(blocking=False):
                conn.close()
                continue
            upstream = self._connect(port)
            if upstream is None:
                conn.close()
                self._slots.release()
                continue
            pair = _Pair(conn, upstream, self._slots)
            threading.Thread(target=pair.copy, args=(conn, upstream), daemon=True).start()
            threading.Thread(target=pair.copy, args=(upstream, conn), daemon=True).start()


class _Pair:
    """One relayed connection: two copying threads; the sockets are closed when both are done."""

    def __init__(self, a: socket.socket, b: socket.socket, slots: threading.BoundedSemaphore) -> None:
        self.a, self.b, self.slots = a, b, slots
        self._left = 2
        self._lock = threading.Lock()

    def copy(self, src: socket.socket, dst: socket.socket) -> None:
        how = socket.SHUT_WR  # a clean end of the stream is passed on; the other half goes on
        try:
            while True:
                data = src.recv(_CHUNK)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            how = socket.SHUT_RDWR  # a reset: the other direction ends too
        for sock in (dst, src) if how == socket.SHUT_RDWR else (dst,):
            try:
                sock.shutdown(how)
            except OSError:
                pass
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if last:
            self.a.close()
            self.b.close()
            self.slots.release()
