"""``runresume check``: the entrypoint battery passes on the example training script and fails, with
the reason, on deliberately broken copies of it (R18, R35, R55, R60, R61, R65-R69, R70b, R70c, R70e)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from pytest_runresume.cli import main
from pytest_runresume.conformance.entrypoint import (
    CHECKS,
    Check,
    CheckResult,
    EntrypointBattery,
    junit_xml,
    resolve_command,
)

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "examples" / "train.py"

#: What the resume="auto" and fallback-id scripts below share after their ``wandb.init``: a handler
#: that marks the run preempting and exits 128 + signum, then steps from ``run.starting_step`` to 5.
HANDLER_AND_LOOP = """def on_preemption(signum, frame):
    run.mark_preempting()
    sys.exit(128 + signum)

signal.signal(signal.SIGUSR1, on_preemption)
for step in range(run.starting_step, 6):
    run.log({"step": step})
run.finish()
"""

AUTO_SCRIPT = (
    """
import signal, sys, wandb

run = wandb.init(project="auto", resume="auto")

"""
    + HANDLER_AND_LOOP
)

# W&B's own auto example takes the id from outside: WANDB_RESUME=auto WANDB_RUN_ID=... python eval.py
AUTO_NEEDS_ID_SCRIPT = (
    """
import os, signal, sys, wandb

run = wandb.init(project="auto-id", id=os.environ["WANDB_RUN_ID"], resume="auto")

"""
    + HANDLER_AND_LOOP
)

# Runs with WANDB_RUN_ID; started without one, its fallback id calls a function wandb does not have
# (as wandb.util.generate_id in 0.31): every first start of a new job would crash before any run.
FALLBACK_CRASH_SCRIPT = (
    """
import os, signal, sys, wandb

run_id = os.environ.get("WANDB_RUN_ID") or wandb.util.no_such_generate_id()
run = wandb.init(project="fallback", id=run_id, resume="allow")

"""
    + HANDLER_AND_LOOP
)

# Resumes after a preemption (the handler saves the id), but ignores WANDB_RUN_ID and persists the id
# it generates only in the handler: a SIGKILL runs no handler (R73), so a restart makes a new run.
ID_IN_HANDLER_SCRIPT = """
import json, secrets, signal, sys
from pathlib import Path
import wandb

ckpt = Path("checkpoint.json")
state = json.loads(ckpt.read_text()) if ckpt.exists() else {}
run = wandb.init(project="late-id", id=state.get("run_id") or secrets.token_hex(4), resume="allow")

def on_preemption(signum, frame):
    ckpt.write_text(json.dumps({"run_id": run.id}))
    run.mark_preempting()
    sys.exit(128 + signum)

signal.signal(signal.SIGUSR1, on_preemption)
for step in range(run.starting_step, 8):
    run.log({"loss": 1.0 / (step + 1)})
