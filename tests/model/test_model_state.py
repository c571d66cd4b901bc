"""Unit tests of the server-side run state derivation and the run record.

Rules R42, R43, R50, R53, R55, R58, R60, R61, R65, R66, R70, R71. Every time-dependent test moves a
:class:`ManualClock`; nothing sleeps.
"""

from __future__ import annotations

import json

import pytest

from pytest_runresume.model import (
    DEFAULT_CRASH_TIMEOUT,
    STATES,
    TERMINAL_STATES,
    Attempt,
    ManualClock,
    RunKey,
    RunRecord,
    derive_state,
    messages,
    run_state,
)

TIMEOUT = 300.0


def _attempt(clock: ManualClock, **kw: object) -> Attempt:
    return Attempt(number=1, started_at=clock.now(), resumed=False, start_line=0, last_heard=clock.now(), **kw)  # type: ignore[arg-type]


def _record(run_id: str = "run-a") -> RunRecord:
    return RunRecord(key=RunKey("ent", "proj", run_id), storage_id="sid", created_at=0.0)


def _hist(step: int, **extra: object) -> str:
    return json.dumps({"_step": step, **extra})


# ---- states as spelled -------------------------------------------------------------------------------


@pytest.mark.rules("R51")
def test_r51_state_names_are_lowercase_and_complete() -> None:
    """R51/A13: the wire spells states in lowercase; the six documented ones plus preempting/preempted."""
    assert set(STATES) == {
        "running",
        "finished",
        "failed",
        "crashed",
        "killed",
        "preempting",
        "preempted",
        "pending",
    }
    assert all(s == s.lower() for s in STATES)


@pytest.mark.rules("R50", "R51")
def test_r50_terminal_states_exclude_alive_ones() -> None:
    """R50/R51: running, pending and preempting are alive; the rest are terminal."""
    assert TERMINAL_STATES == {"finished", "failed", "crashed", "killed", "preempted"}


@pytest.mark.rules("R61")
def test_r61_default_crash_timeout_is_about_five_minutes() -> None:
    """R61: the crash timeout defaults to about five minutes."""
    assert DEFAULT_CRASH_TIMEOUT == 5 * 60


# ---- derive_state: every branch ----------------------------------------------------------------------


@pytest.mark.rules("R50", "R53")
def test_r50_r53_no_attempt_is_pending() -> None:
    """R50/R53: a run created but never started is pending, however much time passes."""
    assert derive_state(None, 0.0, TIMEOUT) == "pending"
    assert derive_state(None, 1e12, TIMEOUT) == "pending"


@pytest.mark.rules("R50", "R60")
def test_r60_fresh_attempt_is_running() -> None:
    """R50/R60: a process that was heard from recently is running."""
    clock = ManualClock()
    a = _attempt(clock)
    assert derive_state(a, clock.now(), TIMEOUT) == "running"
    clock.advance(TIMEOUT / 2)
    assert derive_state(a, clock.now(), TIMEOUT) == "running"


@pytest.mark.rules("R55", "R70a")
def test_r55_r70a_complete_exit_zero_is_finished() -> None:
    """R55/R70a: complete with exit code 0 -> finished."""
    clock = ManualClock()
    a = _attempt(clock, complete=True, exit_code=0)
    assert derive_state(a, clock.now(), TIMEOUT) == "finished"


@pytest.mark.rules("R66", "R70a")
def test_r66_r70a_exit_zero_with_preempting_is_still_finished() -> None:
    """R66/R70a: exit 0 always wins, even after mark_preempting() ('always' column)."""
    clock = ManualClock()
    a = _attempt(clock, preempting=True, complete=True, exit_code=0)
    assert derive_state(a, clock.now(), TIMEOUT) == "finished"


@pytest.mark.rules("R55", "R66", "R70b")
def test_r55_r66_complete_nonzero_is_failed() -> None:
    """R55/R66/R70b 'none' column: complete with a non-zero exit and no preempting -> failed."""
    clock = ManualClock()
    for code in (1, 3, 137, 255):
        a = _attempt(clock, complete=True, exit_code=code)
        assert derive_state(a, clock.now(), TIMEOUT) == "failed", code


