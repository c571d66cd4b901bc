"""Isolation through the plugin: one server per pytest-xdist worker, and injected faults that
neither fail the test that asked for them nor leak into the next test."""

from __future__ import annotations


def test_each_xdist_worker_has_its_own_server_and_key(pytester):
    out = pytester.mkdir("servers")
    pytester.makepyfile(
        test_where=f"""
        import os, pathlib

        def test_where(wandb_server):
            worker = os.environ["PYTEST_XDIST_WORKER"]
            pathlib.Path({str(out)!r}, worker).write_text(wandb_server.url + " " + wandb_server.api_key)
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "each", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    seen = {f.name: f.read_text().split() for f in out.iterdir()}
    assert sorted(seen) == ["gw0", "gw1"]
    (url0, key0), (url1, key1) = seen["gw0"], seen["gw1"]
    assert url0.startswith("http://127.0.0.1:") and url1.startswith("http://127.0.0.1:")
    assert url0 != url1 and key0 != key1


def test_injected_faults_are_not_problems_and_do_not_leak(pytester):
    pytester.makepyfile(
        test_faults="""
        import requests

        def viewer(server):
            return requests.post(server.url + "/graphql", auth=("api", server.api_key),
                                 json={"query": "query Viewer { viewer { id } }"}, timeout=10)

        def test_asks_for_failures(wandb_server):
            wandb_server.faults.fail("Viewer", status=500, times=None)
            assert viewer(wandb_server).status_code == 500
            assert wandb_server.faults.count("Viewer") == 1

        def test_next_test_is_clean(wandb_server):
            assert not wandb_server.faults and wandb_server.faults.injected == []
            assert viewer(wandb_server).status_code == 200
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)