run.finish()
ckpt.unlink(missing_ok=True)
"""


def broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    """``examples/train.py`` with one line changed (the line must still be there)."""
    text = TRAIN.read_text()
    assert old in text, f"examples/train.py changed: {old!r} not found"
    path = tmp_path / "train_broken.py"
    path.write_text(text.replace(old, new))
    return path


def run_check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def row(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(name + " "))


def test_the_example_passes_the_battery(tmp_path):
    """The real console entry point, in a subprocess, as a user types it."""
    report = tmp_path / "check.xml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_runresume.cli",
            "check",
            "--junit-xml",
            str(report),
            "--",
            "python",
            "examples/train.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert out.startswith(
        f"runresume check: python {TRAIN}  (SIGUSR1 and SIGKILL after step 2, SIGKILL 30 s after an unfinished SIGUSR1)"
    )
    for name in ("finishes", "preempted", "resumed", "crashed", "restarted_after_kill", "failed"):
        assert " PASSED " in row(out, name), out
    assert "exit 138, preempted at step 2" in row(out, "preempted")
    assert "resumed at step 3 after step 2; steps 0..19 once each" in row(out, "resumed")
    # After a SIGKILL train.py redoes the steps since its last checkpoint (none yet at step 2: R73);
    # W&B numbers the steps, so they go on at 3 and stay contiguous: 3 + 20 of them.
    assert "killed by SIGKILL at step 2; the restart resumed run rr-restarted-after-kill-" in row(
        out, "restarted_after_kill"
    )
    assert "at step 3; steps 0..22 once each, finished" in row(out, "restarted_after_kill")
    for name in ("auto_same_dir", "auto_other_dir"):
        assert "SKIPPED" in row(out, name) and "does not use resume='auto'" in row(out, name)
    assert "6 passed, 0 failed, 2 skipped" in out

    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("8", "0", "2")
    assert [c.get("name") for c in suite.iter("testcase")] == [c.name for c in CHECKS]


@pytest.mark.rules("R66", "R67")
def test_a_handler_that_exits_0_fails_the_preemption_check(tmp_path):
    script = broken_copy(tmp_path, "sys.exit(128 + signum)", "sys.exit(0)")
    report = tmp_path / "check.xml"
    code, out = run_check("--only", "preempted", "--junit-xml", str(report), "--", "python", str(script))
    assert code == 1
    line = row(out, "preempted")
    assert "FAILED" in line
    assert "exit code 0, expected 138" in line and "[bug: handler-exits-zero]" in line and "(R66, R67)" in line
    assert "the SIGUSR1 handler exited 0" in line
    assert "--- preempted:" in out and "signal SIGUSR1 sent" in out  # the timeline follows the table
    assert "0 passed, 1 failed, 0 skipped" in out

    # The output tail in the report has wandb's coloured "wandb:" lines; the file still parses.
    failure = ET.parse(report).getroot().find("testsuite/testcase/failure")
    assert failure is not None and failure.text is not None
    assert "exit code 0, expected 138" in failure.get("message", "")
    assert "[bug: handler-exits-zero] the SIGUSR1 handler exited 0" in failure.get("message", "")
    assert "exit: returncode 0 (exit code 0)" in failure.text
    assert "signal SIGUSR1 sent" in failure.text and "\nwandb: " in failure.text
    assert "\x1b" not in failure.text and "[0m" not in failure.text

    # Beside the JUnit XML: the picture of the failed check's run, named in the output and the XML.
    (picture,) = tmp_path.glob("runresume-check-preempted-*.html")
    assert f"picture: {picture}" in failure.text and str(picture) in out
    text = picture.read_text()
    assert "runresume check: preempted failed: exit code 0, expected 138" in text
    assert 'class="marker marker-signal"' in text and 'data-exit-code="0" data-state="finished"' in text


def test_a_run_id_that_changes_each_start_fails_the_resume_check(tmp_path):
    script = broken_copy(tmp_path, 'run_id = args.run_id or state.get("run_id") or', "run_id = secrets.token_hex(4) or")
    code, out = run_check("--only", "preempted,resumed", "--", "python", str(script))
    assert code == 1
    assert "PASSED" in row(out, "preempted")
    line = row(out, "resumed")
    assert "FAILED" in line and "expected one run id across restarts" in line and "WANDB_RUN_ID" in line


@pytest.mark.rules("R69")
def test_mark_preempting_right_after_init_fails_the_exception_and_crash_checks(tmp_path):
    """The R69 anti-pattern: every failure would count as a preemption and be requeued."""
    script = broken_copy(
        tmp_path,
        '    start = state["step"] + 1\n',
        '    start = state["step"] + 1\n    run.mark_preempting()\n',
    )
    code, out = run_check("--only", "failed,crashed", "--", "python", str(script))
    assert code == 1
    assert "FAILED" in row(out, "failed") and "(R69)" in row(out, "failed")
    assert "FAILED" in row(out, "crashed") and "'preempting'" in row(out, "crashed") and "(R69)" in row(out, "crashed")


def test_an_auto_resume_entrypoint_gets_the_auto_checks(tmp_path):
    script = tmp_path / "auto_train.py"
    script.write_text(textwrap.dedent(AUTO_SCRIPT))
    code, out = run_check("--only", "auto_same_dir,auto_other_dir", "--", "python", str(script))
    assert code == 0, out
    assert "PASSED" in row(out, "auto_same_dir") and "resumed from its wandb-resume.json" in out
    assert "PASSED" in row(out, "auto_other_dir") and "another directory made a new run" in out


def test_auto_checks_skip_a_command_that_needs_its_run_id_from_outside(tmp_path):
    """The auto checks test the id-less path (the id from wandb-resume.json), so they run the command
    without WANDB_RUN_ID; a command that cannot run without one is skipped with that reason, not
    failed with "exited before reaching the trigger point". The id checks still run it (R18)."""
    script = tmp_path / "auto_needs_id.py"
    script.write_text(textwrap.dedent(AUTO_NEEDS_ID_SCRIPT))
    code, out = run_check("--only", "preempted,resumed,auto_same_dir,auto_other_dir", "--", "python", str(script))
    assert code == 0, out
    assert "PASSED" in row(out, "preempted") and "PASSED" in row(out, "resumed")
    for name in ("auto_same_dir", "auto_other_dir"):
        line = row(out, name)
        assert "SKIPPED" in line, out
        assert "the command needs its run id from outside (WANDB_RUN_ID): without it, it exited with code 1" in line
        assert "before any run and wrote no wandb/wandb-resume.json" in line and "KeyError: 'WANDB_RUN_ID'" in line
        assert "run it without WANDB_RUN_ID by definition" in line
        assert "finding the id in wandb/wandb-resume.json of the working directory" in line
        assert "trigger point" not in line
    assert "2 passed, 0 failed, 2 skipped" in out


def test_auto_checks_fail_a_command_whose_id_less_start_crashes(tmp_path):
    """Started without WANDB_RUN_ID (the auto checks' start, as a new job's), the command crashes on
    something other than its run id: a bug on the path every first start takes, failed and named
    with the exception, not skipped as "needs its run id from outside" (found by a newcomer whose
    fallback called wandb.util.generate_id, which wandb 0.31 no longer has)."""
    script = tmp_path / "fallback_crash.py"
    script.write_text(textwrap.dedent(FALLBACK_CRASH_SCRIPT))
    code, out = run_check("--only", "preempted,auto_same_dir", "--", "python", str(script))
    assert code == 1, out
    assert "PASSED" in row(out, "preempted")
    line = row(out, "auto_same_dir")
    assert "FAILED" in line, out
    assert "started without WANDB_RUN_ID, the command crashed before any run (exit code 1)" in line
    assert "AttributeError" in line and "no_such_generate_id" in line
    assert "needs its run id from outside" not in line


def test_the_help_says_which_checks_give_the_run_id():
    code, out = run_check("--help")
    assert code == 0
    text = " ".join(out.split())
    assert (
        "finishes, preempted, crashed, restarted_after_kill and failed give the command a new run id in "
        "WANDB_RUN_ID (restarted_after_kill: the same one to the killed start and the restart" in text
    )
    assert "resumed gives it the preempted check's id again" in text
    assert 'The two resume="auto" checks run it without WANDB_RUN_ID' in text
    assert "needs its run id from outside" in text


@pytest.mark.rules("R21", "R28")
def test_an_id_persisted_only_in_the_handler_fails_the_restart_after_kill(tmp_path):
    """The preemption path hides it (the handler saves the id, the restart resumes); a SIGKILL runs no
    handler, so the restart writes a new run (R21, R28, R63, R73)."""
    script = tmp_path / "id_in_handler.py"
    script.write_text(textwrap.dedent(ID_IN_HANDLER_SCRIPT))
    code, out = run_check("--only", "preempted,resumed,restarted_after_kill", "--", "python", str(script))
    assert code == 1
    assert "PASSED" in row(out, "preempted") and "PASSED" in row(out, "resumed")
    line = row(out, "restarted_after_kill")
    assert "FAILED" in line
    written = re.search(r"the restart after SIGKILL wrote run (\w+), not (\w+): ", line)
    assert written is not None and written.group(1) != written.group(2), line
    assert (
        "the run id is persisted too late (only in the preemption handler or after training) — fix it before "
        "wandb.init and persist it before training (R21, R28); it also ignores WANDB_RUN_ID (rr-restarted-after-kill-"
    ) in line
    details = out.split("--- restarted_after_kill:", 1)[1]
    assert "=== killed start ===" in details and "signal SIGKILL sent" in details and "=== restart ===" in details
    assert "2 passed, 1 failed, 0 skipped" in out


@pytest.mark.rules("R14", "R35")
def test_a_restart_without_resume_fails_the_restart_after_kill(tmp_path):
    """Same id, resume unset: wandb.init writes the run again from step 0 instead of resuming (R14, R35)."""
    script = broken_copy(tmp_path, ', resume="allow"', "")
    code, out = run_check("--only", "restarted_after_kill", "--", "python", str(script))
    assert code == 1
    line = row(out, "restarted_after_kill")
    assert "FAILED" in line and "the restart did not resume (no resume= on wandb.init, or no WANDB_RESUME)" in line
    assert "instead of continuing after step 2; pass resume='allow' or 'must' with the run id" in line


@pytest.mark.rules("R57")
def test_the_exception_injection_fails_the_run(runresume):
    """The harness hook's RUNRESUME_INJECT_EXCEPTION_AT_STEP: run.log raises after that step (R57)."""
    result = runresume.run(["python", str(TRAIN), "--run-id", "inj"], env={"RUNRESUME_INJECT_EXCEPTION_AT_STEP": "2"})
    result.expect(state="failed", exit_code=1, requeueable=False)
    assert result.run.steps == [0, 1, 2]
    assert "RuntimeError: pytest-runresume: exception injected after step 2" in result.stderr


