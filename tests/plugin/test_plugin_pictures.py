"""A failed harness test points to the picture of its run: the "runresume timeline" section names an
HTML file in the test's ``tmp_path`` that exists and holds the run's SVG; with pytest-html, the
picture is in the HTML report too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TRAIN = Path(__file__).resolve().parents[2] / "examples" / "train.py"


def test_a_failed_harness_test_names_the_picture_of_its_run(pytester):
    pytest.importorskip("pytest_html")
    pytester.makepyfile(
        test_pictured=f"""
        def test_fails_after_a_real_run(runresume):
            runresume.run(["python", {str(TRAIN)!r}, "--run-id", "pictured", "--steps", "3"])
            assert False, "failed after the run"
        """
    )
    report = pytester.path / "report.html"
    result = pytester.runpytest("-p", "no:cacheprovider", f"--html={report}", "--self-contained-html")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "runresume timeline" in out
    (line,) = [line for line in out.splitlines() if line.startswith("picture of ")]
    match = re.fullmatch(r"picture of runresume-runresume-example-pictured: (/\S+\.html)", line)
    assert match, line
    picture = Path(match.group(1))
    assert picture.is_file() and picture.parent.name.startswith("test_fails_after_a_real_run")
    text = picture.read_text()
    assert "test_pictured.py::test_fails_after_a_real_run failed" in text
    assert 'class="run-chart"' in text and 'data-exit-code="0" data-state="finished"' in text
    assert "<script" not in text  # a standalone file: no script, nothing loaded from elsewhere
    html_report = report.read_text()
    assert "run-chart" in html_report and "testent/runresume-example/pictured" in html_report
