"""The ``runresume`` command line (console script ``runresume = pytest_runresume.cli:main``).

- ``runresume serve``: the fake W&B backend for manual work, with a page that shows its runs;
- ``runresume check -- CMD...``: entrypoint conformance, a standard battery run against ``CMD``;
- ``runresume rules``: the rules table with coverage (``docs/rules.md`` is generated from it).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from .. import __version__
from ..rule_status import STATUSES
from . import coverage
from .check import check
from .serve import serve

FORMATS = ("table", "markdown", "json")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="runresume")
def main() -> None:
    """pytest-runresume: a fake W&B backend and preemption harness, from the command line."""


@main.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--side", help="only rules whose side includes this (server, client, agent, user, ?)")
@click.option("--status", type=click.Choice(STATUSES), help="only rules with this status")
@click.option("--untested", is_flag=True, help="only rules no test is tagged with")
@click.option("-v", "--verbose", is_flag=True, help="list the tagged code and tests of each rule (table format)")
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="project to scan (default: this package's checkout, else the current directory)",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="write to this file")
def rules(
    fmt: str,
    side: str | None,
    status: str | None,
    untested: bool,
    verbose: bool,
    root: Path | None,
    output: Path | None,
) -> None:
    """The rules table (R01-R97, R70a-R70e): each rule's status (modelled, other reading, not
    modelled), the code tagged @implements(...) for it and the tests marked rules(...) for it.
    ``--format markdown`` gives the docs page (docs/rules.md)."""
    try:
        cov = coverage.compute(root)
    except coverage.TagError as exc:
        raise click.ClickException(str(exc)) from exc
    if status:
        cov = [c for c in cov if c.status == status]
    if side:
        cov = [c for c in cov if side in c.rule.sides]
    if untested:
        cov = [c for c in cov if not c.tested]
    if fmt == "markdown":
        text = coverage.render_markdown(cov)
    elif fmt == "json":
        text = coverage.render_json(cov) + "\n"
    else:
        text = coverage.render_table(cov, width=shutil.get_terminal_size((120, 24)).columns, verbose=verbose) + "\n"
    if output is not None:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        sys.stdout.write(text)


main.add_command(serve)
main.add_command(check)

__all__ = ["main"]
