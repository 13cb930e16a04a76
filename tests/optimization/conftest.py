import pytest

from app.extensions import db
from app.optimization import datasets, service


@pytest.fixture
def demo_dataset(app):
    dataset = service.create_dataset("demo", datasets.to_csv(datasets.demo_series(400)), "tester")
    db.session.commit()
    return dataset
