"""A network that cannot leak (docs/network.md): the command under test runs in a network namespace of
its own with only loopback (the fake's and the proxy guard's ports relayed into it), and every
Python socket call to another host is refused and named.

Real subprocesses try raw TCP, UDP, DNS, ``requests`` with ``trust_env=False``, ``http.client`` and
urllib with an empty ProxyHandler; each is refused at once and becomes a backend problem naming the
destination. ``python -I`` (no hook) shows what only the namespace stops. The fallback (no
namespace) is forced with ``network="proxy"`` and tested the same way.

The tests that need a namespace run where the machine allows one; elsewhere they skip with the
reason, unless ``RUNRESUME_NETWORK=namespace`` (then a missing namespace fails them).
"""

from __future__ import annotations

import os
import socket
import textwrap
import time
from pathlib import Path

import pytest

from pytest_runresume import Harness, HarnessError
from pytest_runresume.harness import _netns
from pytest_runresume.harness._child import _runresume_netguard as hook
from pytest_runresume.harness.network import (
    GUARD_EVENT,
    NETWORK_ENV,
    describe,
    namespace_unavailable,
    resolve_mode,
)
from pytest_runresume.model import messages
from pytest_runresume.wire import FakeServer


def needs_namespace() -> None:
    """Skip (naming why) where this machine cannot make a network namespace, unless the run asks
    for one with ``RUNRESUME_NETWORK=namespace``: then fail."""
    why = namespace_unavailable()
    if why and os.environ.get(NETWORK_ENV) == "namespace":
        pytest.fail(f"{NETWORK_ENV}=namespace but network namespaces are unavailable: {why}")
    if why:
        pytest.skip(f"network namespaces unavailable here: {why}")


def blocked(host: str, port: int, method: str) -> str:
    return messages.NETWORK_BLOCKED.format(host=host, port=port, method=method)


def guard_of(result) -> dict:  # type: ignore[no-untyped-def]
    return next(e.detail for e in result.events if e.event == GUARD_EVENT)


CLIENTS = """
    import http.client, os, socket, urllib.request
    import requests

    def attempt(name, fn):
        try:
            print(name, "REACHED", fn(), flush=True)
        except Exception as exc:
            print(name, "REFUSED", type(exc).__name__, getattr(exc, "errno", None), flush=True)

    def udp():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            return s.sendto(b"x", ("8.8.8.8", 53))

    def no_env_requests():
        session = requests.Session()
        session.trust_env = False  # ignores HTTP(S)_PROXY
        return session.get("http://203.0.113.7:8080/", timeout=5).status_code

    def http_client():
        conn = http.client.HTTPConnection("example.org", 80, timeout=5)
        conn.request("GET", "/")
        return conn.getresponse().status

    def urllib_no_proxy():
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        return opener.open("http://example.net/", timeout=5).status

    attempt("tcp", lambda: socket.create_connection(("10.255.255.1", 80), timeout=5))
    attempt("udp", udp)
    attempt("dns", lambda: socket.getaddrinfo("example.com", 443))
    attempt("requests", no_env_requests)
    attempt("http.client", http_client)
    attempt("urllib", urllib_no_proxy)
    attempt("fake", lambda: requests.get(os.environ["WANDB_BASE_URL"] + "/healthz", timeout=10).status_code)
"""

EXPECTED_PROBLEMS = [
    blocked("10.255.255.1", 80, "TCP connect"),
    blocked("8.8.8.8", 53, "UDP sendto"),
    blocked("example.com", 443, "DNS lookup"),
    blocked("203.0.113.7", 8080, "TCP connect"),
    blocked("example.org", 80, "DNS lookup"),
    blocked("example.net", 80, "DNS lookup"),
]


@pytest.mark.parametrize("network", ["namespace", "proxy"])
def test_clients_that_ignore_the_proxy_are_refused_and_named(served, tmp_path, network):
    """Each client is refused at once (ENETUNREACH, or a failed lookup: no byte, no DNS query
    leaves), the fake is still reached, and every destination is a backend problem naming it (so
    the test fails at teardown) - with the namespace and without it."""
    if network == "namespace":
        needs_namespace()
    served.reset()
    script = tmp_path / "clients.py"
    script.write_text(textwrap.dedent(CLIENTS))
    result = Harness(served, tmp_path, timeout=60, grace=1.0, network=network).run(["python", str(script)])
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert lines == {
        "tcp": "REFUSED OSError 101",
        "udp": "REFUSED OSError 101",
        "dns": "REFUSED gaierror -2",
        "requests": "REFUSED ConnectionError None",
        "http.client": "REFUSED gaierror -2",
        "urllib": "REFUSED URLError None",
        "fake": "REACHED 200",
    }, result.report()
    assert result.duration < 30, "every attempt failed at once, none waited for a timeout"
    assert served.model.problems == EXPECTED_PROBLEMS
    assert guard_of(result)["mode"] == network
    attempts = [(e.detail["host"], e.detail["port"]) for e in result.events if e.event == "network"]
    assert attempts == [("10.255.255.1", 80), ("8.8.8.8", 53), ("example.com", 443), ("203.0.113.7", 8080),
                        ("example.org", 80), ("example.net", 80)]  # fmt: skip