def test_target_group_signals_the_whole_tree_of_the_example():
    """--target group, as the preempt marker's target: the preemption signal and the SIGKILL go to every
    process of the command's tree (train.py and wandb-core), and the example still passes (R67, R70c)."""
    code, out = run_check("--target", "group", "--only", "preempted,resumed,crashed", "--", "python", str(TRAIN))
    assert code == 0, out
    assert out.startswith(f"runresume check: python {TRAIN}  (SIGUSR1 and SIGKILL after step 2, sent to the group, ")
    assert "PASSED" in row(out, "resumed")
    for name, sig in (("preempted", "SIGUSR1"), ("crashed", "SIGKILL")):
        line = row(out, name)
        sent = re.search(rf"\({sig} sent to (\d+) processes, target group\)", line)
        assert "PASSED" in line and sent is not None and int(sent.group(1)) >= 2, line  # not only train.py
    assert "3 passed, 0 failed, 0 skipped" in out


def test_bad_options_are_usage_errors():
    code, out = run_check("--only", "nope", "--", "python", "x.py")
    assert code == 2 and "unknown check(s) ['nope']" in out
    code, out = run_check("--target", "session", "--", "python", "x.py")
    assert code == 2 and "Invalid value for '--target'" in out and "'session' is not one of" in out
    assert "'process', 'point', 'group'" in out
    with pytest.raises(ValueError, match="unknown signal target 'session'"):
        EntrypointBattery("python x.py", target="session")
    code, out = run_check("--signal", "SIGNOPE", "--", "python", "x.py")
    assert code == 2 and "SIGNOPE" in out
    code, out = run_check()
    assert code == 2 and "COMMAND" in out