@pytest.mark.rules("R66", "R70b", "R71")
def test_r66_r70b_r71_preempting_then_nonzero_exit_is_preempted() -> None:
    """R66/R70b-e/R71: mark_preempting() then a non-zero exit -> preempted at once."""
    clock = ManualClock()
    a = _attempt(clock, preempting=True, complete=True, exit_code=143)
    assert derive_state(a, clock.now(), TIMEOUT) == "preempted"


@pytest.mark.rules("R58")
def test_r58_stop_requested_then_exit_255_is_killed() -> None:
    """R58: the server asked the run to stop and it exited 255 -> killed, not failed."""
    clock = ManualClock()
    a = _attempt(clock, stop_requested=True, complete=True, exit_code=255)
    assert derive_state(a, clock.now(), TIMEOUT) == "killed"


@pytest.mark.rules("R58", "R70a")
def test_r58_stop_requested_but_exit_zero_is_finished() -> None:
    """R58/R70a: exit 0 wins over a stop request."""
    clock = ManualClock()
    a = _attempt(clock, stop_requested=True, complete=True, exit_code=0)
    assert derive_state(a, clock.now(), TIMEOUT) == "finished"


@pytest.mark.rules("R60", "R61")
def test_r60_r61_crashed_exactly_at_the_timeout_boundary() -> None:
    """R60/R61: silent for just under the timeout -> running; exactly the timeout -> crashed."""
    clock = ManualClock(start=1_000_000.0)
    a = _attempt(clock)
    clock.advance(TIMEOUT - 0.5)  # binary-exact steps: no float drift at the boundary
    assert derive_state(a, clock.now(), TIMEOUT) == "running"
    clock.advance(0.5)
    assert clock.now() - a.last_heard == TIMEOUT
    assert derive_state(a, clock.now(), TIMEOUT) == "crashed"
    clock.advance(1.0)
    assert derive_state(a, clock.now(), TIMEOUT) == "crashed"


@pytest.mark.rules("R59")
def test_r59_a_process_whose_sweep_was_cancelled_is_killed_not_crashed_when_silent() -> None:
    """R59: a fact of the process (its sweep was cancelled while it ran), read by the one state
    function: silent past the timeout -> killed; still heard from -> running; an exit it reported
    itself still decides (a cancelled sweep does not rewrite a finished process)."""
    clock = ManualClock()
    a = _attempt(clock, killed_by_cancel=True)
    assert derive_state(a, clock.now(), TIMEOUT) == "running"
    clock.advance(TIMEOUT)
    assert derive_state(a, clock.now(), TIMEOUT) == "killed"
    done = _attempt(clock, killed_by_cancel=True, complete=True, exit_code=0)
    assert derive_state(done, clock.now() + 2 * TIMEOUT, TIMEOUT) == "finished"


@pytest.mark.rules("R52")
def test_r52_run_state_answers_a_state_set_through_the_api_until_a_process_starts_again() -> None:
    """R52: ``run_state`` is the one function: a forced state wins over the process's own."""
    clock = ManualClock()
    rec = _record()
    assert run_state(rec, clock.now(), TIMEOUT) == "pending"
    rec.forced_state = "failed"
    assert run_state(rec, clock.now(), TIMEOUT) == "failed"
    rec.attempts.append(_attempt(clock))
    assert run_state(rec, clock.now(), TIMEOUT) == "failed"
    rec.forced_state = None
    assert run_state(rec, clock.now(), TIMEOUT) == "running"


@pytest.mark.rules("R61")
def test_r61_crash_timeout_is_a_parameter() -> None:
    """R61: the timeout is the one passed in, not a fixed five minutes."""
    clock = ManualClock()
    a = _attempt(clock)
    clock.advance(10.0)
    assert derive_state(a, clock.now(), 10.0) == "crashed"
    assert derive_state(a, clock.now(), 11.0) == "running"


@pytest.mark.rules("R65")
def test_a01_r65_preempting_while_alive() -> None:
    """A01/R65: mark_preempting() received and the process still heard from -> preempting."""
    clock = ManualClock()
    a = _attempt(clock, preempting=True)
    assert derive_state(a, clock.now(), TIMEOUT) == "preempting"
    clock.advance(TIMEOUT - 1)
    assert derive_state(a, clock.now(), TIMEOUT) == "preempting"


