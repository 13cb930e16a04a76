from flask import Blueprint, render_template, request, url_for
from flask_login import current_user

from app.core import validation
from app.core.api import parse
from app.core.auth.roles import ENGINEER, SIGNED_IN
from app.core.errors import InvalidInput
from app.core.pages import form_action, form_page, page_roles
from app.core.records import id_from_text
from app.extensions import db
from app.optimization import analysis, charts, grid, service
from app.optimization.schemas import GridSizeIn, OptimizationIn
from app.optimization.strategies import STRATEGIES

bp = Blueprint("optimization", __name__, url_prefix="/optimizations")

HEATMAP_INLINE_TASKS = 5000  # more tasks than this and the detail page loads its heatmap after itself
DEFAULT_SPACES = {
    "sma_cross": {"n1": "5:50:5", "n2": "10:200:10"},
    "rsi_reversion": {"period": "5:30:5", "lower": "10:40:5", "upper": "60:90:5"},
}


def _space_field(name: str, text: str) -> list[float] | dict[str, float]:
    """ "start:stop:step" or "a, b, c" (what the form's parameter fields accept)."""
    text = text.strip()
    try:
        if ":" in text:
            start, stop, step = (float(part) for part in text.split(":"))
            return {"start": start, "stop": stop, "step": step}
        return [float(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise validation.invalid(
            f"paramSpace.{name}", f"{name} must be start:stop:step or a list like 5, 10, 20; {text!r} is neither."
        ) from None


# the form's number fields: (form field, where the schema has it, its type)
NUMBERS = {
    "dataset": (("dataset",), int),
    "target": (("earlyStopPolicy", "target"), float),
    "patience": (("earlyStopPolicy", "patience"), int),
    "max_tasks": (("earlyStopPolicy", "maxTasks"), int),
    "top_n": (("topN",), int),
    "cash": (("cash",), float),
    "commission": (("commission",), float),
}


def _optional(name: str, default: float | None = None):
    """The number typed in form field `name`; `default` when it is left empty."""
    value = request.form.get(name, "").strip()
    if not value:
        return default
    loc, kind = NUMBERS[name]
    try:
        return kind(value)
    except ValueError:
        words = "a whole number" if kind is int else "a number"
        label = validation.label(OptimizationIn, loc)
        raise validation.invalid(".".join(loc), f"{label} must be {words}; {value!r} is not.") from None


def _spec_from_form() -> dict:
    strategy = STRATEGIES.get(request.form.get("strategy", ""))
    if strategy is None:
        raise validation.invalid("strategy", "Choose a strategy.")
    space = {p.name: _space_field(p.name, request.form.get(f"param_{p.name}", "")) for p in strategy.params}
    body = {
        "strategy": strategy.name,
        "dataset": _optional("dataset"),
        "paramSpace": space,
        "earlyStopPolicy": {
            "mode": request.form.get("mode"),
            "metric": request.form.get("metric"),
            "target": _optional("target"),
            "patience": _optional("patience"),
            "maxTasks": _optional("max_tasks"),
        },
        "topN": _optional("top_n", 10),
        "cash": _optional("cash", 10_000),
        "commission": _optional("commission", 0.0),
    }
    return parse(OptimizationIn, body).model_dump()


@bp.get("/")
@page_roles(SIGNED_IN)
def index():
    page = service.history(current_user, request.args.get("page", 1, type=int))
    return render_template("optimization/index.html", page=page)


def _form_context(_error=None) -> dict:
    strategy = request.form.get("strategy") or request.args.get("strategy") or "sma_cross"
    return {
        "strategies": STRATEGIES,
        "datasets": service.list_datasets(),
        "metrics": service.METRIC_LABELS,
        "chosen": STRATEGIES.get(strategy, STRATEGIES["sma_cross"]),
        "defaults": DEFAULT_SPACES,
        "form": request.form,
    }


def _submit(spec: dict) -> tuple[str, str]:
    optimization = service.submit(current_user, spec)
    return (
        f"Optimization {optimization.id} submitted: {service.grid_text(optimization)}.",
        url_for("optimization.detail", optimization_id=optimization.id),
    )


def _new_page():
    """GET shows the form; POST submits it, or shows it again with what was typed and the error flashed."""
    return form_page("optimization/new.html", _submit, posted=_spec_from_form, context=_form_context, flash_error=True)


@bp.get("/new")
@page_roles(ENGINEER)
def new():
    return _new_page()


@bp.get("/new/panel/params")
@page_roles(SIGNED_IN)
def params_partial():
    strategy = STRATEGIES.get(request.args.get("strategy", ""), STRATEGIES["sma_cross"])
    return render_template("optimization/_params.html", chosen=strategy, defaults=DEFAULT_SPACES, form={})


@bp.get("/new/panel/grid-size")
@page_roles(SIGNED_IN)
def grid_size_partial():
    """The grid size, skipped and to-run points of the form's parameter space as typed, computed by the
    function the submit uses (htmx reloads it on every change of the form); a bad space says why."""
    strategy = STRATEGIES.get(request.args.get("strategy", ""), STRATEGIES["sma_cross"])
    try:
        space = {p.name: _space_field(p.name, request.args.get(f"param_{p.name}", "")) for p in strategy.params}
        space = parse(GridSizeIn, {"strategy": strategy.name, "paramSpace": space}).model_dump()["paramSpace"]
        size, problem = analysis.grid_size(strategy.name, space), None
    except InvalidInput as error:
        size, problem = None, error.message
    return render_template("optimization/_grid_size.html", size=size, problem=problem, chosen=strategy)


@bp.post("/")
@page_roles(ENGINEER)
def create():
    return _new_page()


@bp.post("/datasets")
@page_roles(ENGINEER)
def upload_dataset():
    upload = request.files.get("file")

    def act() -> str:
        if upload is None or not upload.filename:
            raise InvalidInput("Choose a CSV file to upload.")
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("The file is not UTF-8 text.") from None
        try:
            dataset = service.create_dataset(request.form.get("name") or upload.filename, text, current_user.username)
        except InvalidInput as exc:
            rows = exc.details.get("bad_rows", [])[:5]
            if rows:
                exc.message += " " + "; ".join(f"line {r['line']}: {r['message']}" for r in rows)
            raise
        return f"Dataset {dataset.name!r} uploaded: {dataset.rows} bars, {dataset.first_date} to {dataset.last_date}."

    return form_action(act, url_for("optimization.new"))


def _detail_context(optimization) -> dict:
    tasks = service.tasks_of(optimization, [t["taskId"] for t in optimization.top])
    return {
        "job": optimization,
        "space": grid.describe(STRATEGIES[optimization.strategy], optimization.param_space),
        "summary": service.summary(optimization),
        "tasks": tasks,
        "metric_label": service.METRIC_LABELS[optimization.metric],
        "metrics": service.METRIC_LABELS,
        "plot": charts.best_by_task(optimization.best_history, optimization.done),
        "source": optimization.source_id and db.session.get(type(optimization), optimization.source_id),
    }


def _axes(optimization) -> tuple[list[str], str, str]:
    names = [p.name for p in STRATEGIES[optimization.strategy].params]
    x = request.args.get("x") if request.args.get("x") in names else names[0]
    y = request.args.get("y") if request.args.get("y") in names else next(n for n in names if n != x)
    return names, x, y


def _heatmap_context(optimization, pending: bool = False) -> dict:
    """`pending`: the page leaves the heatmap to its own request (it scans every task), so a
    large optimization's page opens at once and the card fills in as soon as it is read."""
    names, x, y = _axes(optimization)
    drawn = not pending and x != y
    return {
        "job": optimization,
        "names": names,
        "x": x,
        "y": y,
        "pending": pending,
        "heatmap": charts.heatmap(service.heatmap(optimization, x, y), optimization.mode) if drawn else None,
    }


@bp.get("/<int:optimization_id>")
@page_roles(SIGNED_IN)
def detail(optimization_id: int):
    optimization = service.get(optimization_id, current_user)
    return render_template(
        "optimization/detail.html",
        **{
            **_detail_context(optimization),
            **_heatmap_context(optimization, pending=optimization.done > HEATMAP_INLINE_TASKS),
        },
    )


@bp.get("/compare")
@page_roles(SIGNED_IN)
def compare():
    """Two optimizations side by side (`?a=&b=`): their Top-N tables and best-by-task curves on one chart."""
    a, b = request.args.get("a", type=int), request.args.get("b", type=int)
    if not a or not b:
        return render_template("optimization/compare.html", data=None, plot=None, problem=None, a=a, b=b)
    first, second = service.get(a, current_user), service.get(b, current_user)
    try:
        data, problem = analysis.compare(first, second), None
    except InvalidInput as error:
        data, problem = None, error.message
    plot = data and charts.compare_by_task([(o["id"], o["bestByTask"], o["done"]) for o in data["optimizations"]])
    return render_template("optimization/compare.html", data=data, plot=plot, problem=problem, a=a, b=b), (
        422 if problem else 200
    )


@bp.get("/<int:optimization_id>/trials")
@page_roles(SIGNED_IN)
def trials(optimization_id: int):
    """Every task: sorted by any column, filtered by parameter ranges, paged in SQL."""
    optimization = service.get(optimization_id, current_user)
    names = [p.name for p in STRATEGIES[optimization.strategy].params]
    ranges = ",".join(
        f"{n}:{request.args.get(f'{n}_min', '').strip()}:{request.args.get(f'{n}_max', '').strip()}"
        for n in names
        if request.args.get(f"{n}_min", "").strip() or request.args.get(f"{n}_max", "").strip()
    )
    args = {
        "sort": request.args.get("sort", "seq"),
        "order": request.args.get("order", "asc"),
        "status": request.args.get("status") or None,
    }
    try:
        page, problem = (
            analysis.trials(optimization, **args, ranges=ranges, page=request.args.get("page", 1, type=int)),
            None,
        )
    except InvalidInput as error:
        page, problem = None, error.message
    return render_template(
        "optimization/trials.html",
        job=optimization,
        names=names,
        page=page,
        problem=problem,
        args=args,
        sort_keys=analysis.sort_keys(optimization),
        slices=charts.slice_plots(analysis.slices(optimization)),
        parallel=charts.parallel_coordinates(analysis.parallel(optimization)),
        metrics=service.METRIC_LABELS,
        query={k: v for k, v in request.args.items() if k != "page"},
    ), (422 if problem else 200)


@bp.get("/<int:optimization_id>/panel")
@page_roles(SIGNED_IN)
def panel(optimization_id: int):
    return render_template("optimization/_panel.html", **_detail_context(service.get(optimization_id, current_user)))


@bp.get("/<int:optimization_id>/panel/heatmap")
@page_roles(SIGNED_IN)
def heatmap(optimization_id: int):
    return render_template("optimization/_heatmap.html", **_heatmap_context(service.get(optimization_id, current_user)))


@bp.post("/<int:optimization_id>/cancel")
@page_roles(ENGINEER)
def cancel(optimization_id: int):
    def act() -> str:
        optimization = service.cancel(service.get(optimization_id, current_user), current_user)
        db.session.commit()
        service.announce(optimization, finalized=True)
        return f"Optimization {optimization_id} canceled: no new task starts."

    return form_action(act, url_for("optimization.detail", optimization_id=optimization_id))


@bp.post("/<int:optimization_id>/rerun")
@page_roles(ENGINEER)
def rerun(optimization_id: int):
    source = service.get(optimization_id, current_user)
    task_id = request.form.get("task_id", type=id_from_text)

    def act() -> tuple[str, str]:
        optimization = service.rerun(source, current_user, task_id)
        db.session.commit()
        what = f"task {task_id}'s combination" if task_id else "the whole grid"
        return (
            f"Re-running {what} of optimization {optimization_id} as optimization {optimization.id}.",
            url_for("optimization.detail", optimization_id=optimization.id),
        )

    return form_action(act, url_for("optimization.detail", optimization_id=optimization_id))
