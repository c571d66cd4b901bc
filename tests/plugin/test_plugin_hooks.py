"""The plugin's pluggy hooks, implemented in a conftest.py, through pytester."""

from __future__ import annotations


def test_hooks_are_called_and_can_change_the_environment(pytester):
    """backend_started sees the server; subprocess_env changes a command's environment;
    run_finished sees every result; report_lines adds lines to a failed test's timeline."""
    pytester.makeconftest(
        """
        SEEN = {}

        def pytest_runresume_server_started(served):
            SEEN["url"] = served.url

        def pytest_runresume_subprocess_env(env, harness):
            env["FROM_HOOK"] = "hello"

        def pytest_runresume_run_finished(result):
            SEEN.setdefault("results", []).append(result.returncode)

        def pytest_runresume_report_lines(result):
            return ["extra line from a hook"]
        """
    )
    pytester.makepyfile(
        """
        import conftest

        def test_env(runresume):
            result = runresume.run(["python", "-c", "import os; print(os.environ['FROM_HOOK'])"])
            assert result.stdout.strip() == "hello"
            assert conftest.SEEN["url"].startswith("http://127.0.0.1:")
            assert conftest.SEEN["results"] == [0]

        def test_fails(runresume):
            runresume.run(["python", "-c", "raise SystemExit(3)"])
            assert False, "deliberate"
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*runresume timeline*", "*exit: returncode 3*", "extra line from a hook"])
