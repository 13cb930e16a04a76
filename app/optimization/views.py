from flask import Blueprint, render_template, request, url_for
from flask_login import current_user

from app.core.api import parse
from app.core.auth.roles import ENGINEER, SIGNED_IN
from app.core.errors import InvalidInput
from app.core.pages import form_action, form_page, page_roles
from app.core.records import id_from_text
from app.core.timeutil import utcnow
from app.extensions import db
from app.optimization import charts, service
from app.optimization.schemas import OptimizationIn
from app.optimization.strategies import STRATEGIES

bp = Blueprint("optimization", __name__, url_prefix="/optimizations")

DEFAULT_SPACES = {
    "sma_cross": {"n1": "5:50:5", "n2": "10:200:10"},
    "rsi_reversion": {"period": "5:30:5", "lower": "10:40:5", "upper": "60:90:5"},
}


def _space_field(text: str) -> list[float] | dict[str, float]:
    """ "start:stop:step" or "a, b, c" (what the form's parameter fields accept)."""
    text = text.strip()
    try:
        if ":" in text:
            start, stop, step = (float(part) for part in text.split(":"))
            return {"start": start, "stop": stop, "step": step}
        return [float(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise InvalidInput(f"{text!r} is neither start:stop:step nor a list like 5, 10, 20.") from None


def _optional(name: str, kind: type):
    value = request.form.get(name, "").strip()
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise InvalidInput(f"{name}: {value!r} is not a number.", {"field": name}) from None


def _spec_from_form() -> dict:
    strategy = STRATEGIES.get(request.form.get("strategy", ""))
    if strategy is None:
        raise InvalidInput("Choose a strategy.", {"field": "strategy"})
    space = {p.name: _space_field(request.form.get(f"param_{p.name}", "")) for p in strategy.params}
    body = {
        "strategy": strategy.name,
        "dataset": _optional("dataset", int),
        "paramSpace": space,
        "earlyStopPolicy": {
            "mode": request.form.get("mode"),
            "metric": request.form.get("metric"),
            "target": _optional("target", float),
            "patience": _optional("patience", int),
            "maxTasks": _optional("max_tasks", int),
        },
        "topN": _optional("top_n", int) or 10,
        "cash": _optional("cash", float) or 10_000,
        "commission": _optional("commission", float) or 0.0,
    }
    return parse(OptimizationIn, body, "form").model_dump()


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
    elapsed = None
    if optimization.started_at:
        elapsed = ((optimization.ended_at or utcnow()) - optimization.started_at).total_seconds()
    tasks = service.tasks_of(optimization, [t["taskId"] for t in optimization.top])
    return {
        "job": optimization,
        "summary": service.summary(optimization),
        "tasks": tasks,
        "metric_label": service.METRIC_LABELS[optimization.metric],
        "metrics": service.METRIC_LABELS,
        "plot": charts.best_over_time(optimization.best_history, optimization.done, elapsed),
        "source": optimization.source_id and db.session.get(type(optimization), optimization.source_id),
    }


def _axes(optimization) -> tuple[list[str], str, str]:
    names = [p.name for p in STRATEGIES[optimization.strategy].params]
    x = request.args.get("x") if request.args.get("x") in names else names[0]
    y = request.args.get("y") if request.args.get("y") in names else next(n for n in names if n != x)
    return names, x, y


def _heatmap_context(optimization) -> dict:
    names, x, y = _axes(optimization)
    return {
        "job": optimization,
        "names": names,
        "x": x,
        "y": y,
        "heatmap": charts.heatmap(service.heatmap(optimization, x, y), optimization.mode) if x != y else None,
    }


@bp.get("/<int:optimization_id>")
@page_roles(SIGNED_IN)
def detail(optimization_id: int):
    optimization = service.get(optimization_id, current_user)
    return render_template(
        "optimization/detail.html", **{**_detail_context(optimization), **_heatmap_context(optimization)}
    )


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
