"""Settings: marker > command line > environment > ini > default, and bad values named with their
source. Each case runs a tiny test file that reads the value the plugin resolved."""

from __future__ import annotations

import pytest

SIGNAL_TEST = """
import pytest

@pytest.mark.preempt(at_step=1{marker})
def test_signal(runresume):
    runresume.marker_used = True  # only the resolved value matters here
    assert runresume.marker.preemption.signal.name == {expected!r}
"""

TIMEOUT_TEST = """
def test_timeout(runresume):
    assert runresume.timeout == {expected!r}
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("RUNRESUME_SIGNAL", "RUNRESUME_TIMEOUT", "RUNRESUME_CRASH_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


def _signal_case(pytester, expected, marker="", ini=None, args=()):
    if ini is not None:
        pytester.makeini(f"[pytest]\nrunresume_signal = {ini}\n")
    pytester.makepyfile(test_sig=SIGNAL_TEST.format(marker=marker, expected=expected))
    return pytester.runpytest(*args)


def test_signal_default_is_sigusr1(pytester):
    _signal_case(pytester, "SIGUSR1").assert_outcomes(passed=1)


def test_signal_from_ini(pytester):
    _signal_case(pytester, "SIGINT", ini="SIGINT").assert_outcomes(passed=1)


def test_signal_env_beats_ini(pytester, monkeypatch):
    monkeypatch.setenv("RUNRESUME_SIGNAL", "SIGHUP")
    _signal_case(pytester, "SIGHUP", ini="SIGINT").assert_outcomes(passed=1)


def test_signal_cli_beats_env_and_ini(pytester, monkeypatch):
    monkeypatch.setenv("RUNRESUME_SIGNAL", "SIGHUP")
    _signal_case(pytester, "SIGUSR2", ini="SIGINT", args=("--runresume-signal", "usr2")).assert_outcomes(passed=1)


def test_signal_marker_beats_everything(pytester, monkeypatch):
    monkeypatch.setenv("RUNRESUME_SIGNAL", "SIGHUP")
    result = _signal_case(
        pytester, "SIGTERM", marker=', signal="SIGTERM"', ini="SIGINT", args=("--runresume-signal=SIGUSR2",)
    )
    result.assert_outcomes(passed=1)


def test_signal_by_number(pytester):
    _signal_case(pytester, "SIGTERM", args=("--runresume-signal", "15")).assert_outcomes(passed=1)


def test_empty_env_falls_through_to_ini(pytester, monkeypatch):
    monkeypatch.setenv("RUNRESUME_SIGNAL", "")
    _signal_case(pytester, "SIGINT", ini="SIGINT").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("how", "source"),
    [
        ("cli", "command-line option --runresume-signal"),
        ("env", "environment variable RUNRESUME_SIGNAL"),
        ("ini", "ini key runresume_signal"),
    ],
)
def test_bad_signal_names_the_setting_and_the_source(pytester, monkeypatch, how, source):
    args: tuple[str, ...] = ()
    ini = None
    if how == "cli":
        args = ("--runresume-signal", "SIGNOPE")
    elif how == "env":
        monkeypatch.setenv("RUNRESUME_SIGNAL", "SIGNOPE")
    else:
        ini = "SIGNOPE"
    result = _signal_case(pytester, "SIGUSR1", ini=ini, args=args)
    assert result.ret != 0
    result.stderr.fnmatch_lines([f"ERROR: bad value 'SIGNOPE' for runresume_signal from {source}:*SIGNOPE*"])


def test_bad_default_signal_errors_even_when_the_marker_names_one(pytester):
    """The default is resolved at collection for every session, so a bad CLI value is an error
    even if every marker gives its own signal."""
    result = _signal_case(pytester, "SIGTERM", marker=', signal="SIGTERM"', args=("--runresume-signal", "nope"))
    assert result.ret != 0
    result.stderr.fnmatch_lines(["ERROR: bad value 'nope' for runresume_signal from command-line option*"])


def _timeout_case(pytester, expected, ini=None, args=()):
    if ini is not None:
        pytester.makeini(f"[pytest]\nrunresume_timeout = {ini}\n")
    pytester.makepyfile(test_to=TIMEOUT_TEST.format(expected=expected))
    return pytester.runpytest(*args)


def test_timeout_default(pytester):
    _timeout_case(pytester, 120.0).assert_outcomes(passed=1)


def test_timeout_from_ini(pytester):
    _timeout_case(pytester, 9.0, ini="9").assert_outcomes(passed=1)


def test_timeout_env_beats_ini(pytester, monkeypatch):
    monkeypatch.setenv("RUNRESUME_TIMEOUT", "8.5")
    _timeout_case(pytester, 8.5, ini="9").assert_outcomes(passed=1)


def test_timeout_cli_beats_env_and_ini(pytester, monkeypatch):
    monkeypatch.setenv("RUNRESUME_TIMEOUT", "8.5")
    _timeout_case(pytester, 7.0, ini="9", args=("--runresume-timeout", "7")).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("how", "value", "source", "why"),
    [
        ("cli", "x", "command-line option --runresume-timeout", "*could not convert*"),
        ("cli", "0", "command-line option --runresume-timeout", "must be > 0*"),
        ("env", "-3", "environment variable RUNRESUME_TIMEOUT", "must be > 0*"),
        ("ini", "soon", "ini key runresume_timeout", "*"),
    ],
)
def test_bad_timeout_names_the_setting_and_the_source(pytester, monkeypatch, how, value, source, why):
    args: tuple[str, ...] = ()
    ini = None
    if how == "cli":
        args = ("--runresume-timeout", value)
    elif how == "env":
        monkeypatch.setenv("RUNRESUME_TIMEOUT", value)
    else:
        ini = value
    result = _timeout_case(pytester, 120.0, ini=ini, args=args)
    assert result.ret != 0
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*bad value '{value}' for runresume_timeout from {source}: {why}"])


def test_bad_crash_timeout_is_reported_when_the_server_starts(pytester):
    pytester.makepyfile(
        test_ct="""
        def test_uses_backend(wandb_server):
            pass
        """
    )
    result = pytester.runpytest("--runresume-crash-timeout", "-1")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*bad value '-1' for runresume_crash_timeout from command-line option*"])


def test_crash_timeout_reaches_the_backend(pytester):
    pytester.makepyfile(
        test_ct="""
        def test_uses_backend(wandb_server):
            assert wandb_server.model.crash_timeout == 42.0
        """
    )
    pytester.runpytest("--runresume-crash-timeout", "42").assert_outcomes(passed=1)


def test_help_lists_the_options(pytester):
    result = pytester.runpytest("--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*W&B run-resume harness (pytest-runresume)*",
            "*--runresume-signal*",
            "*--runresume-timeout*",
            "*--runresume-crash-timeout*",
        ]
    )
    result.stdout.fnmatch_lines(["*runresume_signal*", "*runresume_timeout*", "*runresume_crash_timeout*"])


def test_markers_lists_preempt(pytester):
    result = pytester.runpytest("--markers")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["@pytest.mark.preempt(*"])
