from flask import Blueprint, Response
from flask_login import current_user

from app.core.api import API_PREFIX, endpoint, page_out, read
from app.core.auth.roles import ENGINEER
from app.extensions import db
from app.optimization import analysis, service
from app.optimization.models import Optimization
from app.optimization.schemas import (
    CompareOut,
    CompareQuery,
    DatasetIn,
    DatasetList,
    DatasetOut,
    GridSizeIn,
    GridSizeOut,
    HistoryQuery,
    OptimizationIn,
    OptimizationList,
    OptimizationOut,
    RerunIn,
    StatusOut,
    StrategyList,
    TrialList,
    TrialOut,
    TrialsQuery,
)
from app.optimization.strategies import STRATEGIES

bp = Blueprint("optimization_api", __name__, url_prefix=API_PREFIX)


def optimization_out(optimization: Optimization) -> OptimizationOut:
    return read(OptimizationOut, optimization, summary=service.summary(optimization))


@endpoint(
    bp,
    "/optimizations",
    "POST",
    summary="Submit a grid optimization (202: its chunks are queued)",
    roles=ENGINEER,
    body=OptimizationIn,
    response=OptimizationOut,
    status=202,
)
def submit(body: OptimizationIn):
    optimization = service.submit(current_user, body.model_dump())
    db.session.commit()
    return optimization_out(optimization)


@endpoint(
    bp,
    "/optimizations",
    summary="Optimizations, newest first: your own (admins: everyone's)",
    query=HistoryQuery,
    response=OptimizationList,
)
def list_optimizations(query: HistoryQuery):
    page = service.history(current_user, query.page, query.per_page)
    return page_out(OptimizationList, page, optimization_out)


@endpoint(bp, "/optimizations/<optimization_id>", summary="One optimization with its summary", response=OptimizationOut)
def get_optimization(optimization_id: str):
    return optimization_out(service.get_by_ref(optimization_id, current_user))


@endpoint(
    bp, "/optimizations/<optimization_id>/status", summary="Status and summary (counts and Top-N)", response=StatusOut
)
def optimization_status(optimization_id: str):
    return StatusOut(**service.status(service.get_by_ref(optimization_id, current_user)))


@endpoint(
    bp,
    "/optimizations/<optimization_id>/cancel",
    "POST",
    summary="Cancel: the summary freezes and no new task starts",
    roles=ENGINEER,
    response=StatusOut,
)
def cancel(optimization_id: str):
    optimization = service.cancel(service.get_by_ref(optimization_id, current_user), current_user)
    db.session.commit()
    service.announce(optimization, finalized=True)
    db.session.commit()
    return StatusOut(**service.status(optimization))


@endpoint(
    bp,
    "/optimizations/<optimization_id>/rerun",
    "POST",
    summary="Re-run the whole job, or one task's combination; the new job records sourceJobId",
    roles=ENGINEER,
    body=RerunIn,
    response=OptimizationOut,
    status=202,
)
def rerun(optimization_id: str, body: RerunIn):
    source = service.get_by_ref(optimization_id, current_user)
    optimization = service.rerun(source, current_user, body.taskId)
    db.session.commit()
    return optimization_out(optimization)


@endpoint(
    bp,
    "/optimizations/<optimization_id>/export",
    summary="Zip of the Top-N: manifest.json, results.csv, tasks/<taskId>/equity.csv and trades.csv",
)
def export(optimization_id: str):
    optimization = service.get_by_ref(optimization_id, current_user)
    return Response(
        service.export_zip(optimization),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="optimization-{optimization.id}.zip"'},
    )


@endpoint(
    bp,
    "/optimizations/<optimization_id>/trials",
    summary="Every task of an optimization, paged, sorted by any metric, filtered by parameter ranges",
    query=TrialsQuery,
    response=TrialList,
)
def list_trials(optimization_id: str, query: TrialsQuery):
    optimization = service.get_by_ref(optimization_id, current_user)
    page = analysis.trials(
        optimization,
        sort=query.sort,
        order=query.order,
        ranges=query.ranges,
        status=query.status,
        page=query.page,
        per_page=query.per_page,
    )
    return page_out(TrialList, page, lambda task: TrialOut(**analysis.trial_out(task)))


@endpoint(
    bp,
    "/optimizations/grid-size",
    "POST",
    summary="The grid size, skipped and to-run points a submit of this space would queue (nothing written)",
    body=GridSizeIn,
    response=GridSizeOut,
)
def grid_size(body: GridSizeIn):
    return GridSizeOut(**analysis.grid_size(body.strategy, body.model_dump()["paramSpace"]))


@endpoint(
    bp,
    "/optimizations/compare",
    summary="Two optimizations of one strategy on one dataset side by side: Top-N and best score by task",
    query=CompareQuery,
    response=CompareOut,
)
def compare(query: CompareQuery):
    first, second = (service.get(i, current_user) for i in (query.a, query.b))
    return CompareOut(**analysis.compare(first, second))


@endpoint(bp, "/optimizations/datasets", summary="OHLCV datasets", response=DatasetList)
def list_datasets():
    return DatasetList(datasets=service.list_datasets())


@endpoint(
    bp,
    "/optimizations/datasets",
    "POST",
    summary="Upload an OHLCV CSV (every bad row is reported)",
    roles=ENGINEER,
    body=DatasetIn,
    response=DatasetOut,
    status=201,
)
def create_dataset(body: DatasetIn):
    dataset = service.create_dataset(body.name, body.csv, current_user.username)
    db.session.commit()
    return DatasetOut.model_validate(dataset)


@endpoint(
    bp,
    "/optimizations/strategies",
    summary="Built-in strategies, their parameters and the metrics",
    response=StrategyList,
)
def list_strategies():
    return StrategyList(
        metrics=list(service.METRICS),
        strategies=[
            {
                "name": s.name,
                "title": s.title,
                "constraint": s.constraint_text,
                "params": [
                    {
                        "name": p.name,
                        "kind": p.kind.__name__,
                        "minimum": p.minimum,
                        "maximum": p.maximum,
                        "description": p.description,
                    }
                    for p in s.params
                ],
            }
            for s in STRATEGIES.values()
        ],
    )
