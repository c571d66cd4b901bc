"""Rule coverage: for every R-id of :mod:`pytest_runresume.rules`, its status
(:mod:`pytest_runresume.rule_status`), what in the package implements it and which tests check it.
Read from tags only, with :mod:`ast` (an R-id in prose, a comment, a docstring or a help text counts
for nothing, and so does a range such as ``R35-R38``):

- *implemented by*: a function, class or method of the package decorated ``@implements("R61")``, or a
  constant assigned ``NAME = implements_constant(value, "R61")`` (:mod:`pytest_runresume.model.tags`);
- *tested by*: a test (``test_*.py`` under ``tests/``, ``examples/`` and the packaged ``conformance/``)
  marked ``@pytest.mark.rules("R61")`` (or the conformance suites' ``runresume_rules``, also through a
  module-level alias such as ``rules = pytest.mark.runresume_rules``): on the test function (also inside its decorators, e.g. a
  ``pytest.param(..., marks=...)``), on its ``Test`` class or in the class's ``pytestmark`` (listed as
  ``file::Class``), or in the module's ``pytestmark`` (listed as the file).

``runresume rules`` prints it; ``docs/rules.md`` is :func:`render_markdown` of it.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..rule_status import STATUSES, note_of, status_of
from ..rules import BY_ID, CONTRADICTIONS, RULES, Rule

PACKAGE_DIR = Path(__file__).resolve().parents[1]
TEST_ROOTS = ("tests", "examples", "pytest_runresume/conformance")
#: The names the scan reads as tags (``implements`` may also be reached as ``tags.implements``).
IMPLEMENTS, IMPLEMENTS_CONSTANT = "implements", "implements_constant"


class TagError(ValueError):
    """A tag the scan cannot read: an id that is not a rule, or an id that is not a string literal
    (the message names the file and line)."""


@dataclass
class RuleCoverage:
    """One rule and what covers it.

    Attributes:
        rule: the rule.
        implemented_in: tagged code, ``module.py::QualName`` (paths relative to the package).
        tests: tagged tests, ``path::test`` (``path::Class`` or ``path`` for a class or module tag).
    """

    rule: Rule
    implemented_in: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``modelled``, ``other reading`` or ``not modelled`` (:mod:`pytest_runresume.rule_status`)."""
        return status_of(self.rule.id)

    @property
    def implemented(self) -> bool:
        return bool(self.implemented_in)

    @property
    def tested(self) -> bool:
        return bool(self.tests)


def find_root(start: Path | None = None) -> Path:
    """The project to scan: the checkout this package lives in (an editable install), else ``start``
    (default: the current directory)."""
    checkout = PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "tests").is_dir():
        return checkout
    return (start or Path.cwd()).resolve()


def _py_files(base: Path) -> Iterator[Path]:
    if base.is_dir():
        yield from sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)


def _parse(path: Path, rel: str) -> ast.Module:
    try:
        return ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=rel)
    except SyntaxError as exc:
        raise TagError(f"{rel}:{exc.lineno}: cannot parse: {exc.msg}") from exc


def _name(func: ast.expr) -> str:
    """The last name of a call's function: ``implements`` for ``implements`` and ``tags.implements``."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _ids(call: ast.Call, rel: str, skip: int = 0) -> list[str]:
    """The rule ids a tag call gives (its positional arguments after ``skip``).

    Raises:
        TagError: an argument that is not a string literal, or not a rule id.
    """
    ids = []
    for arg in call.args[skip:]:
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            raise TagError(f"{rel}:{arg.lineno}: a rule tag takes string literals, got {ast.unparse(arg)}")
        if arg.value not in BY_ID:
            raise TagError(f"{rel}:{arg.lineno}: {arg.value!r} is not a rule id (R01 ... R97, R70a ... R70e)")
        ids.append(arg.value)
    return ids


def implementation_tags(tree: ast.Module, rel: str) -> Iterator[tuple[str, str]]:
    """``(rule id, "rel::QualName")`` for each ``@implements`` / ``implements_constant`` tag of a module.

    Raises:
        TagError: see :func:`_ids`.
    """

    def visit(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, str]]:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                where = f"{rel}::{prefix}{node.name}"
                for deco in node.decorator_list:
                    if isinstance(deco, ast.Call) and _name(deco.func) == IMPLEMENTS:
                        yield from ((rid, where) for rid in _ids(deco, rel))
                yield from visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                value = node.value
                if isinstance(value, ast.Call) and _name(value.func) == IMPLEMENTS_CONSTANT:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    names = [ast.unparse(t) for t in targets]
                    for rid in _ids(value, rel, skip=1):
                        yield from ((rid, f"{rel}::{prefix}{name}") for name in names)

    yield from visit(tree.body, "")


#: The markers that name the rules a test checks: this package's ``rules`` and the packaged
#: conformance suites' ``runresume_rules`` (:mod:`pytest_runresume.conformance.plugin`).
RULES_MARKS = ("rules", "runresume_rules")


def _mark_name(node: ast.AST) -> str | None:
    """``rules`` for ``pytest.mark.rules`` (or ``mark.rules``), likewise ``runresume_rules``; else ``None``."""
    if isinstance(node, ast.Attribute) and node.attr in RULES_MARKS and _name(node.value) == "mark":
        return node.attr
    return None


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Module-level aliases of a rules marker: ``rules = pytest.mark.runresume_rules`` -> ``{"rules": ...}``."""
    out: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and (mark := _mark_name(node.value)) is not None:
            out.update((t.id, mark) for t in node.targets if isinstance(t, ast.Name))
    return out


