"""Parameter spaces: per parameter a list of values or {start, stop, step}
(stop included); the grid is their product, in a fixed order. The run order is
that order, or a seeded shuffle of it (`in_run_order`): a task's `seq` is its
position in the run order, so a chunk of work is just a range of seqs."""

import math
from typing import Any

import numpy as np

from app.core.errors import InvalidInput
from app.core.validation import invalid
from app.optimization.strategies import STRATEGIES, Param, Strategy

MAX_POINTS = 100_000


def strategy_named(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        allowed = ", ".join(STRATEGIES)
        raise invalid(
            "strategy", f"Strategy must be one of {allowed}; {name!r} is not.", allowed=list(STRATEGIES)
        ) from None


def _bad(param: Param, message: str) -> InvalidInput:
    return invalid(f"paramSpace.{param.name}", f"{param.name} {message}")


def _allowed(param: Param) -> str:
    kind = "whole numbers" if param.kind is int else "numbers"
    return f"takes {kind} from {param.minimum:g} to {param.maximum:g}"


def _values(param: Param, spec: Any) -> list[float | int]:
    if isinstance(spec, dict):
        start, stop, step = (float(spec[k]) for k in ("start", "stop", "step"))
        if not step > 0:
            raise _bad(param, f"needs a step greater than 0; {step:g} is not.")
        if not math.isfinite(start + stop + step):
            raise _bad(param, f"{_allowed(param)}.")
        if stop < start:
            raise _bad(param, f"needs stop ({stop:g}) at least start ({start:g}).")
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > MAX_POINTS:
            raise _bad(param, f"has {count:,} values from {start:g} to {stop:g} by {step:g}; at most {MAX_POINTS:,}.")
        values = [round(start + i * step, 10) for i in range(count)]
    else:
        values = [float(v) for v in spec]
        if not values:
            raise _bad(param, "needs at least one value.")
    for value in values:
        if not param.minimum <= value <= param.maximum or (param.kind is int and value != int(value)):
            raise _bad(param, f"{_allowed(param)}; {value:g} is not.")
    return list(dict.fromkeys(int(v) if param.kind is int else v for v in values))


def axis(strategy: Strategy, space: dict[str, Any], name: str) -> list[float | int]:
    """The values one parameter takes in a (validated) space, in increasing order."""
    param = next(p for p in strategy.params if p.name == name)
    return sorted(_values(param, space[name]))


def describe(strategy: Strategy, space: dict[str, Any]) -> list[dict[str, Any]]:
    """Each parameter of a (validated) space as people read it: "5 to 50 by 5" or its values
    (the first eight, then how many more), and how many values it takes."""
    rows = []
    for param in strategy.params:
        spec, values = space[param.name], axis(strategy, space, param.name)
        if isinstance(spec, dict):
            text = f"{float(spec['start']):g} to {float(spec['stop']):g} by {float(spec['step']):g}"
        else:
            text = ", ".join(f"{v:g}" for v in values[:8]) + (
                f" and {len(values) - 8:,} more" if len(values) > 8 else ""
            )
        rows.append({"name": param.name, "text": text, "count": len(values)})
    return rows


def groups(values: list[Any], limit: int) -> list[list[Any]]:
    """`values` in at most `limit` runs of neighbours (one value each when they are few)."""
    size = max(1, -(-len(values) // limit))
    return [values[i : i + size] for i in range(0, len(values), size)]


def _axes(strategy: Strategy, space: dict[str, Any]) -> list[list[float | int]]:
    """Each parameter's values, validated, and the grid no larger than MAX_POINTS."""
    names = [p.name for p in strategy.params]
    unknown, missing = sorted(set(space) - set(names)), [n for n in names if n not in space]
    if unknown or missing:
        raise invalid(
            "paramSpace",
            f"Parameters must be exactly those of {strategy.name}: {', '.join(names)}"
            + "".join(
                f"; {label}: {', '.join(found)}"
                for label, found in (("unknown", unknown), ("missing", missing))
                if found
            )
            + ".",
            unknown=unknown,
            missing=missing,
        )
    axes = [_values(p, space[p.name]) for p in strategy.params]
    size = math.prod(len(a) for a in axes)
    if size > MAX_POINTS:
        shape = " × ".join(f"{len(a):,} {p.name}" for p, a in zip(strategy.params, axes, strict=True))
        raise invalid(
            "paramSpace",
            f"The grid has {size:,} points ({shape}); at most {MAX_POINTS:,} are allowed: use larger steps or fewer"
            " values.",
            points=size,
            limit=MAX_POINTS,
        )
    return axes


def _columns(strategy: Strategy, axes: list[list[float | int]]) -> tuple[list[np.ndarray], np.ndarray]:
    """The grid as one array per parameter, in grid order (itertools.product's: the last parameter
    varies fastest), and the mask of the points that satisfy the constraint. The constraint is
    evaluated once on the arrays (a comparison of parameters works elementwise); one that cannot be
    is evaluated point by point."""
    arrays = [np.asarray(a, dtype=p.dtype) for a, p in zip(axes, strategy.params, strict=True)]
    columns = [c.ravel() for c in np.meshgrid(*arrays, indexing="ij")] if arrays else []
    names = [p.name for p in strategy.params]
    try:
        verdict = strategy.constraint(dict(zip(names, columns, strict=True)))
        mask = np.broadcast_to(np.asarray(verdict), columns[0].shape)
        if mask.dtype != bool:
            raise TypeError(mask.dtype)
    except (TypeError, ValueError):  # not elementwise: one point at a time
        points = zip(*(c.tolist() for c in columns), strict=True)
        mask = np.fromiter((bool(strategy.constraint(dict(zip(names, p, strict=True)))) for p in points), bool)
    return columns, mask


def expand(strategy: Strategy, space: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """(the points that satisfy the strategy's constraint, in grid order, how many were skipped)."""
    columns, mask = _columns(strategy, _axes(strategy, space))
    names = [p.name for p in strategy.params]
    values = [c[mask].tolist() for c in columns]  # Python ints and floats, as the JSON space gave them
    return [dict(zip(names, point, strict=True)) for point in zip(*values, strict=True)], int(mask.size - mask.sum())


def count(strategy: Strategy, space: dict[str, Any]) -> tuple[int, int]:
    """(how many points `expand` gives, how many it skips), without building them."""
    _, mask = _columns(strategy, _axes(strategy, space))
    kept = int(mask.sum())
    return kept, int(mask.size) - kept


def in_run_order(points: list[dict[str, Any]], seed: int | None) -> list[dict[str, Any]]:
    """The points as the tasks run them: seq i is `result[i]`. Grid order without a seed; with one,
    a permutation that only the seed decides (the same on every worker and on every re-run)."""
    if seed is None:
        return points
    return [points[i] for i in np.random.default_rng(seed).permutation(len(points))]


def columns_in_run_order(strategy: Strategy, space: dict[str, Any], seed: int | None) -> list[np.ndarray]:
    """`in_run_order(expand(strategy, space)[0], seed)` as one array per parameter (as
    `Strategy.columns` gives them): what a worker keeps of a grid and hands to the kernel in slices."""
    columns, mask = _columns(strategy, _axes(strategy, space))
    kept = [c[mask] for c in columns]
    if seed is None:
        return kept
    order = np.random.default_rng(seed).permutation(int(mask.sum()))
    return [c[order] for c in kept]
