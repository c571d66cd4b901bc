"""``@pytest.mark.preempt``: strict validation at collection, and the marker's effect on a real run.

Collection errors are ``pytest.UsageError``: pytest stops with a non-zero exit status and prints
``ERROR: ...`` on stderr. The end-to-end tests run the real ``wandb`` SDK in a real subprocess
(``examples/train.py``), started by the harness of the inner pytest session (run in process).
"""

from __future__ import annotations

from pathlib import Path

import pytest

TRAIN = Path(__file__).resolve().parents[2] / "examples" / "train.py"


def _bad_marker(pytester: pytest.Pytester, marker_args: str, uses_fixture: bool = True):
    fixture = "runresume" if uses_fixture else ""
    pytester.makepyfile(
        test_bad=f"""
        import pytest

        @pytest.mark.preempt({marker_args})
        def test_it({fixture}):
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret != 0
    assert result.ret != pytest.ExitCode.OK
    result.assert_outcomes()  # nothing ran
    return result


def test_unknown_key_names_the_test_and_the_key(pytester):
    result = _bad_marker(pytester, 'signal="SIGUSR1", at_stepp=3')
    result.stderr.fnmatch_lines(["ERROR: test_bad.py::test_it: @pytest.mark.preempt: unknown key(s) *'at_stepp'*"])


def test_bad_signal_name_is_named(pytester):
    result = _bad_marker(pytester, 'signal="SIGNOPE", at_step=1')
    result.stderr.fnmatch_lines(["ERROR: test_bad.py::test_it: @pytest.mark.preempt: signal:*SIGNOPE*"])


def test_negative_at_step(pytester):
    result = _bad_marker(pytester, "at_step=-1")
    result.stderr.fnmatch_lines(["ERROR: test_bad.py::test_it: @pytest.mark.preempt: at_step:*-1*"])


def test_non_integer_at_step(pytester):
    result = _bad_marker(pytester, 'at_step="3"')
    result.stderr.fnmatch_lines(["ERROR: test_bad.py::test_it: @pytest.mark.preempt: at_step:*"])


def test_both_at_and_at_step(pytester):
    result = _bad_marker(pytester, 'at="init", at_step=2')
    result.stderr.fnmatch_lines(["ERROR: test_bad.py::test_it: @pytest.mark.preempt: give either at_step or at*"])


def test_unknown_at(pytester):
    result = _bad_marker(pytester, 'at="lunch"')
    result.stderr.fnmatch_lines(["ERROR: test_bad.py::test_it: @pytest.mark.preempt: at:*'lunch'*"])


def test_positional_arguments(pytester):
    result = _bad_marker(pytester, '"SIGUSR1"')
    result.stderr.fnmatch_lines(["ERROR: test_bad.py::test_it: @pytest.mark.preempt: takes keyword arguments only*"])


def test_unknown_target(pytester):
    result = _bad_marker(pytester, 'target="planet"')
    result.stderr.fnmatch_lines(["ERROR: test_bad.py::test_it: @pytest.mark.preempt: target:*'planet'*"])


def test_marker_without_the_runresume_fixture(pytester):
    result = _bad_marker(pytester, "at_step=1", uses_fixture=False)
    result.stderr.fnmatch_lines(["ERROR: test_bad.py::test_it: @pytest.mark.preempt/crash needs the 'runresume' fixture*"])


def test_class_level_marker_is_validated_too(pytester):
    pytester.makepyfile(
        test_cls="""
        import pytest

        @pytest.mark.preempt(bogus=1)
        class TestIt:
            def test_a(self, runresume):
                pass
        """
    )
    result = pytester.runpytest()
    assert result.ret != 0
    result.stderr.fnmatch_lines(["ERROR: test_cls.py::TestIt::test_a: @pytest.mark.preempt: unknown key(s) *'bogus'*"])


def test_valid_markers_collect(pytester):
    pytester.makepyfile(
        test_ok="""
        import signal
        import pytest

        @pytest.mark.preempt(signal="SIGTERM", at_step=0, target="group", escalate_after=5.0)
        def test_step(runresume):
            p = runresume.marker.preemption
            assert p.signal == signal.SIGTERM
            assert (p.trigger.kind, p.trigger.step) == ("step", 0)
            assert p.target == "group" and p.escalate_after == 5.0
            assert runresume.marker.expect_exit == 143
            assert runresume.marker.expect_state == "preempted" and runresume.marker.requeue is True
            runresume.marker_used = True  # nothing to run here

        @pytest.mark.preempt(at="point:save")
        def test_point(runresume):
            t = runresume.marker.preemption.trigger
            assert (t.kind, t.name) == ("point", "save")
            runresume.marker_used = True

        @pytest.mark.preempt(at="step:7", signal=15, expect_state="failed", expect_exit=1)
        def test_step_string(runresume):
            m = runresume.marker
            assert (m.preemption.trigger.kind, m.preemption.trigger.step) == ("step", 7)
            assert m.preemption.signal == signal.SIGTERM
            assert (m.expect_state, m.expect_exit, m.requeue) == ("failed", 1, False)
            runresume.marker_used = True
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=3)


