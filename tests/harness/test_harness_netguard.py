"""No real network from code under test: the network guard (a refusing proxy on loopback) that the
harness puts in every command's environment.

Real subprocesses try to reach ``api.wandb.ai`` (and another host) with ``requests`` and with the
real wandb SDK (its Go wandb-core); each attempt is refused, recorded, and named in a backend
problem, so the test fails at teardown with the host named.
"""

from __future__ import annotations

import socket
import textwrap

import pytest
import requests

from pytest_runresume.harness.netguard import NO_PROXY, PROXY_VARIABLES, NetGuard, guard_for
from pytest_runresume.model import messages
from pytest_runresume.wire import FakeServer

BLOCKED_WANDB = messages.NETWORK_BLOCKED.format(host="api.wandb.ai", port=443, method="CONNECT")


# ---- the guard itself --------------------------------------------------------------------------
def test_guard_refuses_connect_and_plain_http_naming_the_host():
    with NetGuard() as guard:
        proxies = {"http": guard.url, "https": guard.url}
        with pytest.raises(requests.exceptions.ProxyError, match="403"):
            requests.get("https://api.wandb.ai/graphql", proxies=proxies, timeout=10)
        r = requests.get("http://example.com:8080/x?k=secret", proxies=proxies, timeout=10)
        assert r.status_code == 403
        assert "example.com:8080" in r.text
        assert [(b.host, b.port, b.method) for b in guard.blocked] == [
            ("api.wandb.ai", 443, "CONNECT"),
            ("example.com", 8080, "GET"),
        ]
        assert guard.hosts() == ["api.wandb.ai:443", "example.com:8080"]
        assert "secret" not in repr(guard.blocked), "the guard records hosts, not URLs"


def test_guard_answers_garbage_with_400_and_records_nothing():
    with NetGuard() as guard:
        port = int(guard.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"hello\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 400")
        assert guard.blocked == []


def test_guard_env_sets_every_proxy_variable_and_exempts_loopback():
    with NetGuard() as guard:
        env = guard.env()
        assert {env[name] for name in PROXY_VARIABLES} == {guard.url}
    assert env["NO_PROXY"] == env["no_proxy"] == NO_PROXY
    assert "127.0.0.1" in NO_PROXY.split(",")


def test_one_guard_per_served_backend(served):
    assert guard_for(served) is guard_for(served)
    with FakeServer() as other:
        assert guard_for(other) is not guard_for(served)


def test_harness_env_points_every_proxy_variable_at_the_guard(harness, served):
    env = harness.env()
    assert {env[name] for name in PROXY_VARIABLES} == {guard_for(served).url}
    assert env["NO_PROXY"] == NO_PROXY
    assert harness.env({"HTTPS_PROXY": ""})["HTTPS_PROXY"] == "", "a test can still opt out"


# ---- real subprocesses -------------------------------------------------------------------------
REQUESTS_SCRIPT = """
    import os, requests

    for url in ("https://api.wandb.ai/graphql", "http://example.com/"):
        try:
            print("REACHED", url, requests.get(url, timeout=10).status_code, flush=True)
        except requests.exceptions.ProxyError as exc:
            print("REFUSED", url, type(exc).__name__, flush=True)
    fake = os.environ["WANDB_BASE_URL"] + "/healthz"
    print("FAKE", requests.get(fake, timeout=10).status_code, flush=True)
"""


def test_requests_in_a_subprocess_cannot_reach_real_hosts(harness, served, tmp_path):
    """``requests`` honours the proxy variables: a real host is refused (HTTPS: the tunnel is
    refused; plain HTTP: the guard's 403), the fake on loopback is still reached directly, and each
    host becomes a backend problem."""
    script = tmp_path / "reach.py"
    script.write_text(textwrap.dedent(REQUESTS_SCRIPT))
    result = harness.run(["python", str(script)])
    assert "REFUSED https://api.wandb.ai/graphql ProxyError" in result.stdout, result.report()
    assert "REACHED http://example.com/ 403" in result.stdout, "plain HTTP gets the guard's 403"
    assert "FAKE 200" in result.stdout
    assert served.model.problems == [
        BLOCKED_WANDB,
        messages.NETWORK_BLOCKED.format(host="example.com", port=80, method="GET"),
    ]


WANDB_SCRIPT = """
    import wandb

    run = wandb.init(project="netguard", id="escape")
    run.log({"x": 1})
    run.finish()
"""


def test_real_wandb_pointed_at_api_wandb_ai_is_refused_and_named(harness, served, tmp_path):
    """wandb-core (Go net/http) honours ``HTTPS_PROXY``: with ``WANDB_BASE_URL=https://api.wandb.ai``
    its requests are refused by the guard, ``wandb.init`` fails, nothing reaches the real service
    (the key never leaves: CONNECT is refused before TLS), and the host is named once."""
    script = tmp_path / "escape.py"
    script.write_text(textwrap.dedent(WANDB_SCRIPT))
    env = {"WANDB_BASE_URL": "https://api.wandb.ai", "WANDB_INIT_TIMEOUT": "5", "WANDB_X_GRAPHQL_RETRY_MAX": "1"}
    result = harness.run(["python", str(script)], env=env)
    assert result.exit_code != 0, result.report()
    assert "Forbidden" in result.stderr
    assert served.model.problems == [BLOCKED_WANDB]
    assert served.model.runs == {} and served.app.requests == []


def test_a_blocked_host_fails_the_pytest_test_at_teardown_naming_it(pytester):
    pytester.makepyfile(
        test_escape="""
        def test_reaches_out(runresume, tmp_path):
            script = tmp_path / "out.py"
            script.write_text(
                "import requests\\n"
                "try:\\n"
                "    requests.get('https://api.wandb.ai/x', timeout=10)\\n"
                "except requests.exceptions.ProxyError:\\n"
                "    pass\\n"
            )
            assert runresume.run(["python", str(script)]).exit_code == 0
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_reaches_out*", "*the fake W&B backend saw problems:*", "*api.wandb.ai:443*"]
    )
