"""Unit tests of the resume decision and the starting step (rules R01-R08, R13, R14, R35)."""

from __future__ import annotations

import pytest

from pytest_runresume.model import Outcome, decide_resume, messages, normalize_resume, starting_step

# The S1 table, written out by hand from rules.md section 1: (mode, run exists) -> (outcome, rule).
S1_TABLE = [
    ("must", True, Outcome.RESUME, "R01"),
    ("must", False, Outcome.ERROR, "R02"),
    ("allow", True, Outcome.RESUME, "R03"),
    ("allow", False, Outcome.NEW, "R04"),
    ("never", True, Outcome.ERROR, "R05"),
    ("never", False, Outcome.NEW, "R06"),
    ("auto", True, Outcome.RESUME, "R07"),
    ("auto", False, Outcome.NEW, "R08"),
]


@pytest.mark.rules("R01", "R02", "R03", "R04", "R05", "R06", "R07", "R08")
@pytest.mark.parametrize(("mode", "exists", "outcome", "rule"), S1_TABLE)
def test_r01_r08_decide_resume_table_cell(mode: str, exists: bool, outcome: Outcome, rule: str) -> None:
    """R01-R08: each cell of the S1 table gives its outcome and names its own rule."""
    decision = decide_resume(mode, exists, run_id="run-a")
    assert decision.outcome is outcome
    assert decision.rule == rule
    if outcome is Outcome.ERROR:
        assert decision.error is not None
    else:
        assert decision.error is None


@pytest.mark.rules("R02")
def test_r02_must_missing_error_names_the_run_id() -> None:
    """R02: resume='must' on a missing run is an error that names the run id."""
    decision = decide_resume("must", False, run_id="my-missing-run")
    assert decision.outcome is Outcome.ERROR
    assert decision.error is not None
    assert "my-missing-run" in decision.error


@pytest.mark.rules("R05")
def test_r05_never_existing_error_names_the_run_id() -> None:
    """R05: resume='never' on an existing run is an error that names the run id."""
    decision = decide_resume("never", True, run_id="already-there")
    assert decision.outcome is Outcome.ERROR
    assert decision.error is not None
    assert "already-there" in decision.error


@pytest.mark.rules("R02", "R05")
def test_r02_and_r05_error_texts_differ() -> None:
    """R02/R05: the two error cells explain different problems."""
    must = decide_resume("must", False, run_id="x1")
    never = decide_resume("never", True, run_id="x1")
    assert must.error != never.error


@pytest.mark.rules("R14")
def test_r14_unset_resume_with_existing_run_upserts() -> None:
    """R14: resume unset and the id exists -> no check, no error, upsert into the existing run."""
    decision = decide_resume(None, True, run_id="run-a")
    assert decision.outcome is Outcome.UPSERT
    assert decision.rule == "R14"
    assert decision.error is None


@pytest.mark.rules("R14")
def test_r14_unset_resume_without_existing_run_is_new() -> None:
    """R14: resume unset and no such run -> a new run."""
    decision = decide_resume(None, False, run_id="run-a")
    assert decision.outcome is Outcome.NEW
    assert decision.rule == "R14"
    assert decision.error is None


@pytest.mark.rules("R13")
def test_r13_true_means_auto() -> None:
    """R13: resume=True is an alias of 'auto'."""
    assert normalize_resume(True) == "auto"
    assert decide_resume(True, True) == decide_resume("auto", True)
    assert decide_resume(True, False) == decide_resume("auto", False)
    assert decide_resume(True, True).outcome is Outcome.RESUME
    assert decide_resume(True, False).outcome is Outcome.NEW


@pytest.mark.rules("R13", "R14")
def test_r13_false_means_unset() -> None:
    """R13: resume=False means unset (R14 behaviour), not 'never'."""
    assert normalize_resume(False) is None
    assert decide_resume(False, True).outcome is Outcome.UPSERT
    assert decide_resume(False, True).rule == "R14"
    assert decide_resume(False, False).outcome is Outcome.NEW
    assert decide_resume(False, True).error is None


@pytest.mark.rules("R13", "R18")
@pytest.mark.parametrize("mode", ["must", "allow", "never", "auto"])
def test_r13_r18_normalize_keeps_valid_modes(mode: str) -> None:
    """R13/R18: the four documented modes pass through unchanged; None stays unset."""
    assert normalize_resume(mode) == mode
    assert normalize_resume(None) is None


@pytest.mark.rules("R13", "R18")
@pytest.mark.parametrize("bad", ["bogus", "", "MUST", "true", 1, 0])
def test_r13_bad_resume_mode_raises_value_error(bad: object) -> None:
    """R13/R18: an unknown resume mode raises ValueError naming the value."""
    with pytest.raises(ValueError) as info:
        decide_resume(bad, True)  # type: ignore[arg-type]
    assert str(info.value) == messages.BAD_RESUME_MODE.format(mode=bad)
    assert repr(bad) in str(info.value)


@pytest.mark.rules("R13")
def test_r13_bad_resume_mode_raises_in_normalize_too() -> None:
    """R13: normalize_resume itself rejects an unknown mode."""
    with pytest.raises(ValueError, match="nope"):
        normalize_resume("nope")


@pytest.mark.rules("R35")
def test_r35_no_history_starts_at_zero() -> None:
    """R35: a run with no history yet starts at step 0."""
    assert starting_step(0, None) == 0


@pytest.mark.rules("R35")
def test_r35_three_lines_last_step_two_starts_at_three() -> None:
    """R35: 3 history lines whose last _step is 2 -> the first new step is 3 (as observed with 0.31.0)."""
    assert starting_step(3, 2) == 3


@pytest.mark.rules("R35")
def test_r35_next_step_is_last_plus_one_not_line_count() -> None:
    """R35: the starting step follows the last _step, not the number of lines."""
    assert starting_step(3, 10) == 11
    assert starting_step(10, 3) == 4


@pytest.mark.rules("R35")
def test_r35_history_without_step_starts_at_one() -> None:
    """R35: history exists but no _step is known -> 0 + 1 (SDK processResponse adds 1 when lines > 0)."""
    assert starting_step(2, None) == 1


@pytest.mark.rules("R35")
def test_r35_summary_only_step_without_history_lines() -> None:
    """R35: no history lines, but the summary carries _step 5 -> start at 6, as wandb 0.31.0 does
    (tests/e2e/test_e2e_resume_semantics.py); even a summary _step 0 gives 1. Older releases start
    at it (tests/model/test_model_sdk_aware.py)."""
    assert starting_step(0, 5, (0, 31, 0)) == 6
    assert starting_step(0, 0, (0, 31, 0)) == 1
