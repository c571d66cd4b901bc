"""The model's modules import one way (issue 15): no cycle inside the package, the search space is
pure, the run store knows nothing of the sweep controller, and the controller reaches the store only
through its protocol (the composition root, ``model.py``, is the one module that imports both).

Read from the source (``from .x import`` statements), so the package's ``__init__``, which imports
everything, does not blur it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from pytest_runresume import model

PACKAGE = Path(model.__file__).parent


def imports(module: str) -> set[str]:
    """The sibling modules ``module`` imports directly (``TYPE_CHECKING`` imports included)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse((PACKAGE / f"{module}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            for name in [node.module] if node.module else [a.name for a in node.names]:
                if (PACKAGE / f"{name}.py").exists():
                    out.add(name)
    return out


def reaches(module: str) -> set[str]:
    """The sibling modules ``module`` imports, directly or not."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        for name in imports(todo.pop()) - seen:
            seen.add(name)
            todo.append(name)
    return seen


def test_no_module_of_the_model_imports_itself_back() -> None:
    modules = [p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"]
    assert len(modules) > 20
    assert [m for m in modules if m in reaches(m)] == []


def test_the_search_is_pure_and_the_store_does_not_know_the_sweeps() -> None:
    assert reaches("search") <= {"bayes", "errors"}
    assert not {"sweeps", "sweep_base", "sweep_agents", "sweep_records", "search", "reference"} & reaches("store")
    assert not {"store", "core", "upserts", "ingest", "lifecycle", "projects", "reference"} & reaches("sweeps")
    assert {"store", "sweeps"} <= imports("reference")
