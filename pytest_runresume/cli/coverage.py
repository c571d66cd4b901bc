"""Rule coverage: for every R-id of :mod:`pytest_runresume.rules`, where the package implements it and
which tests check it. Found by grepping for the id (R35, also written R35-R38 or R70b-e):

- *implemented*: the id appears in the package's code, outside the rules table itself, the CLI and
  the packaged conformance suites (those are tests, see below);
- *tested*: the id appears in a test file (``test_*.py`` under ``tests/``, ``examples/`` and the
  packaged ``conformance/``): in a test function (its name, decorators, docstring or body) it counts
  for that test; elsewhere in the file (e.g. the module docstring) for the file. A file that
  contains the text ``runresume: not rule coverage`` (tests of this scan, whose ids are data) is left
  out.

``runresume rules`` prints it; ``docs/rules.md`` is :func:`render_markdown` of it.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..rules import BY_ID, CONTRADICTIONS, RULES, Rule

PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: Package parts whose R-ids are not implementations: the table, the CLI, the packaged tests.
NOT_IMPLEMENTATION = ("rules.py", "cli", "conformance")
TEST_ROOTS = ("tests", "examples", "pytest_runresume/conformance")
#: Test files containing this are not scanned (their R-ids are test data, not claims).
SKIP_MARK = "runresume: not rule coverage"
#: A range counts for every id in it, up to this many ids (a wider range is a citation, not a claim).
MAX_RANGE = 12

_ID = re.compile(r"(?<!\w)R(\d{1,2})([a-e]?)(?!\w)")
_RANGE = re.compile(r"(?<![\w-])R(\d{1,2})\s*[-–]\s*R(\d{1,2})(?![\w])")
_SUB_RANGE = re.compile(r"(?<![\w-])R70([a-e])([-/])([a-e])(?![\w])")


def mentioned_ids(text: str) -> set[str]:
    """The R-ids ``text`` mentions as whole words (``R5`` is R05; ``R35-R38`` and ``R70b-e``
    count for every id in between; ``R70`` does not count for ``R70a``)."""
    found: set[str] = set()
    for m in _ID.finditer(text):
        rid = f"R{int(m.group(1)):02d}{m.group(2)}"
        if rid in BY_ID:
            found.add(rid)
    for m in _RANGE.finditer(text):
        lo, hi = int(m.group(1)), int(m.group(2))
        if 0 < hi - lo < MAX_RANGE:
            found.update(f"R{i:02d}" for i in range(lo, hi + 1) if f"R{i:02d}" in BY_ID)
    for m in _SUB_RANGE.finditer(text):
        a, sep, b = m.groups()
        letters = [chr(c) for c in range(ord(a), ord(b) + 1)] if sep == "-" else [a, b]
        found.update(f"R70{c}" for c in letters)
    return found


@dataclass
class RuleCoverage:
    """One rule and what covers it.

    Attributes:
        rule: the rule.
        implemented_in: package modules that mention it (paths relative to the package).
        tests: tests that mention it (``path::test`` or ``path`` for a file-level mention).
    """

    rule: Rule
    implemented_in: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)

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


def _test_units(path: Path, rel: str) -> Iterator[tuple[str, str]]:
    """``(node id, text)`` for each test function of a file, then ``(rel, rest of the file)``."""
    source = path.read_text(encoding="utf-8", errors="replace")
    if SKIP_MARK in source:
        return
    try:
        tree = ast.parse(source)
    except SyntaxError:
        yield rel, source
        return
    lines = source.splitlines(keepends=True)
    taken = [False] * len(lines)

    def visit(nodes: Iterable[ast.stmt], prefix: str) -> Iterator[tuple[str, str]]:
        for node in nodes:
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                yield from visit(node.body, f"{prefix}{node.name}::")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
                last = node.end_lineno or node.lineno
                for i in range(first, last):
                    taken[i] = True
                yield f"{rel}::{prefix}{node.name}", "".join(lines[first:last])

    yield from visit(tree.body, "")
    yield rel, "".join(line for line, t in zip(lines, taken, strict=True) if not t)


def compute(root: Path | None = None) -> list[RuleCoverage]:
    """The coverage of every rule, scanning ``root`` (default :func:`find_root`).

    The package scanned is ``root/pytest_runresume`` if there is one, else the installed package.
    """
    root = (root or find_root()).resolve()
    package = root / "pytest_runresume" if (root / "pytest_runresume").is_dir() else PACKAGE_DIR
    cov = {r.id: RuleCoverage(r) for r in RULES}
    for path in _py_files(package):
        rel = path.relative_to(package).as_posix()
        if rel.split("/", 1)[0] in NOT_IMPLEMENTATION:
            continue
        for rid in mentioned_ids(path.read_text(encoding="utf-8", errors="replace")):
            cov[rid].implemented_in.append(rel)
    for sub in TEST_ROOTS:
        for path in _py_files(root / sub):
            if not path.name.startswith("test_"):
                continue
            rel = path.relative_to(root).as_posix()
            for node_id, text in _test_units(path, rel):
                for rid in mentioned_ids(text):
                    cov[rid].tests.append(node_id)
    for c in cov.values():
        c.implemented_in.sort()
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


def summary_line(coverage: list[RuleCoverage]) -> str:
    """One line: the figures for all rules and for the server-side ones."""
    rows = {r[0]: r for r in summary_rows(coverage)}
    _, n, impl, tested = rows["all"]
    _, sn, simpl, stested = rows["server"]
    return (
        f"{n} rules: {impl} implemented, {tested} tested; "
        f"server-side (side includes server): {sn} rules, {simpl} implemented, {stested} tested"
    )


def render_table(coverage: list[RuleCoverage], width: int = 120, verbose: bool = False) -> str:
    """The terminal table: id, side, basis, implemented, number of tests, title (cut to ``width``)."""
    head = f"{'ID':<5} {'SIDE':<13} {'BASIS':<10} {'IMPL':<4} {'TESTS':>5}  TITLE"
    out = [head]
    room = max(20, width - len(head) + len("TITLE"))
    for c in coverage:
        r = c.rule
        title = r.title if len(r.title) <= room else r.title[: room - 1] + "…"
        impl = "yes" if c.implemented else "-"
        out.append(f"{r.id:<5} {r.side:<13} {r.basis:<10} {impl:<4} {len(c.tests):>5}  {title}")
        if verbose:
            out.extend(f"{'':<8}implemented in {m}" for m in c.implemented_in)
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
        "Every rule of `rules.md` (the documented W&B run-resume rules, R01-R97 with R70a-R70e), the",
        "side that decides it, its basis (DOC: the docs say so, SDK: the SDK's source does it, INF: an",
        "inference), where this package implements it and which tests check it. Regenerate with",
        "`runresume rules --format markdown --output docs/rules.md`; a test fails when this page is stale.",
        "",
        "A rule counts as *implemented* when its R-id appears in the package's code (outside the rules",
        "table, the CLI and the packaged conformance suites), and as *tested* when it appears in a test: in",
        "a test function (listed as `file::test`) or elsewhere in a test file, such as its docstring",
        "(listed as the file). A range such as `R35-R38` counts for every rule in it. Client-, agent- and",
        "user-side rules are decided by the SDK, the sweep agent or the user's code: for them",
        "*implemented* means the fake answers what the client needs, or the harness checks the user's",
        "side.",
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
                "| rule | side | basis | title | implemented in | tests |",
                "|---|---|---|---|---|---|",
            ]
        impl = ", ".join(f"`{m}`" for m in c.implemented_in) or "—"
        tests = f"{len(c.tests)}: " + ", ".join(f"`{t}`" for t in c.tests) if c.tests else "—"
        see = f" (see {', '.join(r.see)})" if r.see else ""
        out.append(f"| {r.id} | {r.side} | {_md(r.basis)} | {_md(r.title)}{see} | {impl} | {_md(tests)} |")
    out += ["", "## Ambiguities and contradictions", "", "| id | what | rules that refer to it |", "|---|---|---|"]
    for a in CONTRADICTIONS:
        refs = ", ".join(r.id for r in RULES if a.id in r.see) or "—"
        out.append(f"| {a.id} | {_md(a.title)} | {refs} |")
    return "\n".join(out) + "\n"


def render_json(coverage: list[RuleCoverage]) -> str:
    return json.dumps(
        [
            {
                "id": c.rule.id,
                "title": c.rule.title,
                "side": c.rule.side,
                "basis": c.rule.basis,
                "section": c.rule.section,
                "implemented_in": c.implemented_in,
                "tests": c.tests,
            }
            for c in coverage
        ],
        indent=2,
    )