def test_a_missing_script_fails_every_check_with_the_reason(tmp_path):
    code, out = run_check("--only", "finishes", "--", "python", str(tmp_path / "missing.py"))
    assert code == 1
    assert "FAILED" in row(out, "finishes") and "wrote 0 runs" in row(out, "finishes")
    assert "No such file or directory" in out


def test_resolve_command_makes_existing_relative_paths_absolute(tmp_path):
    (tmp_path / "train.py").write_text("")
    (tmp_path / "conf.yaml").write_text("")
    argv = resolve_command("python train.py --config conf.yaml --ckpt ckpt.json -v", tmp_path)
    assert argv == [
        "python",
        str(tmp_path / "train.py"),
        "--config",
        str(tmp_path / "conf.yaml"),
        "--ckpt",
        "ckpt.json",
        "-v",
    ]
    with pytest.raises(ValueError):
        resolve_command("", tmp_path)


def test_junit_xml_names_each_check_and_its_rules():
    check = Check("x", "title", ("R01", "R02"))
    results = [
        CheckResult(check, "passed", "fine", duration=1.5),
        CheckResult(Check("y", "t", ("R03",)), "failed", "broke <here>", "timeline & output"),
        CheckResult(Check("z", "t", ()), "skipped", "not used"),
    ]
    root = ET.fromstring(junit_xml(results, "python train.py"))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("failures") == "1" and suite.get("skipped") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["x"].find("properties/property").get("value") == "R01 R02"  # type: ignore[union-attr]
    failure = cases["y"].find("failure")
    assert failure is not None and failure.get("message") == "broke <here>" and failure.text == "timeline & output"
    assert re.search(r'name="command" value="python train.py"', junit_xml(results, "python train.py").decode())


