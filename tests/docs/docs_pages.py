"""What the docs tests read: the repository's paths and a page's fenced code blocks."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
TRAIN = ROOT / "examples" / "train.py"


def blocks(page: str, lang: str) -> list[str]:
    """The fenced ``lang`` code blocks of ``docs/page``, in order."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.findall(rf"^```{lang}\n(.*?)^```$", text, re.S | re.M)
