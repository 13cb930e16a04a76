"""Large data sets inserted set-based (one executemany per table), for the page-size tests,
the big-pages browser test and tests/perf/bench_big_pages.py. Each builder takes a SQLAlchemy
Connection, so it fills the test app's database (`db.session.connection()`) or a live server's
file alike; the caller commits."""

from decimal import Decimal

from sqlalchemy import Connection, insert, select

from app.items.models import Bom, BomLine, BomState, Item
from app.optimization import datasets
from app.optimization.models import Dataset, Optimization, OptimizationStatus, OptimizationTask

BOM_LINES = 10_000
OPTIMIZATION_TASKS = 100_000


def big_bom(connection: Connection, lines: int = BOM_LINES, number: str = "BIG-ASM") -> tuple[int, int]:
    """An assembly with a draft BOM of `lines` lines, each a part of its own; returns (item id, BOM id)."""
    item_id = connection.execute(
        insert(Item).values(number=number, name="Big assembly", item_type="assembly").returning(Item.id)
    ).scalar_one()
    connection.execute(
        insert(Item),
        [
            {"number": f"{number}-P{i:05d}", "name": f"Part {i} of the big assembly", "item_type": "part"}
            for i in range(lines)
        ],
    )
    bom_id = connection.execute(
        insert(Bom).values(item_id=item_id, revision="A", state=BomState.draft).returning(Bom.id)
    ).scalar_one()
    parts = connection.execute(select(Item.id).where(Item.number.like(f"{number}-P%")).order_by(Item.number)).scalars()
    connection.execute(
        insert(BomLine),
        [
            {
                "bom_id": bom_id,
                "child_id": child_id,
                "quantity": Decimal(1 + i % 7),
                "unit": "EA",
                "find_number": 10 * (i + 1),
                "refdes": f"R{i + 1}",
                "note": "bulk line",
            }
            for i, child_id in enumerate(parts)
        ],
    )
    return item_id, bom_id


def big_optimization(connection: Connection, owner_id: int, tasks: int = OPTIMIZATION_TASKS) -> int:
    """A succeeded sma_cross optimization of `tasks` finished tasks, every one a distinct (n1, n2)
    cell of the heatmap, with thousands of best-score improvements; returns its id."""
    bars = datasets.demo_series(60)
    canonical = datasets.to_csv(bars)
    dataset_id = connection.execute(
        insert(Dataset)
        .values(
            name="big",
            checksum=datasets.checksum(canonical),
            rows=len(bars),
            first_date=bars.dates[0],
            last_date=bars.dates[-1],
            csv=canonical,
            created_by="bigdata",
        )
        .returning(Dataset.id)
    ).scalar_one()
    side = int(tasks**0.5)  # n1 × n2 grid, every point scored
    optimization_id = connection.execute(
        insert(Optimization)
        .values(
            owner_id=owner_id,
            strategy="sma_cross",
            dataset_id=dataset_id,
            param_space={
                "n1": {"start": 1, "stop": side, "step": 1},
                "n2": {"start": 2, "stop": 1 + -(-tasks // side), "step": 1},
            },
            policy={"mode": "max", "metric": "return_pct", "target": None, "patience": None, "maxTasks": None},
            top_n=10,
            cash=10_000.0,
            commission=0.0,
            status=OptimizationStatus.succeeded,
            total=tasks,
            finished=tasks,
            chunks_total=-(-tasks // 200),
            chunks_done=-(-tasks // 200),
            top=[],
            best_history=[[n, n / 100, n / tasks] for n in range(1, tasks, 20)],
        )
        .returning(Optimization.id)
    ).scalar_one()
    connection.execute(
        insert(OptimizationTask),
        [
            {
                "optimization_id": optimization_id,
                "seq": seq,
                "param_1": 1 + seq % side,  # n1
                "param_2": 2 + seq // side,  # n2
                "status": "finished",
                "score": (seq * 7919 % tasks) / tasks,
                "return_pct": 1.0,
                "sharpe": 0.5,
                "max_drawdown_pct": 3.0,
                "trades": 4,
                "win_rate_pct": 50,
            }
            for seq in range(tasks)
        ],
    )
    best = connection.execute(
        select(OptimizationTask.id, OptimizationTask.score, OptimizationTask.param_1, OptimizationTask.param_2)
        .where(OptimizationTask.optimization_id == optimization_id)
        .order_by(OptimizationTask.score.desc())
        .limit(10)
    ).all()
    connection.execute(
        Optimization.__table__.update()
        .where(Optimization.id == optimization_id)
        .values(
            best_score=best[0].score,
            top=[
                {"taskId": row.id, "score": row.score, "params": {"n1": int(row.param_1), "n2": int(row.param_2)}}
                for row in best
            ],
        )
    )
    return optimization_id
