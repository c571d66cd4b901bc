"""Pictures of runs and sweeps: SVG and HTML text from the model's records (pure, stdlib only).

A layer of its own between the model and the wire: it imports only the model, and the wire (the
run and sweep pages of ``runresume serve``), the harness (a failed test's picture) and the layers
above import it.
"""

from .build import build_chart
from .chart import Chart, Lane, Marker, esc
from .pages import SweepRunView, document, run_content, run_document, sweep_content
from .svg import render_svg, run_svg

__all__ = [
    "Chart",
    "Lane",
    "Marker",
    "SweepRunView",
    "build_chart",
    "document",
    "esc",
    "render_svg",
    "run_content",
    "run_document",
    "run_svg",
    "sweep_content",
]
