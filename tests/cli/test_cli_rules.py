"""``runresume rules``: the rules table as package data (generated from the reference shipped beside
it), each rule's status, the coverage read from tags, and the generated ``docs/rules.md`` (which must
be what the command gives now). The R-ids in this file are test data: only tags count."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from pytest_runresume.cli import main
from pytest_runresume.cli.coverage import TagError, compute, render_markdown
from pytest_runresume.model.tags import implements, implements_constant
from pytest_runresume.rule_status import EXCEPTIONS, NOT_MODELLED, OTHER_READING, STATUSES, note_of, status_of
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


def test_every_rule_has_one_status_and_a_reason_unless_modelled():
    assert {status_of(r.id) for r in RULES} == set(STATUSES)
    assert set(EXCEPTIONS) <= set(BY_ID)
    for rid, (status, note) in EXCEPTIONS.items():
        assert status in (OTHER_READING, NOT_MODELLED) and note, rid
    assert status_of("R61") == "modelled" and note_of("R61") == ""
    with pytest.raises(KeyError, match="R98"):
        status_of("R98")


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(textwrap.dedent(text))
    (tmp_path / "pytest_runresume").mkdir(exist_ok=True)
    return tmp_path


def test_a_mention_is_no_coverage_a_tag_is(tmp_path):
    """R84 only in a comment, a docstring, a range or a string: nothing; tagged: implemented and tested."""
    mentions = {
        "pytest_runresume/model/x.py": '''
            """The sweep race (R84), see R74-R92."""
            def claim():  # R84
                return "R84"
            ''',
        "tests/test_x.py": '''
            """R84 and R54, also R52-R56."""
            def test_claim():
                """R84: one agent gets the run."""
                assert "R54"  # R54
            ''',
    }
    cov = {c.rule.id: c for c in compute(_project(tmp_path, mentions))}
    assert not any(c.implemented or c.tested for c in cov.values())

    tagged = {
        "pytest_runresume/model/x.py": """
            from pytest_runresume.model import tags
            from pytest_runresume.model.tags import implements, implements_constant

            @implements("R84")
            def claim():
                pass

            class Queue:
                @tags.implements("R84", "R87")
                def take(self):
                    pass

            TIMEOUT = implements_constant(300.0, "R61")
            """,
        "tests/test_x.py": """
            import pytest

            pytestmark = [pytest.mark.rules("R01"), pytest.mark.slow]

            @pytest.mark.rules("R84")
            def test_claim():
                pass

            @pytest.mark.parametrize("x", [pytest.param(1, marks=pytest.mark.rules("R54"))])
            def test_wait(x):
                pass

            @pytest.mark.rules("R02")
            class TestGroup:
                pytestmark = pytest.mark.rules("R03")

                @pytest.mark.rules("R61")
                def test_two(self):
                    pass

            def helper():
                return pytest.mark.rules("R05")
            """,
    }
    cov = {c.rule.id: c for c in compute(_project(tmp_path, tagged))}
    assert cov["R84"].implemented_in == ["model/x.py::Queue.take", "model/x.py::claim"]
    assert cov["R87"].implemented_in == ["model/x.py::Queue.take"]
    assert cov["R61"].implemented_in == ["model/x.py::TIMEOUT"]
    assert cov["R84"].tests == ["tests/test_x.py::test_claim"]
    assert cov["R54"].tests == ["tests/test_x.py::test_wait"]
    assert cov["R01"].tests == ["tests/test_x.py"]
    assert cov["R02"].tests == cov["R03"].tests == ["tests/test_x.py::TestGroup"]
    assert cov["R61"].tests == ["tests/test_x.py::TestGroup::test_two"]
    assert not cov["R05"].tested  # a mark outside a test, its class or pytestmark is no claim
    assert sum(c.implemented for c in cov.values()) == 3 and sum(c.tested for c in cov.values()) == 6


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ('@implements("R98")\ndef f(): pass\n', "model/x.py:1: 'R98' is not a rule id"),
        ('RIDS = ("R61",)\n@implements(*RIDS)\ndef f(): pass\n', "model/x.py:2: a rule tag takes string literals"),
        ('X = implements_constant(1, "R7")\n', "model/x.py:1: 'R7' is not a rule id"),
    ],
)
def test_a_bad_tag_is_a_named_error(tmp_path, code, error):
    _project(tmp_path, {"pytest_runresume/model/x.py": code})
    with pytest.raises(TagError, match=re.escape(error)):
        compute(tmp_path)
    result = CliRunner().invoke(main, ["rules", "--root", str(tmp_path)])
    assert result.exit_code == 1 and error in result.output


def test_the_tag_sets_an_attribute_and_checks_its_ids():
    @implements("R61")
    @implements("R60")
    def derive():
        return 1

    assert derive.__rules__ == ("R60", "R61") and derive() == 1
    assert implements_constant(300.0, "R61") == 300.0
    for bad in [(), ("R1",), ("r61",), (61,)]:
        with pytest.raises(ValueError, match="implements"):
            implements(*bad)
    with pytest.raises(ValueError, match="implements_constant"):
        implements_constant(1.0)


def test_the_rules_marker_is_registered_and_checked(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.rules("R61")
        def test_ok():
            pass
        """
    )
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.rules("R98")
        def test_bad():
            pass
        """
    )
    result = pytester.runpytest("--strict-markers")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_bad*rules*R98*not a rule id*"])


def test_the_rules_command_prints_the_table_with_coverage():
    result = CliRunner().invoke(main, ["rules"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for rule in RULES:
        assert any(line.startswith(f"{rule.id} ") for line in lines), rule.id
    assert "102 rules (" in lines[-1] and "modelled" in lines[-1] and "tested" in lines[-1]

    as_json = json.loads(CliRunner().invoke(main, ["rules", "--format", "json", "--side", "server"]).output)
    assert as_json and all("server" in r["side"] for r in as_json)
    r35 = next(r for r in as_json if r["id"] == "R35")
    assert r35["status"] == "modelled" and "model/resume.py::starting_step" in r35["implemented_in"]
    assert "tests/model/test_model_resume.py::test_r35_no_history_starts_at_zero" in r35["tests"]
    assert all("::" in where for r in as_json for where in r["implemented_in"])

    not_modelled = json.loads(
        CliRunner().invoke(main, ["rules", "--format", "json", "--status", "not modelled"]).output
    )
    assert {r["id"] for r in not_modelled} == {rid for rid, (s, _) in EXCEPTIONS.items() if s == NOT_MODELLED}
    assert all(r["note"] for r in not_modelled)

    untested = CliRunner().invoke(main, ["rules", "--untested", "-v"]).output
    assert all(" 0  " in line for line in untested.splitlines()[1:] if line[:1] == "R")


def test_docs_page_is_what_the_command_generates_now():
    committed = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    fresh = render_markdown(compute(ROOT))
    changed = sorted(set(fresh.splitlines()) ^ set(committed.splitlines()))
    rows = sorted({line.split("|")[1].strip() for line in changed if line.startswith("| R")})
    assert committed == fresh, (
        f"docs/rules.md is stale: the rows of {rows or 'the summary'} changed (a test or module is tagged "
        "with other R-ids now); regenerate it with:\n    runresume rules --format markdown --output docs/rules.md"
    )
