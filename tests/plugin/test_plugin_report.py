"""The plugin's reporting: the backend's problems fail a test at teardown, and the examples suite
runs under pytest-xdist (one fake server per worker)."""

from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "test_train.py"


def test_unknown_graphql_operation_errors_at_teardown(pytester):
    pytester.makepyfile(
        test_nope="""
        import requests

        def test_posts_nonsense(wandb_server):
            resp = requests.post(
                wandb_server.url + "/graphql",
                auth=("api", wandb_server.api_key),
                json={"query": "query Nope { x }"},
                timeout=10,
            )
            assert "Nope" in resp.text
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_posts_nonsense*",
            "*the fake W&B backend saw problems:*",
            "*Nope*",
        ]
    )


def test_clean_backend_has_no_teardown_error(pytester):
    pytester.makepyfile(
        test_ok="""
        def test_nothing(wandb_server):
            assert wandb_server.model.problems == []
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_problems_do_not_leak_into_the_next_test(pytester):
    """The session server is reset for each test: the second test starts clean."""
    pytester.makepyfile(
        test_two="""
        import requests

        def test_a(wandb_server):
            requests.post(wandb_server.url + "/graphql", auth=("api", wandb_server.api_key),
                          json={"query": "query Nope { x }"}, timeout=10)

        def test_b(wandb_server):
            assert wandb_server.model.problems == []
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_a*"])


def test_no_timeline_section_for_a_failure_without_runs(pytester):
    pytester.makepyfile(
        test_plain="""
        def test_fails(runresume):
            assert False, "plain failure"
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.no_fnmatch_line("*runresume timeline*")


def test_timeline_section_for_a_failure_after_a_run(pytester):
    pytester.makepyfile(
        test_after="""
        def test_fails_after_run(runresume):
            result = runresume.run(["python", "-c", "print('hello from child')"])
            assert result.exit_code == 0
            assert False, "failed after the run"
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*runresume timeline*",
            "command: *-c 'print('\"'\"'hello from child'\"'\"')'*",
            "exit: returncode 0 (exit code 0)",
            "--- stdout (last 1 lines) ---",
            "hello from child",
        ]
    )


def test_examples_pass_under_xdist(pytester):
    result = pytester.runpytest_subprocess("-n", "2", str(EXAMPLES), "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 6  # the examples suite may grow
    assert not {"failed", "errors", "xfailed", "skipped"} & set(outcomes)
    result.stdout.fnmatch_lines(["created: 2/2 workers"])


def test_a_failed_expectation_shows_the_test_line_not_the_plugins_source(pytester):
    """``expect()`` and the requeue loop's ``check()`` hide their own frames (``__tracebackhide__``):
    a failure shows the user's line and the message, not ~40 lines of the plugin's method."""
    pytester.makepyfile(
        """
        def test_exit(runresume):
            runresume.run(["python", "-c", "import sys; sys.exit(3)"]).expect(exit_code=0)

        def test_loop(runresume):
            runresume.requeue(["python", "-c", "import sys; sys.exit(3)"], max_restarts=0).check()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "exit code 3, expected 0" in out
    assert '>       runresume.run(["python", "-c", "import sys; sys.exit(3)"]).expect(exit_code=0)' in out
    assert ">       runresume.requeue(" in out
    assert "allowed = tuple(allow)" not in out and "def expect(" not in out
    assert "def check(" not in out
