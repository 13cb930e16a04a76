import pytest

from app.extensions import db
from app.optimization import datasets, service


@pytest.fixture
def demo_dataset(app):
    dataset = service.create_dataset("demo", datasets.to_csv(datasets.demo_series(400)), "tester")
    db.session.commit()
    return dataset


def submit_body(dataset_id: int, **overrides) -> dict:
    body = {
        "strategy": "sma_cross",
        "dataset": dataset_id,
        "paramSpace": {"n1": {"start": 5, "stop": 30, "step": 5}, "n2": [20, 40, 60, 80]},
        "earlyStopPolicy": {"mode": "max", "metric": "return_pct"},
        "topN": 3,
    }
    return {**body, **overrides}