@pytest.mark.rules("R70c", "R70e")
def test_r70c_r70e_preempting_then_silence_is_preempted_not_crashed() -> None:
    """R70c/R70e 'always' column: preempting seen, then no exit report and silence -> preempted after the timeout."""
    clock = ManualClock()
    a = _attempt(clock, preempting=True)
    clock.advance(TIMEOUT)
    assert derive_state(a, clock.now(), TIMEOUT) == "preempted"


@pytest.mark.rules("R70c")
def test_r70c_without_preempting_silence_is_crashed() -> None:
    """R70c 'none' column: SIGKILL without mark_preempting() -> crashed after the timeout."""
    clock = ManualClock()
    a = _attempt(clock)
    clock.advance(TIMEOUT + 60)
    assert derive_state(a, clock.now(), TIMEOUT) == "crashed"


@pytest.mark.rules("R55", "R60", "R66")
@pytest.mark.parametrize(
    ("kw", "state"),
    [
        ({"complete": True, "exit_code": 0}, "finished"),
        ({"complete": True, "exit_code": 1}, "failed"),
        ({"complete": True, "exit_code": 1, "preempting": True}, "preempted"),
        ({"complete": True, "exit_code": 255, "stop_requested": True}, "killed"),
    ],
)
def test_r55_r66_completed_states_do_not_decay_into_crashed(kw: dict[str, object], state: str) -> None:
    """R55/R60/R66: a run that reported its exit keeps its state however long it stays silent."""
    clock = ManualClock()
    a = _attempt(clock, **kw)
    clock.advance(TIMEOUT * 100)
    assert derive_state(a, clock.now(), TIMEOUT) == state


# ---- RunRecord: resume existence (R43) ---------------------------------------------------------------


@pytest.mark.rules("R43")
@pytest.mark.parametrize(
    "config",
    [
        {},
        {"lr": {"value": 0.1}},
        {"_wandb": {"value": {}}},
        {"_wandb": {"value": {"cli_version": "0.31.0"}}},
        {"_wandb": {"t": {"1": [1]}}},  # t not under "value"
        {"_wandb": "t"},
        {"_wandb": {"value": "t"}},
    ],
)
def test_r43_exists_for_resume_needs_wandb_value_t(config: dict[str, object]) -> None:
    """R43: without _wandb.value.t the run counts as missing for resume."""
    rec = _record()
    rec.config = config
    assert rec.exists_for_resume is False
    assert rec.wandb_config() == {}


@pytest.mark.rules("R43")
def test_r43_exists_for_resume_with_wandb_value_t() -> None:
    """R43: a config with _wandb.value.t makes the run exist; wandbConfig exposes t."""
    rec = _record()
    t = {"1": [1, 55], "2": [1, 55]}
    rec.config = {"lr": {"value": 0.1}, "_wandb": {"value": {"t": t, "cli_version": "0.31.0"}}}
    assert rec.exists_for_resume is True
    assert rec.wandb_config() == {"t": t}


# ---- RunRecord: line files and last step (R36, R42) --------------------------------------------------


@pytest.mark.rules("R36")
def test_r36_write_lines_at_offsets() -> None:
    """R36: lines land at their offsets; consecutive posts append."""
    rec = _record()
    assert rec.write_lines("wandb-history.jsonl", 0, [_hist(0), _hist(1)]) == []
    assert rec.write_lines("wandb-history.jsonl", 2, [_hist(2)]) == []
    assert rec.history_lines == [_hist(0), _hist(1), _hist(2)]
    assert [row["_step"] for row in rec.history] == [0, 1, 2]
    assert rec.steps == [0, 1, 2]


@pytest.mark.rules("R36")
def test_r36_retried_post_same_offset_is_not_duplicated() -> None:
    """R36: a retried post with the same offset and content stores nothing twice and is no problem."""
    rec = _record()
    rec.write_lines("wandb-history.jsonl", 0, [_hist(0), _hist(1)])
    assert rec.write_lines("wandb-history.jsonl", 0, [_hist(0), _hist(1)]) == []
    assert rec.history_lines == [_hist(0), _hist(1)]
    # an overlapping retry that also carries a new line appends only the new line
    assert rec.write_lines("wandb-history.jsonl", 1, [_hist(1), _hist(2)]) == []
    assert rec.history_lines == [_hist(0), _hist(1), _hist(2)]