UNHOOKED = """
    import socket, sys, time
    t = time.monotonic()
    for address in [("10.255.255.1", 80), ("127.0.0.1", int(sys.argv[1]))]:
        try:
            socket.create_connection(address, timeout=5).close()
            print("REACHED", address[1], flush=True)
        except OSError as exc:
            print("REFUSED", address[1], exc.errno, flush=True)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.sendto(b"x", ("8.8.8.8", 53))
            print("SENT", flush=True)
        except OSError as exc:
            print("REFUSED", 53, exc.errno, flush=True)
    print("seconds", round(time.monotonic() - t, 3))
"""


def test_the_namespace_stops_what_the_hook_cannot_see(harness, served, tmp_path):
    """``python -I`` loads no hook (like wandb-core or curl, it is not watched): inside the namespace
    a raw connect and a datagram to another host fail at once with ENETUNREACH, and a port of the
    host's loopback that is not relayed is closed (ECONNREFUSED) - the listener there sees nothing."""
    needs_namespace()
    script = tmp_path / "raw.py"
    script.write_text(textwrap.dedent(UNHOOKED))
    with socket.socket() as host_service:
        host_service.bind(("127.0.0.1", 0))
        host_service.listen(1)
        host_service.setblocking(False)
        port = host_service.getsockname()[1]
        result = harness.run(["python", "-I", str(script), str(port)])
        with pytest.raises(BlockingIOError):
            host_service.accept()
    assert result.stdout.splitlines()[:3] == ["REFUSED 80 101", f"REFUSED {port} 111", "REFUSED 53 101"], (
        result.report()
    )
    assert float(result.stdout.split("seconds ")[1]) < 1.0
    assert guard_of(result)["mode"] == "namespace"
    assert served.model.problems == [], "not watched: only the namespace stopped it"


def test_the_real_sdk_runs_in_the_namespace_through_the_relay(harness, served, tmp_path):
    """wandb (Python) and wandb-core (Go) reach the fake through the relayed port: a run is
    created, logged and finished; nothing is refused."""
    needs_namespace()
    script = tmp_path / "train.py"
    script.write_text(
        "import wandb\nrun = wandb.init(project='ns', id='relay')\nfor i in range(3):\n    run.log({'i': i})\nrun.finish()\n"
    )
    result = harness.run(["python", str(script)])
    assert result.exit_code == 0, result.report()
    assert guard_of(result)["mode"] == "namespace"
    assert result.run is not None and result.run.last_step == 2 and result.state == "finished"
    assert served.model.problems == []


def test_required_namespace_fails_naming_why_when_the_fake_is_not_on_loopback(tmp_path):
    """A fake served on another address cannot be relayed: ``auto`` falls back to the proxy guard
    and says why; ``namespace`` refuses to start the command."""
    with pytest.warns(UserWarning, match="not loopback"):
        served = FakeServer(host="0.0.0.0", allow_non_loopback=True).start()
    try:
        script = tmp_path / "ok.py"
        script.write_text("print('ran')\n")
        result = Harness(served, tmp_path / "a", network="auto").run(["python", str(script)])
        assert result.stdout == "ran\n"
        assert describe(guard_of(result)).startswith(
            "network guard: proxy variables only (network namespaces unavailable: the fake W&B backend listens on 0.0.0.0"
        )
        with pytest.raises(HarnessError, match="no network namespace is possible: .* listens on 0.0.0.0"):
            Harness(served, tmp_path / "b", network="namespace").run(["python", str(script)])
    finally:
        served.stop()


def test_network_mode_comes_from_the_argument_then_the_environment():
    assert resolve_mode(None, {}) == "auto"
    assert resolve_mode(None, {NETWORK_ENV: "Proxy"}) == "proxy"
    assert resolve_mode("namespace", {NETWORK_ENV: "proxy"}) == "namespace"
    with pytest.raises(ValueError, match=r"\$RUNRESUME_NETWORK='off' is not a network mode"):
        resolve_mode(None, {NETWORK_ENV: "off"})
    with pytest.raises(ValueError, match="network='x' is not a network mode; expected one of auto, namespace, proxy"):
        resolve_mode("x", {})


