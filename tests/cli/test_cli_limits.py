"""``runresume serve --limit NAME=VALUE``: every limit of docs/limits.md is settable from the command line."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from pytest_runresume.cli import main
from pytest_runresume.cli.serve import parse_limits
from pytest_runresume.model import Limits
from pytest_runresume.wire.limits import WireLimits


def test_limits_go_to_the_model_or_the_wire():
    model, wire = parse_limits(("max_run_bytes=1000", "max-body=2_048", "read_timeout=2.5"))
    assert model == Limits(max_run_bytes=1000)
    assert wire == WireLimits(max_body=2048, read_timeout=2.5)


@pytest.mark.parametrize(
    "item, named",
    [("nope=1", "expected NAME=VALUE"), ("max_body", "expected NAME=VALUE"), ("max_body=lots", "is not a number"),
     ("max_runs=-1", "max_runs must be an integer >= 0"), ("max_connections=0", "must be an integer > 0")],
)  # fmt: skip
def test_bad_limits_are_refused_naming_them(item, named):
    with pytest.raises(click.BadParameter, match=named):
        parse_limits((item,))
    result = CliRunner().invoke(main, ["serve", "--limit", item])
    assert result.exit_code == 2 and "--limit" in result.output
