"""The wire's modules import one way (issue 15): no cycle, no module over ~400 lines, every GraphQL
operation registered with ``@handler("Name")`` (one grep away), and the dispatch apart from the
handlers.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pytest_runresume import wire
from pytest_runresume.wire import HANDLERS

PACKAGE = Path(wire.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py"))


def sibling_imports(module: str) -> set[str]:
    """The modules of the package that ``module`` imports (``from .x import`` / ``from . import x``)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {alias.name for alias in node.names}
    return found & set(MODULES) - {"__init__"}


def test_no_cycle_between_the_wire_modules() -> None:
    graph = {m: sibling_imports(m) for m in MODULES if m != "__init__"}
    order: list[str] = []
    while graph:  # peel off the modules that import nothing left
        leaves = sorted(m for m, deps in graph.items() if not deps - set(order))
        assert leaves, f"import cycle among {sorted(graph)}"
        order += leaves
        for m in leaves:
            del graph[m]
    assert order.index("dispatch") < order.index("graphql") < order.index("app")


def test_modules_stay_small() -> None:
    sizes = {m: len((PACKAGE / f"{m}.py").read_text().splitlines()) for m in MODULES}
    assert {m: n for m, n in sizes.items() if n > 410} == {}


def test_every_handler_is_one_grep_away() -> None:
    source = "".join((PACKAGE / f"{m}.py").read_text() for m in MODULES)
    calls = re.findall(r"^@handler\(([^)]*)\)", source, re.MULTILINE)
    registered = {name for call in calls for name in re.findall(r'"(\w+)"', call)}
    assert registered == set(HANDLERS)