def _marks_in(exprs: list[ast.expr], rel: str, aliases: dict[str, str]) -> list[str]:
    """The ids of every rules mark called anywhere in ``exprs`` (decorators, a ``pytestmark`` value).
    A ``runresume_rules`` mark whose ids are not literals (the entrypoint battery's, computed from
    its checks) counts for nothing; a ``rules`` mark must have literal ids.

    Raises:
        TagError: see :func:`_ids`.
    """
    ids = []
    for expr in exprs:
        for node in ast.walk(expr):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            mark = aliases.get(func.id) if isinstance(func, ast.Name) else _mark_name(func)
            if mark is None:
                continue
            literal = all(isinstance(a, ast.Constant) for a in node.args)
            if mark == "rules" or literal:
                ids.extend(_ids(node, rel))
    return ids


def _pytestmark(body: list[ast.stmt]) -> list[ast.expr]:
    return [
        node.value
        for node in body
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)
    ]


def test_tags(tree: ast.Module, rel: str) -> Iterator[tuple[str, str]]:
    """``(rule id, node id)`` for each ``rules`` mark of a test module: ``rel`` for its ``pytestmark``,
    ``rel::Class`` for a ``Test`` class's decorators and ``pytestmark``, ``rel::[Class::]test`` for a
    test function's decorators.

    Raises:
        TagError: see :func:`_ids`.
    """
    aliases = _aliases(tree)
    yield from ((rid, rel) for rid in _marks_in(_pytestmark(tree.body), rel, aliases))

    def visit(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, str]]:
        for node in body:
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                where = f"{rel}::{prefix}{node.name}"
                yield from (
                    (rid, where) for rid in _marks_in([*node.decorator_list, *_pytestmark(node.body)], rel, aliases)
                )
                yield from visit(node.body, f"{prefix}{node.name}::")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                where = f"{rel}::{prefix}{node.name}"
                yield from ((rid, where) for rid in _marks_in(node.decorator_list, rel, aliases))

    yield from visit(tree.body, "")


def compute(root: Path | None = None) -> list[RuleCoverage]:
    """The coverage of every rule, scanning ``root`` (default :func:`find_root`).

    The package scanned is ``root/pytest_runresume`` if there is one, else the installed package.

    Raises:
        TagError: a tag that is not a rule id or not a string literal, or a file that does not parse.
    """
    root = (root or find_root()).resolve()
    package = root / "pytest_runresume" if (root / "pytest_runresume").is_dir() else PACKAGE_DIR
    cov = {r.id: RuleCoverage(r) for r in RULES}
    for path in _py_files(package):
        rel = path.relative_to(package).as_posix()
        for rid, where in implementation_tags(_parse(path, rel), rel):
            cov[rid].implemented_in.append(where)
    for sub in TEST_ROOTS:
        for path in _py_files(root / sub):
            if path.name.startswith("test_"):
                rel = path.relative_to(root).as_posix()
                for rid, node_id in test_tags(_parse(path, rel), rel):
                    cov[rid].tests.append(node_id)
    for c in cov.values():
        c.implemented_in = sorted(set(c.implemented_in))
        c.tests = sorted(set(c.tests))
    return list(cov.values())


# ---- summaries and renderings ----------------------------------------------------------------------
SIDE_ORDER = ("server", "client", "agent", "user", "?")


def summary_rows(coverage: list[RuleCoverage]) -> list[tuple[str, int, int, int]]:
    """``(side, rules, implemented, tested)`` per side (a rule of two sides counts in both), then
    ``all``."""
    rows = []
    for side in SIDE_ORDER:
        mine = [c for c in coverage if side in c.rule.sides]
        rows.append((side, len(mine), sum(c.implemented for c in mine), sum(c.tested for c in mine)))
    rows.append(("all", len(coverage), sum(c.implemented for c in coverage), sum(c.tested for c in coverage)))
    return rows


def status_counts(coverage: list[RuleCoverage]) -> str:
    """``"85 modelled, 5 other reading, 12 not modelled"``."""
    return ", ".join(f"{sum(c.status == s for c in coverage)} {s}" for s in STATUSES)


def summary_line(coverage: list[RuleCoverage]) -> str:
    """One line: the figures for all rules and for the server-side ones."""
    rows = {r[0]: r for r in summary_rows(coverage)}
    _, n, impl, tested = rows["all"]
    _, sn, simpl, stested = rows["server"]
    return (
        f"{n} rules ({status_counts(coverage)}): {impl} implemented, {tested} tested; "
        f"server-side (side includes server): {sn} rules, {simpl} implemented, {stested} tested"
    )