def test_marker_never_used_fails(pytester):
    pytester.makepyfile(
        test_unused="""
        import pytest

        @pytest.mark.preempt(at_step=1)
        def test_forgot(runresume):
            assert runresume.marker is not None
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*test_unused.py::test_forgot has @pytest.mark.preempt but never called runresume.run()*"]
    )


def test_preempt_none_does_not_consume_the_marker(pytester):
    """``runresume.run(..., preempt=None)`` runs untouched, so the marker is still unused."""
    pytester.makepyfile(
        test_none="""
        import pytest

        @pytest.mark.preempt(at_step=1)
        def test_untouched(runresume):
            result = runresume.run(["python", "-c", "print('hi')"], preempt=None)
            assert result.exit_code == 0 and result.signals == []
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*never called runresume.run()*"])


# ---- end to end, the real SDK ------------------------------------------------------------------


def test_marker_preempts_a_real_training_run(pytester):
    pytester.makepyfile(
        test_e2e=f"""
        import json
        import signal
        import pytest

        TRAIN = {str(TRAIN)!r}

        @pytest.mark.preempt(signal="SIGUSR1", at_step=2)
        def test_preempted(runresume):
            result = runresume.run(["python", TRAIN, "--run-id", "x", "--steps", "6"])
            assert result.exit_code == 128 + signal.SIGUSR1
            assert result.signals[0].signal == signal.SIGUSR1
            assert result.signals[0].point["step"] == 2
            assert result.state == "preempted"
            assert json.loads((runresume.workdir / "checkpoint.json").read_text())["step"] == 2
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_marker_fails_a_run_without_a_handler(pytester):
    """No handler: SIGUSR1 kills the process (exit code 138 all the same), nothing reports an exit,
    so the run stays 'running', not 'preempted': the test fails and the report shows the timeline."""
    pytester.makepyfile(
        test_e2e_bad=f"""
        import pytest

        TRAIN = {str(TRAIN)!r}

        @pytest.mark.preempt(signal="SIGUSR1", at_step=2)
        def test_no_handler(runresume):
            runresume.run(["python", TRAIN, "--run-id", "x", "--steps", "6", "--signals", ""])
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*expected 'preempted'*",
            "*runresume timeline*",
            "command: *train.py --run-id x --steps 6 --signals ''*",
            "signal SIGUSR1 sent to *",
            "*killed by SIGUSR1*",
            "run */x: state running*",
        ]
    )


def test_crash_marker_validation(pytester):
    """@pytest.mark.crash accepts only its keys; preempt and crash together is an error."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.crash(signal="SIGTERM")
        def test_it(runresume):
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*test_it: @pytest.mark.crash: unknown key(s)*'signal'*"])


def test_preempt_and_crash_together_is_an_error(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.crash(at_step=1)
        @pytest.mark.preempt(at_step=1)
        def test_it(runresume):
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*test_it: use either @pytest.mark.preempt or @pytest.mark.crash, not both*"])
