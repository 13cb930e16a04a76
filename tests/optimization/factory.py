"""Optimizations for tests: the submit body, and a submitted optimization over demo bars."""

from app.extensions import db
from app.optimization import datasets, service
from app.optimization.models import Optimization


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
