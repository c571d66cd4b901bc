"""The entrypoint battery's results for people and for CI: a text table (:func:`render_table`), the
failed checks' reports (:func:`render_details`), a picture of each run of a failed check
(:func:`write_pictures`) and a JUnit XML report (:func:`junit_xml`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from ..harness.pictures import write_pictures as harness_pictures
from .battery import CheckResult


def write_pictures(results: Sequence[CheckResult], directory: Path) -> list[Path]:
    """Write the picture of every run of every failed check into ``directory``
    (``runresume-check-<check>-<project>-<run id>.html``), add each path to its check's details
    (so the table's details and the JUnit XML name it) and :attr:`CheckResult.pictures`; returns
    every file written."""
    out: list[Path] = []
    for result in results:
        if result.status != "failed" or not result.runs:
            continue
        result.pictures = harness_pictures(
            result.runs,
            directory,
            note=f"runresume check: {result.name} failed: {result.reason}",
            prefix=f"runresume-check-{result.name}",
        )
        lines = "\n".join(f"picture: {path}" for path in result.pictures)
        result.details = f"{result.details}\n{lines}" if result.details else lines
        out.extend(result.pictures)
    return out


def render_table(results: Sequence[CheckResult]) -> str:
    """The results as a text table, then the counts."""
    rows = [("CHECK", "RESULT", "RULES", "TIME", "DETAIL")]
    for r in results:
        rows.append((r.name, r.status.upper(), " ".join(r.check.rules), f"{r.duration:.1f}s", r.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4] for row in rows]
    counts = {s: sum(r.status == s for r in results) for s in ("passed", "failed", "skipped")}
    lines.append("")
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items()))
    return "\n".join(lines)


def render_details(results: Sequence[CheckResult]) -> str:
    """The reports of the failed checks."""
    parts = [f"--- {r.name}: {r.reason}\n{r.details}".rstrip() for r in results if r.status == "failed" and r.details]
    return "\n\n".join(parts)


#: ANSI escape sequences: CSI (colours, ``ESC[1;34m``, also its 8-bit form), OSC (titles, links; ended
#: by BEL or ``ESC\\``, never past a line), and the other escapes (``ESC c``, ``ESC ( B``...).
_ANSI = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]")
#: Characters XML 1.0 does not allow (its ``Char`` production), lone surrogates included.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` fit for an XML 1.0 document: ANSI escape sequences stripped (wandb colours its
    ``wandb:`` lines), then every character XML 1.0 forbids dropped (other control characters)."""
    return _NOT_XML_CHAR.sub("", _ANSI.sub("", text))


def _element(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        el.text = xml_text(text)
    return el


def junit_xml(results: Sequence[CheckResult], command: str, suite: str = "runresume check") -> bytes:
    """A JUnit XML report (one ``testcase`` per check) for CI. Every text and attribute goes through
    :func:`xml_text`, so a colourful output tail still gives a document that parses."""
    root = ET.Element("testsuites")
    ts = _element(
        root,
        "testsuite",
        name=suite,
        tests=str(len(results)),
        failures=str(sum(r.status == "failed" for r in results)),
        errors="0",
        skipped=str(sum(r.status == "skipped" for r in results)),
        time=f"{sum(r.duration for r in results):.3f}",
    )
    props = _element(ts, "properties")
    _element(props, "property", name="command", value=command)
    for r in results:
        case = _element(ts, "testcase", classname="runresume.check", name=r.name, time=f"{r.duration:.3f}")
        cprops = _element(case, "properties")
        _element(cprops, "property", name="rules", value=" ".join(r.check.rules))
        if r.status == "failed":
            _element(case, "failure", r.details or r.reason, message=r.reason)
        elif r.status == "skipped":
            _element(case, "skipped", message=r.reason)
        else:
            _element(case, "system-out", r.reason)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
