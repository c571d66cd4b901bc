"""The packaged entrypoint conformance tests, enabled by the ``--runresume-entrypoint`` option or the
``runresume_entrypoint`` ini key (R55, R57, R65-R69, R70b, R70e, R71)."""

from __future__ import annotations

from pathlib import Path

MODULE = "pytest_runresume.conformance.test_entrypoint"
TRAIN = Path(__file__).resolve().parents[2] / "examples" / "train.py"


def test_the_option_runs_the_battery_as_tests(pytester):
    result = pytester.runpytest(
        "--pyargs",
        MODULE,
        f"--runresume-entrypoint=python {TRAIN}",
        "--runresume-entrypoint-checks=finishes,failed",
        "-v",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*::test_entrypoint?finishes? PASSED*",
            "*::test_entrypoint?failed? PASSED*",
            "rules passed (6): R55 R57 R66 R69 R70a R70b",
        ]
    )


def test_the_ini_key_runs_it_and_a_failure_names_the_reason(pytester):
    broken = pytester.path / "train_exit0.py"
    broken.write_text(TRAIN.read_text().replace("sys.exit(128 + signum)", "sys.exit(0)"))
    pytester.makeini(
        f"[pytest]\nrunresume_entrypoint = python {broken.name}\nrunresume_entrypoint_checks = preempted\n"
    )
    result = pytester.runpytest("--pyargs", MODULE)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*exit code 0, expected 138*[[]bug: handler-exits-zero[]] the SIGUSR1 handler exited 0*",
            "rules failed (6): R65 R66 R67 R68 R70e R71",
        ]
    )


def test_without_an_entrypoint_every_check_is_skipped(pytester):
    result = pytester.runpytest("--pyargs", MODULE, "-rs")
    result.assert_outcomes(skipped=8)
    result.stdout.fnmatch_lines(["*no entrypoint to check: pass --runresume-entrypoint*"])
