"""The fake's stand-in for ``method: bayes`` sweeps: a seeded, documented proposal rule.

W&B's server runs Bayesian optimisation (a Gaussian process over the finished runs' metric); the
fake does not. What tests of training code need from a bayes sweep is that the server *accepts* it
(with the server's validation: a ``metric`` with a ``name`` is required, its ``goal`` is
``minimize`` or ``maximize``), hands out runs with valid parameters, and does so reproducibly. So:

1. The first :data:`WARMUP` proposals, and every proposal while no finished run of the sweep has the
   metric in its summary, are random draws, seeded by ``(seed, index)`` like a random search.
2. After that, proposal ``index`` starts from the parameters of the best run so far (lowest metric
   for ``minimize``, highest for ``maximize``; ties: the earlier run) and moves each parameter with a
   generator seeded by ``(seed, "bayes", index)``: a categorical/constant parameter keeps its value
   with probability 1/2 and else takes a random one of its values; a bounded numeric parameter moves
   by a normal step of a tenth of its range, clipped to the bounds (rounded for ``int_uniform``,
   quantized for ``q_*``); an unbounded one (normal, log-normal, beta) is drawn afresh.

Same seed, same finished runs and metrics -> same proposals. Pure: no I/O, stdlib only.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

#: Random proposals before the best run is used.
WARMUP = 2
#: The metric goals the server accepts.
GOALS = ("minimize", "maximize")
#: A numeric step is this fraction of the parameter's range (its standard deviation).
STEP = 0.1

BAYES_NEEDS_METRIC = "method bayes needs a metric: {{name: ..., goal: minimize|maximize}} (got {metric!r})"


def check_metric(metric: object, required: bool) -> str | None:
    """Check a sweep config's ``metric`` (required for bayes).

    Returns:
        ``None`` when it is fine, else the reason it is not.
    """
    if metric is None:
        return BAYES_NEEDS_METRIC.format(metric=metric) if required else None
    if not isinstance(metric, Mapping) or not isinstance(metric.get("name"), str) or not metric["name"]:
        return f"metric must be a mapping with a non-empty 'name', got {metric!r}"
    goal = metric.get("goal", "minimize")
    if goal not in GOALS:
        return f"metric goal must be one of {GOALS}, got {goal!r}"
    return None


def _bounded_step(spec: Mapping[str, Any], current: Any, rng: random.Random) -> Any:
    dist = spec["distribution"]
    lo, hi = spec["min"], spec["max"]
    if dist in ("log_uniform", "q_log_uniform"):  # bounds are exponents
        x = math.log(current) if isinstance(current, (int, float)) and current > 0 else rng.uniform(lo, hi)
        x = min(hi, max(lo, x + rng.gauss(0, STEP * (hi - lo))))
        value: float = math.exp(x)
    elif dist in ("inv_log_uniform",):
        x = -math.log(current) if isinstance(current, (int, float)) and current > 0 else rng.uniform(lo, hi)
        x = min(hi, max(lo, x + rng.gauss(0, STEP * (hi - lo))))
        value = math.exp(-x)
    elif dist.endswith("_values"):  # log-spaced values: step in log space
        llo, lhi = math.log(lo), math.log(hi)
        x = math.log(current) if isinstance(current, (int, float)) and current > 0 else rng.uniform(llo, lhi)
        value = math.exp(min(lhi, max(llo, x + rng.gauss(0, STEP * (lhi - llo)))))
    else:
        base = current if isinstance(current, (int, float)) and not isinstance(current, bool) else rng.uniform(lo, hi)
        value = min(hi, max(lo, base + rng.gauss(0, STEP * (hi - lo))))
    if dist == "int_uniform":
        return int(min(hi, max(lo, round(value))))
    if dist.startswith("q_"):
        q = spec.get("q", 1)
        quantized = round(value / q) * q
        return int(quantized) if isinstance(q, int) else quantized
    return value


def _move(spec: Mapping[str, Any], current: Any, rng: random.Random, sample: Any) -> Any:
    dist = spec["distribution"]
    if dist == "nested":
        cur = current if isinstance(current, Mapping) else {}
        return {k: _move(v, cur.get(k), rng, sample) for k, v in spec["parameters"].items()}
    if dist == "constant":
        return spec["value"]
    if dist == "categorical":
        values = spec["values"]
        if current in values and rng.random() < 0.5:
            return current
        return values[rng.randrange(len(values))]
    if "min" in spec and "max" in spec:
        return _bounded_step(spec, current, rng)
    return sample(spec, rng)  # unbounded distributions: a fresh draw


def propose(
    parameters: Mapping[str, Mapping[str, Any]],
    seed: str,
    index: int,
    metric: Mapping[str, Any],
    observations: Sequence[tuple[Mapping[str, Any], float]],
    sample: Any,
) -> dict[str, Any]:
    """Proposal ``index`` of a bayes sweep (see the module docstring).

    Args:
        parameters: the normalized parameters (``parse_sweep_config``).
        seed: the sweep's seed.
        index: the proposal's number (0 for the first run of the sweep).
        metric: the sweep's ``metric`` (``name``, ``goal``).
        observations: ``(parameter values, metric value)`` of the finished runs that logged the
            metric, in the order the runs were created.
        sample: ``sample(spec, rng)`` draws one value of a parameter (the random search's).

    Returns:
        ``{name: value}`` for every parameter, in sorted name order.
    """
    names = sorted(parameters)
    finite = [(p, v) for p, v in observations if isinstance(v, (int, float)) and math.isfinite(v)]
    if index < WARMUP or not finite:
        rng = random.Random(f"{seed}/{index}")
        return {n: sample(parameters[n], rng) for n in names}
    sign = -1.0 if metric.get("goal", "minimize") == "maximize" else 1.0
    best = min(range(len(finite)), key=lambda i: (sign * finite[i][1], i))
    start = finite[best][0]
    rng = random.Random(f"{seed}/bayes/{index}")
    return {n: _move(parameters[n], start.get(n), rng, sample) for n in names}
