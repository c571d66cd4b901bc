"""The search space of a sweep: parsing a sweep config, its distributions, and the combinations of a
grid or random search.

Pure: it never touches the run store, sockets or files (PyYAML parses the config text). The
controller (:mod:`.sweeps`) asks it for combination *n* of a sweep; :mod:`.bayes` draws from it.

Every distribution a config can name (S14 "sweep-config-keys") is one row of :data:`TABLE`: how its
keys are checked and completed (``normalize``), how one value is drawn (``sample``) and, for the
discrete ones, every value a grid takes (``grid``). A ``q_*`` row quantizes what its base draws.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import bayes
from .errors import RuleViolation

#: The search methods a config may name.
METHODS = ("grid", "random", "bayes")
#: The engine's name of a categorical with ``probabilities`` (what W&B's sweeps engine fills in when
#: the config names no distribution); normalized to ``categorical``.
CATEGORICAL_W_PROBABILITIES = "categorical_w_probabilities"
#: A parameter's name, as W&B's sweep config schema allows it (``parameters``' ``propertyNames``).
PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")

BAD_SWEEP_CONFIG = "bad sweep config: {detail}"

Spec = dict[str, Any]


class SweepConfigError(RuleViolation):
    """A sweep config the server refuses: not YAML, no or unknown method, bad parameters... A
    documented refusal: answered with an error, not recorded as a problem of the test."""


def bad_config(detail: str) -> SweepConfigError:
    """A :class:`SweepConfigError` saying what is wrong with the config."""
    return SweepConfigError(BAD_SWEEP_CONFIG.format(detail=detail))


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _quantize(x: float, q: float) -> float | int:
    v = round(x / q) * q
    return int(v) if isinstance(q, int) else v


# ---- the checks of a parameter's keys (each completes defaults in place) ------------------------
def _check_categorical(name: str, dist: str, out: Spec) -> None:
    values = out.get("values")
    if not isinstance(values, list) or not values:
        raise bad_config(f"parameter {name!r}: 'values' must be a non-empty list")
    probs = out.get("probabilities")
    if probs is not None and (
        not isinstance(probs, list)
        or len(probs) != len(values)
        or not all(_is_number(p) and p >= 0 for p in probs)
        or not abs(sum(probs) - 1.0) <= 1e-8 + 1e-5  # the engine's tolerance (numpy's isclose)
    ):
        raise bad_config(f"parameter {name!r}: 'probabilities' must be one number >= 0 per value, summing to 1")


def _check_constant(name: str, dist: str, out: Spec) -> None:
    if "value" not in out:
        raise bad_config(f"parameter {name!r}: a constant needs 'value'")


def _check_normal(name: str, dist: str, out: Spec) -> None:
    out.setdefault("mu", 0.0)
    out.setdefault("sigma", 1.0)
    if not _is_number(out["mu"]) or not _is_number(out["sigma"]) or out["sigma"] < 0:
        raise bad_config(f"parameter {name!r}: mu and sigma must be numbers, sigma >= 0")


def _check_beta(name: str, dist: str, out: Spec) -> None:
    out.setdefault("a", 1.0)
    out.setdefault("b", 1.0)
    if not _is_number(out["a"]) or not _is_number(out["b"]) or out["a"] <= 0 or out["b"] <= 0:
        raise bad_config(f"parameter {name!r}: a and b must be numbers > 0")


def _check_range(name: str, dist: str, out: Spec) -> None:
    lo, hi = out.get("min"), out.get("max")
    if not _is_number(lo) or not _is_number(hi):
        raise bad_config(f"parameter {name!r}: distribution {dist} needs numeric 'min' and 'max'")
    assert isinstance(lo, (int, float)) and isinstance(hi, (int, float))
    if lo >= hi:  # W&B's sweeps engine refuses min == max too
        raise bad_config(f"parameter {name!r}: min {lo} must be less than max {hi}")
    if dist == "int_uniform" and not (isinstance(lo, int) and isinstance(hi, int)):
        raise bad_config(f"parameter {name!r}: int_uniform needs integer min and max")
    if dist.endswith("_values") and lo <= 0:
        raise bad_config(f"parameter {name!r}: {dist} needs min > 0")


# ---- the draws (before quantizing) -------------------------------------------------------------
def _draw_categorical(spec: Mapping[str, Any], rng: random.Random) -> Any:
    values = spec["values"]
    probs = spec.get("probabilities")
    idx = rng.choices(range(len(values)), weights=probs)[0] if probs else rng.randrange(len(values))
    return copy.deepcopy(values[idx])


def _draw_inv_log_uniform_values(spec: Mapping[str, Any], rng: random.Random) -> float:
    return 1.0 / math.exp(rng.uniform(math.log(1.0 / spec["max"]), math.log(1.0 / spec["min"])))


def _grid_q_uniform(spec: Mapping[str, Any]) -> list[Any]:
    """``min``, ``min + q``, ... below ``max`` (``max`` itself excluded, nothing quantized): what W&B's
    sweeps engine grids (numpy's ``arange(min, max, q)``, computed as numpy does: element ``i >= 2``
    is ``min + i * ((min + q) - min)``); floats if any of the three is a float."""
    q, lo, hi = spec["q"], spec["min"], spec["max"]
    count = max(0, math.ceil((hi - lo) / q))
    if isinstance(q, int) and isinstance(lo, int) and isinstance(hi, int):
        return [lo + i * q for i in range(count)]
    lo, second = float(lo), float(lo) + float(q)
    delta = second - lo
    return [lo, second, *(lo + i * delta for i in range(2, count))][:count]


def _same_run_value(value: Any) -> str:
    """When two grid values make the same run for W&B's sweeps engine: it tells them apart by a hash
    of their YAML with sorted keys, an integral float counting as its int (``1.0`` is ``1``, ``True``
    is not, ``[1.0]`` is not ``[1]``). The answer is a key compared only with other answers of this
    function: an int is its JSON, a str is its text after a NUL (no JSON text starts with one), both
    without the cost of ``json.dumps``, which a sweep pays for every run at every heartbeat."""
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str:
        return "\0" + value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        return json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError):  # keys that do not sort (``{1: .., "a": ..}``) or a cycle
        return repr(value)


def _grid_categorical(spec: Mapping[str, Any]) -> list[Any]:
    """The ``values`` of a categorical, each run value once, as W&B's sweeps engine grids them: a
    value equal to an earlier one (see :func:`_same_run_value`) makes no run of its own; the run sits
    where the first of them is and takes the last of them."""
    last: dict[str, Any] = {}
    for value in spec["values"]:
        last[_same_run_value(value)] = value  # a dict keeps the first position, the assignment the last value
    return list(last.values())


Draw = Callable[[Mapping[str, Any], random.Random], Any]


@dataclass(frozen=True)
class Distribution:
    """One distribution a parameter can name.

    Attributes:
        name: as the config spells it (``log_uniform_values``).
        keys: the keys a parameter of it may have besides ``distribution``; any other is refused
            (W&B's sweeps engine matches no schema then and cannot run the sweep).
        normalize: ``normalize(parameter name, distribution, spec)`` checks the spec's keys and
            fills their defaults in place; raises :class:`SweepConfigError`.
        sample: ``sample(spec, rng)`` draws one value (quantized for a ``q_*`` distribution).
        grid: ``grid(spec)`` lists every value in order, or ``None``: a grid cannot enumerate it.
    """

    name: str
    keys: frozenset[str]
    normalize: Callable[[str, str, Spec], None]
    sample: Draw
    grid: Callable[[Mapping[str, Any]], list[Any]] | None = None


def _quantized(draw: Draw) -> Draw:
    return lambda spec, rng: _quantize(draw(spec, rng), spec.get("q", 1))


def _pair(name: str, keys: frozenset[str], normalize: Callable[[str, str, Spec], None], draw: Draw) -> list[Distribution]:
    """``name`` and its quantized twin ``q_<name>`` (which takes ``q`` too)."""
    return [Distribution(name, keys, normalize, draw), Distribution(f"q_{name}", keys | {"q"}, normalize, _quantized(draw))]


RANGE = frozenset({"min", "max"})
Q_RANGE = RANGE | {"q"}


def _log_uniform(s: Mapping[str, Any], r: random.Random) -> float:
    return math.exp(r.uniform(s["min"], s["max"]))


def _log_uniform_values(s: Mapping[str, Any], r: random.Random) -> float:
    return math.exp(r.uniform(math.log(s["min"]), math.log(s["max"])))


def _uniform(s: Mapping[str, Any], r: random.Random) -> float:
    return r.uniform(s["min"], s["max"])


def _normal(s: Mapping[str, Any], r: random.Random) -> float:
    return r.gauss(s["mu"], s["sigma"])


def _log_normal(s: Mapping[str, Any], r: random.Random) -> float:
    return math.exp(r.gauss(s["mu"], s["sigma"]))


def _beta(s: Mapping[str, Any], r: random.Random) -> float:
    return r.betavariate(s["a"], s["b"])


#: Every distribution a random search can draw from (S14 "sweep-config-keys"), by name.
TABLE: dict[str, Distribution] = {
    d.name: d
    for d in [
        Distribution(
            "constant", frozenset({"value"}), _check_constant, lambda s, r: copy.deepcopy(s["value"]), lambda s: [s["value"]]
        ),
        Distribution(
            "categorical", frozenset({"values", "probabilities"}), _check_categorical, _draw_categorical, _grid_categorical
        ),
        Distribution(
            "int_uniform",
            RANGE,
            _check_range,
            lambda s, r: r.randint(s["min"], s["max"]),
            lambda s: list(range(s["min"], s["max"] + 1)),
        ),
        Distribution("uniform", RANGE, _check_range, _uniform),
        Distribution("q_uniform", Q_RANGE, _check_range, _quantized(_uniform), _grid_q_uniform),
        Distribution("log_uniform", RANGE, _check_range, _log_uniform),
        Distribution("log_uniform_values", RANGE, _check_range, _log_uniform_values),
        Distribution("q_log_uniform", Q_RANGE, _check_range, _quantized(_log_uniform)),
        Distribution("q_log_uniform_values", Q_RANGE, _check_range, _quantized(_log_uniform_values)),
        Distribution("inv_log_uniform", RANGE, _check_range, lambda s, r: math.exp(-r.uniform(s["min"], s["max"]))),
        Distribution("inv_log_uniform_values", RANGE, _check_range, _draw_inv_log_uniform_values),
        *_pair("normal", frozenset({"mu", "sigma"}), _check_normal, _normal),
        *_pair("log_normal", frozenset({"mu", "sigma"}), _check_normal, _log_normal),
        *_pair("beta", frozenset({"a", "b"}), _check_beta, _beta),
    ]
}
#: Their names, in the order the docs list them.
DISTRIBUTIONS = tuple(TABLE)
#: Distributions a grid can enumerate.
GRID_DISTRIBUTIONS = tuple(name for name, d in TABLE.items() if d.grid is not None)
#: A group of parameters (``parameters:`` inside a parameter); not a row of the table.
NESTED = "nested"


def _implied_distribution(name: str, out: Mapping[str, Any]) -> str:
    """The distribution of a parameter that names none: what the SDK fills in before it uploads."""
    if "values" in out:
        return "categorical"
    if "value" in out:
        return "constant"
    if "min" in out and "max" in out:
        lo, hi = out["min"], out["max"]
        if isinstance(lo, int) and isinstance(hi, int) and not isinstance(lo, bool):
            return "int_uniform"
        if _is_number(lo) and _is_number(hi):
            return "uniform"
        raise bad_config(f"parameter {name!r}: min and max must be numbers")
    raise bad_config(f"parameter {name!r} needs 'values', 'value', 'min'/'max' or 'distribution'")


def _check_names(where: str, parameters: Mapping[Any, Any]) -> None:
    """Every name of a ``parameters`` mapping is a string W&B's sweep config schema allows
    (:data:`PARAMETER_NAME`: a letter or ``_``, then letters, digits, ``_``, ``.``, ``-``)."""
    for key in parameters:
        if not isinstance(key, str) or not PARAMETER_NAME.fullmatch(key):
            raise bad_config(
                f"{where}: parameter name {key!r} must start with a letter or '_' and hold only letters, "
                "digits, '_', '.' and '-'"
            )


def normalize_parameter(name: str, spec: object) -> dict[str, Any]:
    """Check one entry of ``parameters`` and make its distribution explicit.

    ``values`` -> ``categorical``; ``value`` -> ``constant``; ``min``/``max`` without a
    distribution -> ``int_uniform`` for two ints, ``uniform`` for two floats (what the SDK fills in
    before it uploads the config); ``parameters`` -> a nested group; ``categorical_w_probabilities``
    (the sweeps engine's name) -> ``categorical``. What W&B's sweeps engine refuses is refused
    (``tests/oracle`` compares them, docs/sweeps.md lists the deliberate differences).

    Raises:
        SweepConfigError: naming the parameter and what is wrong: an unknown distribution, a key the
            distribution does not take, a bad value of a key, a bad name of a nested parameter.
    """
    if not isinstance(spec, Mapping):
        raise bad_config(f"parameter {name!r} must be a mapping, got {spec!r}")
    out = dict(spec)
    if "parameters" in out:
        nested = out["parameters"]
        if not isinstance(nested, Mapping) or not nested:
            raise bad_config(f"parameter {name!r}: 'parameters' must be a non-empty mapping")
        extra = sorted(str(k) for k in set(out) - {"parameters", "distribution"})
        if extra or out.get("distribution", NESTED) != NESTED:
            raise bad_config(f"parameter {name!r}: a group of 'parameters' takes no other key, got {extra or ['distribution']}")
        _check_names(f"parameter {name!r}", nested)
        out["parameters"] = {str(k): normalize_parameter(f"{name}.{k}", v) for k, v in nested.items()}
        out["distribution"] = NESTED
        return out
    dist = out.get("distribution")
    if dist is None:
        dist = _implied_distribution(name, out)
    if dist == CATEGORICAL_W_PROBABILITIES:
        if "probabilities" not in out:
            raise bad_config(f"parameter {name!r}: {CATEGORICAL_W_PROBABILITIES} needs 'probabilities'")
        dist = "categorical"
    if dist not in TABLE:
        raise bad_config(
            f"parameter {name!r}: unknown distribution {dist!r}; expected one of "
            f"{(*DISTRIBUTIONS, CATEGORICAL_W_PROBABILITIES)}"
        )
    out["distribution"] = dist
    extra = sorted(str(k) for k in set(out) - TABLE[dist].keys - {"distribution"})
    if extra:
        raise bad_config(f"parameter {name!r}: distribution {dist} takes no {extra} (only {sorted(TABLE[dist].keys)})")
    TABLE[dist].normalize(name, dist, out)
    if dist.startswith("q_"):
        q = out.setdefault("q", 1)
        if not _is_number(q) or q <= 0:
            raise bad_config(f"parameter {name!r}: q must be a number > 0")
    return out


def sample_parameter(spec: Mapping[str, Any], rng: random.Random) -> Any:
    """Draw one value of a normalized parameter (random search); a nested group draws its parameters in
    sorted name order, as the top level does."""
    if spec["distribution"] == NESTED:
        return {k: sample_parameter(spec["parameters"][k], rng) for k in sorted(spec["parameters"])}
    return TABLE[spec["distribution"]].sample(spec, rng)


def grid_values(name: str, spec: Mapping[str, Any]) -> list[Any]:
    """Every value a grid search takes for a normalized parameter, in order, as W&B's sweeps engine
    grids it: the ``values`` of a categorical (each run value once), ``min``..``max`` of an
    int_uniform, ``min`` to below ``max`` in steps of ``q`` of a q_uniform; a nested group is the
    product of its parameters in sorted name order.

    Raises:
        SweepConfigError: for a continuous distribution (a grid needs discrete values), or a
            categorical with ``probabilities``.
    """
    dist = spec["distribution"]
    if dist == NESTED:  # the product of its leaves, in sorted name order, the last varying fastest
        names = sorted(spec["parameters"])
        columns = [grid_values(f"{name}.{k}", spec["parameters"][k]) for k in names]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*columns)]
    grid = TABLE[dist].grid
    if spec.get("probabilities") is not None:
        raise bad_config(f"parameter {name!r}: method grid takes no 'probabilities' (a grid runs every value once)")
    if grid is None:
        raise bad_config(
            f"parameter {name!r}: method grid needs discrete values ('values', 'value', int_uniform or "
            f"q_uniform), not distribution {dist}"
        )
    return grid(spec)


def grid_leaves(parameters: Mapping[str, Mapping[str, Any]]) -> list[tuple[tuple[str, ...], list[Any]]]:
    """The leaf parameters of a grid over normalized ``parameters`` that tell its combinations apart,
    with their grid values, in the grid's order (names sorted, a nested group's parameters in its
    place, depth first), each as ``(path, values)``: ``("opt", "lr")`` is ``lr`` of the group
    ``opt``. Constants (``value``) are left out: W&B's sweeps engine compares a run with a grid
    combination on its categorical parameters only (``int_uniform`` and ``q_uniform`` count as
    categorical there), so a run with another value of a constant, or none, still holds it.

    Raises:
        SweepConfigError: see :func:`grid_values`.
    """
    out: list[tuple[tuple[str, ...], list[Any]]] = []

    def walk(group: Mapping[str, Mapping[str, Any]], prefix: tuple[str, ...]) -> None:
        for name in sorted(group):
            spec = group[name]
            path = (*prefix, name)
            if spec["distribution"] == NESTED:
                walk(spec["parameters"], path)
            elif spec["distribution"] != "constant":
                out.append((path, grid_values(".".join(path), spec)))

    walk(parameters, ())
    return out


_MISSING = object()


def _run_leaf(config: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value of the leaf parameter at ``path`` in a run config shaped as W&B stores it
    (``{"opt": {"value": {"lr": 0.1}, "desc": None}}``): ``config[path[0]]["value"][path[1]]...``, or
    :data:`_MISSING` when a key is absent or a step is not a mapping."""
    node: Any = config
    for key in (path[0], "value", *path[1:]):
        if not isinstance(node, Mapping) or key not in node:
            return _MISSING
        node = node[key]
    return node


def run_grid_key(
    leaves: list[tuple[tuple[str, ...], list[Any]]], config: Mapping[str, Any]
) -> tuple[str, ...] | None:
    """Which grid combination a run's config holds, as W&B's sweeps engine reads it (its
    ``grid_search_next_runs``), or ``None`` if it holds none.

    Args:
        leaves: :func:`grid_leaves` of the sweep's parameters.
        config: the run's config as W&B stores it, ``{name: {"value": v, ...}}``; any other key
            (``_wandb``, parameters of no grid) is ignored.

    Returns:
        One key per leaf of ``leaves`` (see :func:`_same_run_value`: ``1.0`` is ``1``, mappings compare with sorted
        keys); a value that is a mapping counts only with the keys some mapping of that leaf's grid
        values has (the engine strips keys added at run time). ``None`` if a leaf is missing: the
        engine then counts the run as no combination. (A config step that is not a mapping also
        counts as no combination here; the engine raises ``TypeError`` there.)
    """
    out: list[str] = []
    for path, values in leaves:
        value = _run_leaf(config, path)
        if value is _MISSING:
            return None
        if isinstance(value, Mapping):  # only then the grid's mappings matter (O(grid values))
            known = {k for v in values if isinstance(v, Mapping) for k in v}
            if known:
                value = {k: v for k, v in value.items() if k in known}
        out.append(_same_run_value(value))
    return tuple(out)


class GridIndex:
    """A grid's leaves and its combinations in grid order, each with the key a run holding it has
    (:func:`run_grid_key`), computed once for the sweep's parameters and only as far as they are
    asked for (a grid can be large; a sweep asks for the first combination no run holds).

    Args:
        parameters: the sweep's normalized parameters (a grid); not copied: a sweep whose config is
            replaced gets a new index.

    Raises:
        SweepConfigError: see :func:`grid_values`.
    """

    def __init__(self, parameters: Mapping[str, Mapping[str, Any]]) -> None:
        self.parameters = parameters
        self.leaves = grid_leaves(parameters)
        names = sorted(parameters)
        columns = [grid_values(n, parameters[n]) for n in names]
        self._names = names
        self._product = itertools.product(*columns)
        self._combos: list[tuple[dict[str, Any], tuple[str, ...]]] = []

    def _combo(self, index: int) -> tuple[dict[str, Any], tuple[str, ...]] | None:
        while len(self._combos) <= index:
            combo = next(self._product, None)
            if combo is None:
                return None
            values = dict(zip(self._names, combo, strict=True))
            stored = {k: {"value": v} for k, v in values.items()}
            key = tuple(_same_run_value(_run_leaf(stored, p)) for p, _ in self.leaves)
            self._combos.append((values, key))
        return self._combos[index]

    def first_not_held(self, run_configs: Iterable[Mapping[str, Any]]) -> tuple[int, dict[str, Any]] | None:
        """:func:`next_grid_combination` over this grid."""
        held = {key for config in run_configs if (key := run_grid_key(self.leaves, config)) is not None}
        index = 0
        while (found := self._combo(index)) is not None:
            if found[1] not in held:
                return index, copy.deepcopy(found[0])
            index += 1
        return None


def next_grid_combination(
    parameters: Mapping[str, Mapping[str, Any]], run_configs: Iterable[Mapping[str, Any]]
) -> tuple[int, dict[str, Any]] | None:
    """The first grid combination, in grid order, that no run holds: what W&B's sweeps engine
    proposes next for a grid whose runs have these configs (every run counts, whatever its state:
    the engine reads only configs; see :func:`run_grid_key` for when a run holds a combination).
    A sweep asking again and again keeps a :class:`GridIndex` instead (same answer).

    Args:
        parameters: the sweep's normalized parameters (a grid).
        run_configs: the configs of the sweep's runs, prior runs (``priorRuns``) included, as W&B
            stores them (``{name: {"value": v}}``).

    Returns:
        ``(index, values)``: its number in the grid (as :func:`combination` numbers it) and its
        plain values; ``None`` once every combination is held by a run (the grid is done).

    Raises:
        SweepConfigError: see :func:`grid_values`.
    """
    return GridIndex(parameters).first_not_held(run_configs)


def grid_size(parameters: Mapping[str, Mapping[str, Any]]) -> int:
    """The number of combinations of a grid over normalized ``parameters``."""
    return math.prod(len(grid_values(n, s)) for n, s in parameters.items())


def combination(method: str, parameters: Mapping[str, Mapping[str, Any]], seed: str, index: int) -> dict[str, Any]:
    """The parameter values of combination ``index`` (0-based) of a grid or random search.

    Grid: parameters in sorted name order, the last one varying fastest. Random: each parameter
    drawn from a generator seeded with ``(seed, index)``, so the same seed gives the same
    combinations in the same order, whoever asks and when.

    Raises:
        IndexError: past the end of the grid.
    """
    names = sorted(parameters)
    if method == "grid":
        columns = [grid_values(n, parameters[n]) for n in names]
        size = math.prod(len(c) for c in columns)
        if not 0 <= index < size:
            raise IndexError(f"grid combination {index} of {size}")
        out: dict[str, Any] = {}
        rest = index
        for name, column in reversed(list(zip(names, columns, strict=True))):
            rest, pick = divmod(rest, len(column))
            out[name] = copy.deepcopy(column[pick])
        return {n: out[n] for n in names}
    rng = random.Random(f"{seed}/{index}")
    return {n: sample_parameter(parameters[n], rng) for n in names}


#: The distributions W&B's sweeps engine calls deprecated (their ``min``/``max`` are base-e
#: exponents), each with the ``_values`` form it names instead.
DEPRECATED_DISTRIBUTIONS = {
    "log_uniform": "log_uniform_values",
    "q_log_uniform": "q_log_uniform_values",
    "inv_log_uniform": "inv_log_uniform_values",
}
#: The engine's warning for one of them (its ``check_for_deprecated_distributions``), word for word.
DEPRECATED_DISTRIBUTION = (
    "{name} uses {distribution}, where min/max specify base-e exponents. Use {replacement} to specify limit values."
)


def config_warnings(config: Mapping[str, Any]) -> list[str]:
    """The warnings W&B's sweeps engine's checks (``schema_violations_from_proposed_config``) give for
    a config :func:`parse_sweep_config` accepted: what W&B's server answers as ``UpsertSweep``'s
    ``configValidationWarnings`` and ``wandb sweep`` prints under "Malformed sweep config detected!".

    For an accepted config these are only the deprecations of :data:`DEPRECATED_DISTRIBUTIONS`: one
    per top-level parameter that uses one, in the config's order (the engine does not look into a
    nested group's parameters). Every other fault the engine finds, the fake refuses.

    Args:
        config: a config as :func:`parse_sweep_config` returns it.

    Returns:
        The warnings, each as the engine words it (:data:`DEPRECATED_DISTRIBUTION`); empty if none.
    """
    out = []
    for name, spec in (config.get("parameters") or {}).items():
        distribution = spec.get("distribution") if isinstance(spec, Mapping) else None
        if distribution in DEPRECATED_DISTRIBUTIONS:
            replacement = DEPRECATED_DISTRIBUTIONS[distribution]
            out.append(DEPRECATED_DISTRIBUTION.format(name=name, distribution=distribution, replacement=replacement))
    return out


def parse_sweep_config(text_or_config: str | Mapping[str, Any]) -> dict[str, Any]:
    """Parse and check a sweep config (the YAML string ``UpsertSweep`` carries, or a mapping).

    Returns:
        The config as a dict, with every parameter's distribution made explicit.

    Raises:
        SweepConfigError: not a YAML mapping, no or unknown ``method``, ``method: bayes`` without a
            ``metric`` (or any bad ``metric``: no ``name``, a goal other than minimize/maximize), no
            ``parameters``, a bad parameter or parameter name, a bad ``run_cap``, ``command`` not a
            list, or a grid over a continuous distribution or with ``probabilities``.
    """
    if isinstance(text_or_config, str):
        import yaml  # PyYAML; imported here so the rest of the model needs only the stdlib

        try:
            config = yaml.safe_load(text_or_config)
        except yaml.YAMLError as exc:
            raise bad_config(f"not valid YAML: {exc}") from exc
        except RecursionError:
            raise bad_config("not valid YAML: nested too deep") from None
    else:
        config = copy.deepcopy(dict(text_or_config))
    if not isinstance(config, dict):
        raise bad_config("the config must be a mapping")
    method = config.get("method")
    if method not in METHODS:
        raise bad_config(f"method must be one of {METHODS}, got {method!r}")
    metric_problem = bayes.check_metric(config.get("metric"), required=method == "bayes")
    if metric_problem is not None:
        raise bad_config(metric_problem)
    params = config.get("parameters")
    if not isinstance(params, dict) or not params:
        raise bad_config("'parameters' must be a non-empty mapping")
    _check_names("parameters", params)
    config["parameters"] = {str(k): normalize_parameter(str(k), v) for k, v in params.items()}
    run_cap = config.get("run_cap")
    if run_cap is not None and (not isinstance(run_cap, int) or isinstance(run_cap, bool) or run_cap < 1):
        raise bad_config(f"run_cap must be a positive integer, got {run_cap!r}")
    command = config.get("command")
    if command is not None and not isinstance(command, list):
        raise bad_config("'command' must be a list")
    program = config.get("program")
    if program is not None and not isinstance(program, str):
        raise bad_config("'program' must be a string")
    if method == "grid":
        for name, spec in config["parameters"].items():
            grid_values(name, spec)
    return config
