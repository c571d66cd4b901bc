"""The sweep search does what W&B's sweeps engine does (the fixes the differential oracle,
``tests/oracle/test_sweeps_oracle.py``, found; docs/sweeps.md "Differences from W&B's sweeps
engine"). These tests need no engine: each pins one behaviour with values the engine gives.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_runresume.model.search import (
    SweepConfigError,
    combination,
    grid_size,
    grid_values,
    normalize_parameter,
    parse_sweep_config,
)


def grid(parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination of a grid over ``parameters``, in order."""
    params = parse_sweep_config({"method": "grid", "parameters": parameters})["parameters"]
    return [combination("grid", params, "s", i) for i in range(grid_size(params))]


@pytest.mark.parametrize(
    ("spec", "values"),
    [
        ({"min": 0, "max": 10, "q": 5}, [0, 5]),  # max itself is not a grid value
        ({"min": 1, "max": 12, "q": 4}, [1, 5, 9]),  # not rounded to multiples of q
        ({"min": 0.1, "max": 1.0, "q": 0.3}, [0.1, 0.4, 0.7000000000000001]),  # numpy's arange, bit for bit
        ({"min": 0, "max": 2, "q": 0.5}, [0.0, 0.5, 1.0, 1.5]),  # a float q: floats
        ({"min": 0, "max": 3}, [0, 1, 2]),  # q left out: the int 1
    ],
)
def test_a_q_uniform_grid_runs_from_min_in_steps_of_q_below_max(spec: dict[str, Any], values: list[Any]) -> None:
    got = grid_values("p", normalize_parameter("p", {"distribution": "q_uniform", **spec}))
    assert got == values and [type(v) for v in got] == [type(v) for v in values]


def test_grid_values_that_make_the_same_run_are_one_run() -> None:
    """1 and 1.0 are one run (where 1 is, with the value 1.0, the last of them); True and "1" are not 1;
    two equal mappings are one run."""
    assert grid({"v": {"values": [1, 1.0, 2, True, "1", 2]}}) == [{"v": 1.0}, {"v": 2}, {"v": True}, {"v": "1"}]
    assert [type(c["v"]) for c in grid({"v": {"values": [1, 1.0]}})] == [float]
    assert grid({"v": {"values": [{"a": 1, "b": 2}, {"b": 2, "a": 1}, [1.0], [1]]}}) == [
        {"v": {"b": 2, "a": 1}},
        {"v": [1.0]},
        {"v": [1]},
    ]


def test_a_nested_grid_varies_its_parameters_in_sorted_name_order() -> None:
    combos = grid({"o": {"parameters": {"z": {"values": [1, 2]}, "a": {"values": ["x", "y"]}}}})
    assert combos == [{"o": {"a": a, "z": z}} for a in ("x", "y") for z in (1, 2)]
    assert list(combos[0]["o"]) == ["a", "z"]
    params = parse_sweep_config({"method": "random", "parameters": {"o": {"parameters": {"z": {"value": 1}, "a": {"value": 2}}}}})
    assert list(combination("random", params["parameters"], "s", 0)["o"]) == ["a", "z"]  # random too


@pytest.mark.parametrize(
    ("parameters", "fragment"),
    [
        ({"p": {"values": [1, 2], "probabilities": [0.5, 0.5]}}, "grid takes no 'probabilities'"),
        ({"p": {"distribution": "uniform", "min": 0.0, "max": 1.0}}, "discrete values"),
    ],
)
def test_a_grid_refuses_what_it_cannot_enumerate(parameters: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SweepConfigError, match=fragment):
        parse_sweep_config({"method": "grid", "parameters": parameters})
    parse_sweep_config({"method": "random", "parameters": parameters})  # a random search takes it


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"min": 1, "max": 1}, "min 1 must be less than max 1"),
        ({"distribution": "uniform", "min": 0.5, "max": 0.5}, "must be less than"),
        ({"distribution": "uniform", "min": 0.0, "max": 1.0, "q": 0.1}, r"uniform takes no \['q'\]"),
        ({"min": 0.0, "max": 1.0, "mu": 0.5}, r"takes no \['mu'\]"),
        ({"value": 1, "values": [1, 2]}, r"categorical takes no \['value'\]"),
        ({"values": [1, 2], "vaules": [3]}, r"takes no \['vaules'\]"),
        ({"parameters": {"x": {"value": 1}}, "values": [1]}, "a group of 'parameters' takes no other key"),
        ({"parameters": {"x": {"value": 1}}, "distribution": "categorical"}, "a group of 'parameters'"),
        ({"parameters": {"1x": {"value": 1}}}, "parameter name '1x' must start with a letter"),
        ({"distribution": "categorical_w_probabilities", "values": [1]}, "needs 'probabilities'"),
        ({"values": [1, 2], "probabilities": [0.5, 0.5001]}, "summing to 1"),
    ],
)
def test_what_the_engine_refuses_is_refused_naming_the_parameter(spec: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SweepConfigError, match=fragment) as info:
        normalize_parameter("p", spec)
    assert "'p'" in str(info.value)


def test_a_parameter_name_the_engine_refuses_is_refused() -> None:
    with pytest.raises(SweepConfigError, match="parameter name 'a b'"):
        parse_sweep_config({"method": "random", "parameters": {"a b": {"value": 1}}})
    parse_sweep_config({"method": "random", "parameters": {"_a.b-C9": {"value": 1}}})


def test_the_engines_spellings_are_accepted() -> None:
    """``categorical_w_probabilities`` is a categorical; probabilities sum to 1 within the engine's 1e-5."""
    spec = normalize_parameter("p", {"distribution": "categorical_w_probabilities", "values": [1, 2], "probabilities": [0.5, 0.500009]})
    assert spec["distribution"] == "categorical"


def test_a_parsed_config_parses_again_to_itself() -> None:
    """The filled-in keys (distribution, defaults) are keys each distribution takes."""
    config = {
        "method": "random",
        "parameters": {
            "a": {"values": [1, 2], "probabilities": [0.25, 0.75]},
            "b": {"distribution": "q_log_normal"},
            "c": {"distribution": "q_beta", "q": 0.5},
            "d": {"min": 1, "max": 3},
            "e": {"parameters": {"f": {"value": 1}, "g": {"distribution": "normal"}}},
        },
    }
    once = parse_sweep_config(config)
    assert parse_sweep_config(once) == once