@pytest.mark.rules("R36")
def test_r36_offset_gap_is_a_problem_but_lines_kept_at_index() -> None:
    """R36: an offset gap is reported, the missing indexes stay empty, the lines land at their offset."""
    rec = _record()
    rec.write_lines("wandb-history.jsonl", 0, [_hist(0)])
    problems = rec.write_lines("wandb-history.jsonl", 3, [_hist(3), _hist(4)])
    assert problems == [
        messages.OFFSET_GAP.format(path="ent/proj/run-a", file="wandb-history.jsonl", offset=3, have=1, gap_end=2)
    ]
    assert rec.history_lines == [_hist(0), None, None, _hist(3), _hist(4)]
    assert rec.steps == [0, None, None, 3, 4]
    assert [row["_step"] for row in rec.history] == [0, 3, 4]
    assert rec.last_step == 4


@pytest.mark.rules("R36")
def test_r36_filling_a_gap_later_is_not_a_rewrite() -> None:
    """R36: late lines that fill a gap are stored without a rewrite problem."""
    rec = _record()
    rec.write_lines("wandb-history.jsonl", 2, [_hist(2)])
    assert rec.write_lines("wandb-history.jsonl", 0, [_hist(0), _hist(1)]) == []
    assert rec.history_lines == [_hist(0), _hist(1), _hist(2)]
    assert rec.steps == [0, 1, 2]


@pytest.mark.rules("R36")
@pytest.mark.parametrize("name", ["wandb-history.jsonl", "wandb-events.jsonl"])
def test_r36_rewrite_with_different_content_is_recorded(name: str) -> None:
    """R36: history and events are append-only; rewriting a line with other content is a problem."""
    rec = _record()
    rec.write_lines(name, 0, [_hist(0, loss=1.0), _hist(1, loss=0.5)])
    problems = rec.write_lines(name, 1, [_hist(1, loss=0.25)])
    assert problems == [messages.LINE_REWRITTEN.format(path="ent/proj/run-a", index=1, file=name)]


@pytest.mark.rules("R36")
def test_r36_output_log_rewrite_is_silent() -> None:
    """R36: output.log lines are rewritten in place by the console writer; no problem, latest wins."""
    rec = _record()
    rec.write_lines("output.log", 0, ["epoch 1 [=>   ]"])
    assert rec.write_lines("output.log", 0, ["epoch 1 [====]", "done"]) == []
    assert rec.files["output.log"] == ["epoch 1 [====]", "done"]


@pytest.mark.rules("R42")
def test_r42_last_step_tracks_largest_step() -> None:
    """R42: last_step is the largest _step in history; lines without _step leave it alone."""
    rec = _record()
    assert rec.last_step is None
    rec.write_lines("wandb-history.jsonl", 0, [json.dumps({"loss": 1.0})])
    assert rec.last_step is None
    rec.write_lines("wandb-history.jsonl", 1, [_hist(0), _hist(1), _hist(2)])
    assert rec.last_step == 2
    rec.write_lines("wandb-history.jsonl", 4, [json.dumps({"note": "no step"}), "not json"])
    assert rec.last_step == 2
    # R14: a non-resumed process restarts at step 0 and appends duplicate steps
    rec.write_lines("wandb-history.jsonl", 6, [_hist(0)])
    assert rec.last_step == 2
    rec.write_lines("wandb-history.jsonl", 7, [_hist(9)])
    assert rec.last_step == 9


@pytest.mark.rules("R42")
def test_r42_bool_step_is_not_a_step() -> None:
    """R42: a boolean _step is not a step number."""
    rec = _record()
    rec.write_lines("wandb-history.jsonl", 0, [json.dumps({"_step": True})])
    assert rec.last_step is None
    assert rec.steps == [None]


@pytest.mark.rules("R42")
def test_r42_events_and_output_do_not_move_last_step() -> None:
    """R42: only history lines count for the last history step."""
    rec = _record()
    rec.write_lines("wandb-events.jsonl", 0, [_hist(50)])
    rec.write_lines("output.log", 0, [_hist(60)])
    assert rec.last_step is None
    assert rec.history_lines == []
