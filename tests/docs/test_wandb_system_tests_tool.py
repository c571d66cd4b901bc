"""``tools/wandb_system_tests.py`` without W&B's source: its reading of pytest's JUnit report, its
table, its out-of-scope list and its argument checks (running W&B's suite is the tool's job, not
this test's)."""

from __future__ import annotations

import pytest
from docs_pages import load_tool

tool = load_tool("wandb_system_tests")

REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="6">
<testcase classname="tests.system_tests.test_core.test_resume" name="test_a"
  file="tests/system_tests/test_core/test_resume.py" time="1.0"/>
<testcase classname="tests.system_tests.test_core.test_resume" name="test_b"
  file="tests/system_tests/test_core/test_resume.py" time="1.0">
  <failure message="AssertionError: long">def test_b():
&gt;       assert 1 == 2
E       AssertionError: assert 1 == 2
E         more</failure></testcase>
<testcase classname="tests.system_tests.test_core.test_resume" name="test_c"
  file="tests/system_tests/test_core/test_resume.py" time="1.0">
  <error message="failed on setup with &quot;boom&quot;">setup text without E lines</error></testcase>
<testcase classname="tests.system_tests.test_api.test_public_api_history.TestHistory" name="test_d" time="1.0">
  <skipped type="pytest.skip" message="Server doesn't support it">skip</skipped></testcase>
<testcase classname="tests.system_tests.test_api.test_public_api_history" name="test_e" time="1.0">
  <skipped type="pytest.skip" message="out of scope: teams">skip</skipped></testcase>
<testcase classname="tests.system_tests.test_api.test_public_api_history" name="test_f" time="1.0">
  <failure message="in call">E   first</failure><error message="on teardown">E   second</error></testcase>
</testsuite></testsuites>
"""


def test_the_report_is_counted_per_file_in_file_order():
    counts = tool.parse_junit(REPORT)
    assert list(counts) == ["test_core/test_resume.py", "test_api/test_public_api_history.py"]
    resume, history = counts.values()
    assert (resume.passed, resume.failed, resume.skipped, resume.out_of_scope) == (1, 2, 0, 0)
    assert resume.failures == [("test_b", "AssertionError: assert 1 == 2"), ("test_c", 'failed on setup with "boom"')]
    # a class's tests go to the class's file; a test failing in call and teardown counts once
    assert (history.passed, history.failed, history.skipped, history.out_of_scope) == (0, 1, 1, 1)
    assert history.failures == [("test_f", "first")]


def test_the_table_has_a_row_per_file_sorted_and_a_total():
    text = tool.table(tool.parse_junit(REPORT))
    assert text.splitlines()[2:4] == [
        "| test_api/test_public_api_history.py | 0 | 1 | 1 | 1 | 3 |",
        "| test_core/test_resume.py | 1 | 2 | 0 | 0 | 3 |",
    ]
    assert text.splitlines()[-1] == "| **total** | 1 | 3 | 1 | 1 | 6 |"
    assert tool.failure_list(tool.parse_junit(REPORT)).splitlines() == [
        "- test_api/test_public_api_history.py::test_f: first",
        "- test_core/test_resume.py::test_b: AssertionError: assert 1 == 2",
        '- test_core/test_resume.py::test_c: failed on setup with "boom"',
    ]


@pytest.mark.parametrize("text", ["not xml", "<html><body/></html>"])
def test_what_is_not_a_junit_report_is_a_named_error(text):
    with pytest.raises(tool.ReportError, match="not a JUnit XML report"):
        tool.parse_junit(text)


def test_out_of_scope_tests_are_named_with_their_reason():
    assert tool.out_of_scope_reason("tests/system_tests/test_artifacts/test_x.py::test_y") == "artifacts"
    assert tool.out_of_scope_reason("test_core/test_public_api.py::test_create_team") == "teams"
    assert tool.out_of_scope_reason("test_core/test_public_api.py::test_create_team_member") is None
    assert tool.out_of_scope_reason("test_core/test_resume.py::test_resume_must__no_run__raises") is None


def test_the_pytest_command_loads_the_plugin_and_names_the_tests(tmp_path):
    command = tool.pytest_command(tmp_path, ["test_core/test_resume.py"], 1, tmp_path / "j.xml", None)
    assert command[command.index("-p") + 1] == "wandb_system_tests_plugin"
    assert command[-3:] == ["-n", "0", "tests/system_tests/test_core/test_resume.py"]
    assert "addopts=" in command and f"--junitxml={tmp_path / 'j.xml'}" in command
    assert "--capture=tee-sys" in command  # the SDK's console capture sees what tests print


def test_bad_arguments_are_refused_before_anything_runs(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        tool.main(["--wandb-src", str(tmp_path), "test_core/test_resume.py"])
    assert exc.value.code == 2
    assert "not a checkout of wandb's repository" in capsys.readouterr().err
    (tmp_path / "tests" / "system_tests").mkdir(parents=True)
    (tmp_path / "tests" / "system_tests" / "conftest.py").write_text("")
    with pytest.raises(SystemExit):
        tool.main(["--wandb-src", str(tmp_path), "test_core/test_nothing.py"])
    assert "not under" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main(["--wandb-src", str(tmp_path), "-n", "0", "test_core"])
    assert "at least 1 worker" in capsys.readouterr().err