COLOURED_TAIL = (
    "--- stderr (last 3 lines) ---\n"
    "\x1b[1;34mwandb\x1b[0m: \U0001f680 View run \x1b[33mrr-x\x1b[0m at: \x1b[34mhttp://127.0.0.1/r\x1b[0m\n"
    "progress\r50%\x08\x08\x0b\x0c\x00 \x1b]0;title\x07done\x1b[?25h\n"
    "Traceback: KeyError: 'WANDB_RUN_ID'\x1b[K"
)


def test_junit_xml_parses_with_colour_codes_and_control_characters(tmp_path):
    """wandb colours its lines (ESC[1;34m); other control characters are not XML 1.0 either."""
    results = [
        CheckResult(
            Check("preempted", "t", ("X1",)), "failed", "exit code 0, \x1b[31mexpected 138\x1b[0m\x01", COLOURED_TAIL
        ),
        CheckResult(Check("auto_same_dir", "t", ("X2",)), "skipped", "\x1b[2mno resume file\x1b[0m\x02"),
        CheckResult(Check("finishes", "t", ("X3",)), "passed", "exit 0\x1b[0m, finished\x7f\x1b"),
    ]
    path = tmp_path / "check.xml"
    path.write_bytes(junit_xml(results, "python train.py --tag \x1b[1mx\x1b[0m\x03"))
    root = ET.parse(path).getroot()
    assert root.find("testsuite/properties/property").get("value") == "python train.py --tag x"  # type: ignore[union-attr]
    cases = {c.get("name"): c for c in root.iter("testcase")}
    failure = cases["preempted"].find("failure")
    assert failure is not None and failure.get("message") == "exit code 0, expected 138"
    assert failure.text == (
        "--- stderr (last 3 lines) ---\n"
        "wandb: \U0001f680 View run rr-x at: http://127.0.0.1/r\n"
        "progress\n50% done\n"  # the parser reads a lone CR as a newline
        "Traceback: KeyError: 'WANDB_RUN_ID'"
    )
    assert cases["auto_same_dir"].find("skipped").get("message") == "no resume file"  # type: ignore[union-attr]
    assert cases["finishes"].find("system-out").text == "exit 0, finished\x7f"  # type: ignore[union-attr]


def test_xml_text_strips_ansi_sequences_and_drops_what_xml_forbids():
    from pytest_runresume.conformance.entrypoint import xml_text

    assert xml_text("\x1b[1;34mwandb\x1b[0m: ok") == "wandb: ok"
    assert xml_text("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b") == "alinkb"  # OSC 8 hyperlink
    assert xml_text("\x9b31mred\x1bc\x1b(Bx") == "redx"  # 8-bit CSI, RIS, charset selection
    assert xml_text("\x00\x08\x0b\x0c\x1f\ud800\ufffe|\t\n\r|\u00e9\U0001f680") == "|\t\n\r|\u00e9\U0001f680"
