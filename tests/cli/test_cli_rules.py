"""``runresume rules``: the rules table as package data, the coverage scan, and the generated
``docs/rules.md`` (which must be what the command gives now).

The R-ids in this file are test data: runresume: not rule coverage.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from pytest_runresume.cli import main
from pytest_runresume.cli.coverage import compute, mentioned_ids, render_markdown
from pytest_runresume.rules import BY_ID, CONTRADICTIONS, RULES

ROOT = Path(__file__).resolve().parents[2]
RULES_MD = ROOT / "pytest_runresume" / "rules.md"


def test_every_rule_id_is_in_the_table_once():
    expected = [f"R{i:02d}" for i in range(1, 98)]
    expected[69:70] = ["R70", "R70a", "R70b", "R70c", "R70d", "R70e"]
    assert [r.id for r in RULES] == expected
    assert len(BY_ID) == 102
    assert [a.id for a in CONTRADICTIONS] == [f"A{i:02d}" for i in range(1, 15)]
    for rule in RULES:
        assert rule.title and "\n" not in rule.title and rule.title.count("`") % 2 == 0, rule
        assert set(rule.sides) <= {"client", "server", "agent", "user", "?"}, rule
        assert rule.basis.split("+")[0].split(" ")[0] in ("DOC", "SDK", "INF"), rule


def test_sides_and_basis_as_rules_md_gives_them():
    assert BY_ID["R24"].side == "server"
    assert BY_ID["R04"].side == "client+server"
    assert BY_ID["R23"].side == "agent" and BY_ID["R67"].side == "user" and BY_ID["R16"].side == "?"
    assert BY_ID["R31"].basis == "DOC vs SDK" and BY_ID["R09"].basis == "DOC+SDK"
    assert BY_ID["R70c"].title.startswith("SIGKILL: no mark_preempting CRASHED after ~5 min")
    assert BY_ID["R14"].see == ("A02",)


def test_the_table_is_generated_from_the_rules_reference_in_the_repository(tmp_path):
    """The reference text ships in the package (``pytest_runresume/rules.md``): the check needs nothing
    beside the checkout, and fails on a stale table."""
    gen = [sys.executable, str(ROOT / "tools" / "gen_rules.py"), "--source", str(RULES_MD), "--check"]
    proc = subprocess.run(gen, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    stale = tmp_path / "rules.py"
    stale.write_text((ROOT / "pytest_runresume" / "rules.py").read_text().replace("R97", "R98"))
    proc = subprocess.run([*gen, "--output", str(stale)], capture_output=True, text=True)
    assert proc.returncode == 1 and "out of date" in proc.stderr


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("see R35.", {"R35"}),
        ("R5 and R05", {"R05"}),
        ("(R35-R38)", {"R35", "R36", "R37", "R38"}),
        ("R55–R58", {"R55", "R56", "R57", "R58"}),
        ("R01-R97", {"R01", "R97"}),  # too wide to be a claim about each rule
        ("R70 only", {"R70"}),
        ("R70a, R70b-e", {"R70a", "R70b", "R70c", "R70d", "R70e"}),
        ("R70c/e", {"R70c", "R70e"}),
        ("R98 XR01 R011 R01x AR01", set()),
    ],
)
def test_mentioned_ids(text, ids):
    assert mentioned_ids(text) == ids


def test_coverage_of_a_project(tmp_path):
    (tmp_path / "pytest_runresume" / "model").mkdir(parents=True)
    (tmp_path / "pytest_runresume" / "model" / "x.py").write_text('"""The crash rule (R61)."""\n')
    (tmp_path / "pytest_runresume" / "cli").mkdir()
    (tmp_path / "pytest_runresume" / "cli" / "y.py").write_text("# R62 is only cited here\n")
    (tmp_path / "tests" / "e2e").mkdir(parents=True)
    (tmp_path / "tests" / "e2e" / "test_a.py").write_text(
        textwrap.dedent(
            '''
            """Module docstring: R01."""
            import pytest

            @pytest.mark.parametrize("x", [1])  # R02
            def test_one(x):
                """R35: resumes at the last step + 1."""

            class TestGroup:
                def test_two(self):
                    assert "R61"

            def helper():
                return "R03"
            '''
        )
    )
    (tmp_path / "tests" / "helpers.py").write_text("R04\n")  # not a test file
    (tmp_path / "tests" / "test_skipped.py").write_text("# R05 runresume: not rule coverage\n")
    cov = {c.rule.id: c for c in compute(tmp_path)}
    assert cov["R61"].implemented_in == ["model/x.py"]
    assert cov["R61"].tests == ["tests/e2e/test_a.py::TestGroup::test_two"]
    assert not cov["R62"].implemented
    assert cov["R01"].tests == ["tests/e2e/test_a.py"] and cov["R03"].tests == ["tests/e2e/test_a.py"]
    assert cov["R02"].tests == cov["R35"].tests == ["tests/e2e/test_a.py::test_one"]
    assert not cov["R04"].tested
    assert sum(c.tested for c in cov.values()) == 5


def test_the_rules_command_prints_the_table_with_coverage():
    result = CliRunner().invoke(main, ["rules"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for rule in RULES:
        assert any(line.startswith(f"{rule.id} ") for line in lines), rule.id
    assert "102 rules:" in lines[-1] and "implemented" in lines[-1] and "tested" in lines[-1]

    as_json = json.loads(CliRunner().invoke(main, ["rules", "--format", "json", "--side", "server"]).output)
    assert as_json and all("server" in r["side"] for r in as_json)
    r55 = next(r for r in as_json if r["id"] == "R55")
    assert "model/runs.py" in r55["implemented_in"]
    assert "examples/test_train.py::test_plain_run_finishes" in r55["tests"]

    untested = CliRunner().invoke(main, ["rules", "--untested", "-v"]).output
    assert all(" 0  " in line for line in untested.splitlines()[1:] if line[:1] == "R")


def test_docs_page_is_what_the_command_generates_now():
    committed = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    fresh = render_markdown(compute(ROOT))
    changed = sorted(set(fresh.splitlines()) ^ set(committed.splitlines()))
    rows = sorted({line.split("|")[1].strip() for line in changed if line.startswith("| R")})
    assert committed == fresh, (
        f"docs/rules.md is stale: the rows of {rows or 'the summary'} changed (a test or module cites other "
        "R-ids now); regenerate it with:\n    runresume rules --format markdown --output docs/rules.md"
    )
