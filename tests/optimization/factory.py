"""Optimizations for tests: the submit body, a submitted optimization over demo bars, and results
as a chunk hands them in."""

import numpy as np

from app.extensions import db
from app.optimization import datasets, service
from app.optimization.chunks import Results
from app.optimization.models import METRICS, Optimization
from app.optimization.strategies import STRATEGIES


def submit_body(dataset_id: int, **overrides) -> dict:
    body = {
        "strategy": "sma_cross",
        "dataset": dataset_id,
        "paramSpace": {"n1": {"start": 5, "stop": 30, "step": 5}, "n2": [20, 40, 60, 80]},
        "earlyStopPolicy": {"mode": "max", "metric": "return_pct"},
        "topN": 3,
    }
    return {**body, **overrides}


def submitted(owner, bars: int, space: dict, strategy: str = "sma_cross") -> Optimization:
    """An optimization of `space` over `bars` demo bars, submitted by `owner` and committed."""
    dataset = service.create_dataset("demo", datasets.to_csv(datasets.demo_series(bars)), owner.username)
    body = submit_body(dataset.id, strategy=strategy, paramSpace=space, cash=10_000, commission=0.0)
    row = service.submit(owner, body)
    db.session.commit()
    return row


def results(points: list[tuple[int, dict, dict | str]], strategy: str = "sma_cross") -> Results:
    """Results of (seq, params, metrics or the error text of a failed point); a metric left out or
    None is undefined (NaN, as the kernel leaves a Sharpe ratio it cannot compute)."""
    table = np.full((len(points), len(METRICS)), np.nan)
    errors = {}
    for i, (_, _, outcome) in enumerate(points):
        if isinstance(outcome, str):
            errors[i] = outcome
            continue
        for name, value in outcome.items():
            table[i, METRICS.index(name)] = np.nan if value is None else value
    return Results(
        np.array([seq for seq, _, _ in points], dtype=np.int64),
        STRATEGIES[strategy].columns([params for _, params, _ in points]),
        table,
        errors,
    )