def render_table(coverage: list[RuleCoverage], width: int = 120, verbose: bool = False) -> str:
    """The terminal table: id, side, basis, status, tagged implementations and tests, title (cut to
    ``width``); ``verbose`` lists the implementations and tests under each rule."""
    head = f"{'ID':<5} {'SIDE':<13} {'BASIS':<10} {'STATUS':<13} {'IMPL':>4} {'TESTS':>5}  TITLE"
    out = [head]
    room = max(20, width - len(head) + len("TITLE"))
    for c in coverage:
        r = c.rule
        title = r.title if len(r.title) <= room else r.title[: room - 1] + "…"
        out.append(
            f"{r.id:<5} {r.side:<13} {r.basis:<10} {c.status:<13} {len(c.implemented_in):>4} {len(c.tests):>5}  {title}"
        )
        if verbose:
            out.extend(f"{'':<8}implemented by {m}" for m in c.implemented_in)
            out.extend(f"{'':<8}tested by {t}" for t in c.tests)
    out.append("")
    out.append(f"{'side':<8} {'rules':>5} {'implemented':>11} {'tested':>6}")
    out.extend(f"{side:<8} {n:>5} {impl:>11} {tested:>6}" for side, n, impl, tested in summary_rows(coverage))
    out.append(summary_line(coverage))
    return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(coverage: list[RuleCoverage]) -> str:
    """The ``docs/rules.md`` page."""
    out = [
        "# Rules and their coverage",
        "",
        "<!-- GENERATED by `runresume rules --format markdown --output docs/rules.md`: do not edit. -->",
        "",
        "Every rule of the rules reference (`pytest_runresume/rules.md`: the documented W&B run-resume",
        "rules, R01-R97 with R70a-R70e), the side that decides it, its basis (DOC: the docs say so, SDK:",
        "the SDK's source does it, INF: an inference), its status in this package, what implements it and",
        "which tests check it. Regenerate with `runresume rules --format markdown --output docs/rules.md`;",
        "a test fails when this page is stale.",
        "",
        "*Status* (`pytest_runresume/rule_status.py`): **modelled**, the package does what the rule says",
        "(the fake decides it, answers what the client needs to decide it, or the harness checks the",
        "user's side); **other reading**, the rule is one side of a contradiction (A01-A14) and the fake",
        "follows another reading by default (`docs/contradictions.md`); **not modelled**, the package does",
        "not do it (the note says why).",
        "",
        "*Implemented by* and *tested by* come from tags only: code decorated `@implements(...)`",
        "(`pytest_runresume.model.tags`), tests marked `@pytest.mark.rules(...)` (listed as `file::test`,",
        "`file::Class` for a class mark, or the file for a module's `pytestmark`). An R-id in a docstring",
        "or a comment counts for nothing.",
        "",
        f"**{summary_line(coverage)}.**",
        "",
        "| side | rules | implemented | tested |",
        "|---|---:|---:|---:|",
    ]
    out.extend(f"| {side} | {n} | {impl} | {tested} |" for side, n, impl, tested in summary_rows(coverage))
    section = None
    for c in coverage:
        r = c.rule
        if r.section != section:
            section = r.section
            out += [
                "",
                f"## {section}",
                "",
                "| rule | side | basis | status | title | implemented by | tested by |",
                "|---|---|---|---|---|---|---|",
            ]
        impl = ", ".join(f"`{m}`" for m in c.implemented_in) or "—"
        tests = f"{len(c.tests)}: " + ", ".join(f"`{t}`" for t in c.tests) if c.tests else "—"
        see = f" (see {', '.join(r.see)})" if r.see else ""
        out.append(
            f"| {r.id} | {r.side} | {_md(r.basis)} | {_status_md(r.id)} | {_md(r.title)}{see} | {_md(impl)} | {_md(tests)} |"
        )
    out += ["", "## Ambiguities and contradictions", "", "| id | what | rules that refer to it |", "|---|---|---|"]
    for a in CONTRADICTIONS:
        refs = ", ".join(r.id for r in RULES if a.id in r.see) or "—"
        out.append(f"| {a.id} | {_md(a.title)} | {refs} |")
    return "\n".join(out) + "\n"


def _status_md(rid: str) -> str:

    note = note_of(rid)
    return _md(f"{status_of(rid)}: {note}" if note else status_of(rid))


def render_json(coverage: list[RuleCoverage]) -> str:
    """JSON: one object per rule (id, title, side, basis, section, status, note, implemented_in, tests)."""

    return json.dumps(
        [
            {
                "id": c.rule.id,
                "title": c.rule.title,
                "side": c.rule.side,
                "basis": c.rule.basis,
                "section": c.rule.section,
                "status": c.status,
                "note": note_of(c.rule.id),
                "implemented_in": c.implemented_in,
                "tests": c.tests,
            }
            for c in coverage
        ],
        indent=2,
    )
