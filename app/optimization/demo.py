"""`flask seed-demo`: the seeded demo series, so a fresh install can submit an optimization at once."""

from sqlalchemy import select

from app.extensions import db
from app.optimization import datasets, service
from app.optimization.models import Dataset

DEMO_NAME = "Demo random walk (seeded)"


def seed() -> str | None:
    if db.session.scalar(select(Dataset).where(Dataset.name == DEMO_NAME)):
        return None
    dataset = service.create_dataset(DEMO_NAME, datasets.to_csv(datasets.demo_series()), "system")
    return f"optimization: dataset {dataset.name!r} ({dataset.rows} bars) created"