def test_report_line_names_the_guard_and_the_reason():
    assert describe({"mode": "namespace", "ports": [1, 2]}) == (
        "network guard: network namespace (loopback only; relayed: 127.0.0.1:1, 127.0.0.1:2), proxy variables, "
        "the socket hook in Python processes"
    )
    assert describe({"mode": "proxy", "reason": "unshare(CLONE_NEWNET): Operation not permitted"}) == (
        "network guard: proxy variables only (network namespaces unavailable: unshare(CLONE_NEWNET): "
        "Operation not permitted), plus the socket hook in Python processes"
    )


# ---- the hook's notion of "this machine" -------------------------------------------------------
@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
        "::",
        "localhost",
        "LOCALHOST.",
        "a.localhost",
        None,
        "",
    ],
)
def test_loopback_and_local_names_stay_allowed(host):
    assert hook._is_local(host, hook._own_names())


@pytest.mark.parametrize("host", ["10.0.0.1", "8.8.8.8", "2001:db8::1", "example.com", b"api.wandb.ai", "<broadcast>"])
def test_other_hosts_are_not_local(host):
    assert not hook._is_local(host, hook._own_names())


def test_a_lookup_of_an_address_is_not_a_dns_query():
    assert hook._destination("socket.getaddrinfo", ("10.1.2.3", 80, 0, 0, 0, 0)) is None
    assert hook._destination("socket.getaddrinfo", ("wandb.ai", "https", 0, 0, 0, 0)) == (
        "wandb.ai",
        "https",
        "DNS lookup",
    )
    with socket.socket(socket.AF_UNIX) as unix:
        assert hook._destination("socket.connect", (unix, "/tmp/x")) is None


# ---- the relay's connector ---------------------------------------------------------------------
def test_connector_hands_over_allowed_ports_only():
    with socket.socket() as upstream:
        upstream.bind(("127.0.0.1", 0))
        upstream.listen(1)
        port = upstream.getsockname()[1]
        connector = _netns.Connector([port]).start()
        try:
            relay = _netns.Relay(connector.peer, [])
            assert relay._connect(port + 1 if port < 65535 else port - 1) is None, "another port is refused"
            sock = relay._connect(port)
            assert sock is not None
            with sock, upstream.accept()[0] as accepted:
                sock.sendall(b"ping")
                assert accepted.recv(4) == b"ping"
            connector.close_peer()  # what the supervisor's exit does
            connector.thread.join(timeout=10)
            assert not connector.thread.is_alive(), "the connector ends with the supervisor"
        finally:
            connector.close()


def test_relay_bounds_the_connections_it_holds(tmp_path):
    """Inside a namespace, a relay limited to 2 connections closes a third at once; the first two
    still carry bytes both ways."""
    needs_namespace()
    driver = tmp_path / "bounded.py"
    driver.write_text(textwrap.dedent(BOUNDED))
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-I", str(driver), str(Path(_netns.__file__).parent)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.split() == ["echo:a", "echo:b", "third:closed"], done.stderr


BOUNDED = """
    import os, socket, sys, threading
    sys.path.insert(0, sys.argv[1])
    import _netns

    upstream = socket.socket()
    upstream.bind(("127.0.0.1", 0))
    upstream.listen(8)
    port = upstream.getsockname()[1]

    def echo():
        while True:
            conn, _ = upstream.accept()
            threading.Thread(target=lambda c=conn: c.sendall(b"echo:" + c.recv(10)), daemon=True).start()

    threading.Thread(target=echo, daemon=True).start()
    connector = _netns.Connector([port]).start()
    pid = os.fork()
    if pid == 0:  # the supervisor's side: in the namespace, a relay of 2 connections
        _netns.unshare_network()
        _netns.Relay(connector.peer, [port], limit=2).start()
        held = []
        for name in (b"a", b"b"):
            c = socket.create_connection(("127.0.0.1", port), timeout=10)
            c.sendall(name)
            print(c.recv(20).decode(), flush=True)
            held.append(c)
        third = socket.create_connection(("127.0.0.1", port), timeout=10)
        print("third:" + ("closed" if third.recv(20) == b"" else "open"), flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
"""


def test_namespace_probe_is_asked_once():
    first = namespace_unavailable()
    started = time.monotonic()
    assert namespace_unavailable() == first
    assert time.monotonic() - started < 0.01


# ---- the report ----------------------------------------------------------------------------------
FAILING_TEST = """
def test_fails(runresume, tmp_path):
    script = tmp_path / "ok.py"
    script.write_text("print('ran')")
    runresume.run(["python", str(script)])
    assert False, "on purpose"
"""


