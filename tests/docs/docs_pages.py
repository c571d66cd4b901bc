"""What the docs tests read: the repository's paths, a page's fenced code blocks and the scripts in
``tools/`` (not a package: loaded by path)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
TRAIN = ROOT / "examples" / "train.py"


def blocks(page: str, lang: str) -> list[str]:
    """The fenced ``lang`` code blocks of ``docs/page``, in order."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.findall(rf"^```{lang}\n(.*?)^```$", text, re.S | re.M)


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` loaded as the module ``name`` (registered in ``sys.modules``, as its
    dataclasses need)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