@pytest.mark.parametrize("network", ["auto", "proxy"])
def test_failure_report_names_the_network_guard(pytester, monkeypatch, network):
    """The "runresume timeline" section of a failed test says which guard its command ran under;
    ``RUNRESUME_NETWORK=proxy`` forces the fallback (and says so)."""
    if network == "auto":
        needs_namespace()
    monkeypatch.setenv(NETWORK_ENV, network)
    pytester.makepyfile(test_report=FAILING_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    expected = (
        "network guard: network namespace (loopback only; relayed: 127.0.0.1:*, 127.0.0.1:*), proxy variables, *"
        if network == "auto"
        else "network guard: proxy variables only (network namespace off: RUNRESUME_NETWORK=proxy)*"
    )
    result.stdout.fnmatch_lines(["*runresume timeline*", expected])


def test_docs_page_lists_every_mode_and_the_report_lines():
    """docs/network.md documents each mode and shows the report lines as :func:`describe` writes them."""
    page = (Path(__file__).parents[2] / "docs" / "network.md").read_text(encoding="utf-8")
    for mode in ("auto", "namespace", "proxy"):
        assert f"| `{mode}`" in page
    namespace_line = describe({"mode": "namespace", "ports": [41233, 40417]})
    fallback_line = describe(
        {"mode": "proxy", "reason": "unshare(CLONE_NEWNET|CLONE_NEWUSER): Operation not permitted"}
    )
    assert namespace_line in page and fallback_line in page
    assert NETWORK_ENV in page


# ---- the fallback when unshare itself is refused ------------------------------------------------
SECCOMP_DRIVER = """
    import ctypes, errno, platform, struct, sys, tempfile
    from pathlib import Path

    # A seccomp filter that makes unshare(2) fail with EPERM in this process and its children, as a
    # container without the privilege does (x86_64 numbering).
    if platform.machine() != "x86_64":
        print("SKIP not x86_64")
        sys.exit(0)
    AUDIT_ARCH_X86_64, NR_UNSHARE = 0xC000003E, 272
    program = [
        (0x20, 0, 0, 4),  # load the arch
        (0x15, 0, 3, AUDIT_ARCH_X86_64),  # another arch: allow
        (0x20, 0, 0, 0),  # load the syscall number
        (0x15, 0, 1, NR_UNSHARE),
        (0x06, 0, 0, 0x00050000 | errno.EPERM),  # unshare: fail with EPERM
        (0x06, 0, 0, 0x7FFF0000),  # anything else: allow
    ]
    code = b"".join(struct.pack("HBBI", *op) for op in program)
    buf = ctypes.create_string_buffer(code)
    fprog = struct.pack("HxxxxxxQ", len(program), ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
    fprog_buf = ctypes.create_string_buffer(fprog)
    assert libc.prctl(22, 2, ctypes.c_void_p(ctypes.addressof(fprog_buf)), 0, 0) == 0, ctypes.get_errno()  # SECCOMP_MODE_FILTER

    from pytest_runresume import Harness, HarnessError
    from pytest_runresume.harness.network import GUARD_EVENT, describe, namespace_unavailable
    from pytest_runresume.wire import FakeServer

    print("PROBE", namespace_unavailable())
    base = Path(tempfile.mkdtemp(dir=sys.argv[1]))
    with FakeServer() as served:
        result = Harness(served, base / "auto", network="auto").run(["python", "-c", "print('ran')"])
        print("AUTO", result.stdout.strip(), "|", describe(next(e.detail for e in result.events if e.event == GUARD_EVENT)))
        try:
            Harness(served, base / "ns", network="namespace").run(["python", "-c", "print('ran')"])
        except HarnessError as exc:
            print("REQUIRED", str(exc).splitlines()[0])
"""


def test_where_unshare_is_refused_auto_falls_back_and_namespace_refuses_to_start(tmp_path):
    """In a process where unshare(2) fails with EPERM (a seccomp filter, as in a container without
    the privilege): the probe names the reason, ``auto`` runs the command under the proxy guard and
    the report says why, ``namespace`` does not start it and names the reason."""
    import subprocess
    import sys

    driver = tmp_path / "seccomp.py"
    driver.write_text(textwrap.dedent(SECCOMP_DRIVER))
    done = subprocess.run([sys.executable, str(driver), str(tmp_path)], capture_output=True, text=True, timeout=120)
    if done.stdout.startswith("SKIP"):
        pytest.skip(done.stdout.strip())
    lines = done.stdout.splitlines()
    reason = "unshare(CLONE_NEWNET|CLONE_NEWUSER): Operation not permitted"
    assert lines == [
        f"PROBE {reason}",
        f"AUTO ran | network guard: proxy variables only (network namespaces unavailable: {reason}), "
        "plus the socket hook in Python processes",
        f"REQUIRED the command was not started: network guard: proxy variables only (network namespaces "
        f"unavailable: {reason}), plus the socket hook in Python processes, and network='namespace' asks for one",
    ], done.stdout + done.stderr
