from flask import Blueprint, render_template, request, url_for
from redis import RedisError

from app.core.auth.roles import ADMIN, OPERATOR
from app.core.capability import queue_names
from app.core.errors import InvalidInput
from app.core.pages import form_action, page_roles
from app.queues import activity, browse, charts, service

bp = Blueprint("queues", __name__, url_prefix="/queues")


def _redis_state():
    """Counts and workers, or the error to show when Redis does not answer."""
    try:
        return service.queue_counts(), service.workers(), None
    except RedisError as exc:
        return [], [], f"Redis does not answer: {exc}"


@bp.get("/")
@page_roles(OPERATOR)
def index():
    return _overview("queues/index.html")


@bp.get("/panel")
@page_roles(OPERATOR)
def overview_partial():
    return _overview("queues/_overview.html")


def _overview(template: str):
    queues, workers, redis_error = _redis_state()
    kind = request.args.get("kind") or None
    return render_template(
        template,
        queues=queues,
        workers=workers,
        redis_error=redis_error,
        recent=activity.recent_groups(kind=kind, page=1, per_page=15),
        kind=kind or "",
        kinds=activity.all_kinds(),
        last_hour=activity.throughput("hour"),
        queue_names=queue_names(),
    )


def _queue_args() -> dict:
    return {
        "registry": request.args.get("registry", "queued"),
        "kind": request.args.get("kind") or None,
        "text": request.args.get("q") or None,
        "page": request.args.get("page", 1, type=int),
    }


def _queue_page(template: str, name: str):
    jobs = browse.jobs(name, per_page=25, **_queue_args())
    window = request.args.get("window", "hour")
    series = activity.throughput(window, name)[name]
    return render_template(
        template,
        jobs=jobs,
        window=window,
        chart=charts.chart(series, window),
        workers=[w for w in service.workers() if name in w["queues"]],
    )


@bp.get("/<name>")
@page_roles(OPERATOR)
def queue(name: str):
    return _queue_page("queues/queue.html", name)


@bp.get("/<name>/panel")
@page_roles(OPERATOR)
def queue_panel(name: str):
    return _queue_page("queues/_queue_panel.html", name)


@bp.post("/<name>/empty")
@page_roles(ADMIN)
def empty_queue(name: str):
    def act() -> str:
        deleted = browse.empty_queue(name)
        return f"{deleted} queued job(s) of '{name}' deleted."

    return form_action(act, url_for("queues.queue", name=name))


@bp.post("/jobs/<job_id>/delete")
@page_roles(ADMIN)
def delete_job(job_id: str):
    back = request.form.get("back") or url_for("queues.index")

    def act() -> str:
        what = browse.delete_job(job_id)
        return f"Job {job_id[:8]} ({what['status']}, {what['description']}) deleted from '{what['queue']}'."

    return form_action(act, back)


def _worker_page(template: str, name: str):
    found = service.worker(name)
    queues = [q for q in service.queue_counts() if q["name"] in found["queues"]]
    return render_template(
        template, worker=found, queues=queues, recent=browse.worker_jobs(name, [q["name"] for q in queues])
    )


@bp.get("/workers/<name>")
@page_roles(OPERATOR)
def worker(name: str):
    return _worker_page("queues/worker.html", name)


@bp.get("/workers/<name>/panel")
@page_roles(OPERATOR)
def worker_panel(name: str):
    return _worker_page("queues/_worker_panel.html", name)


@bp.get("/recent")
@page_roles(OPERATOR)
def recent():
    kind = request.args.get("kind") or None
    queue = request.args.get("queue") or None
    entity, entity_id = request.args.get("entity"), request.args.get("entity_id")
    page = request.args.get("page", 1, type=int)
    if kind and entity and entity_id:
        found, grouped = activity.group_jobs(kind, entity, entity_id, page), False
    else:
        found, grouped = activity.recent_groups(kind, queue, page, 25), True
    return render_template(
        "queues/recent.html",
        page=found,
        grouped=grouped,
        kind=kind or "",
        queue=queue or "",
        entity=entity or "",
        entity_id=entity_id or "",
        kinds=activity.all_kinds(),
        queue_names=queue_names(),
    )


@bp.get("/failed")
@page_roles(OPERATOR)
def failed():
    queue = request.args.get("queue") or None
    text = request.args.get("q") or None
    sort = request.args.get("sort", "newest")
    page = service.failed_jobs(queue, text, sort, request.args.get("page", 1, type=int), 25)
    return render_template(
        "queues/failed.html", page=page, queue=queue, q=text or "", sort=sort, queue_names=queue_names()
    )


@bp.get("/jobs/<job_id>")
@page_roles(OPERATOR)
def job(job_id: str):
    return render_template("queues/job.html", job=service.job_detail(job_id))


@bp.get("/jobs/<job_id>/panel")
@page_roles(OPERATOR)
def job_panel(job_id: str):
    return render_template("queues/_job_panel.html", job=service.job_detail(job_id))


@bp.post("/demo")
@page_roles(OPERATOR)
def enqueue_demo():
    seconds = request.form.get("seconds", 3, type=int)
    fail = request.form.get("fail") == "on"

    def act() -> str:
        if not 0 <= seconds <= 600:
            raise InvalidInput("Seconds must be between 0 and 600.")
        job_id = service.enqueue_demo(seconds, fail)
        return f"Demo job {job_id[:8]} enqueued on 'default'."

    return form_action(act, url_for("queues.index"))


@bp.post("/jobs/<job_id>/<any(requeue, cancel, stop):action>")
@page_roles(OPERATOR)
def job_action(job_id: str, action: str):
    def act() -> str:
        getattr(service, action)(job_id)
        return {"requeue": "Job requeued.", "cancel": "Job canceled.", "stop": "Stop sent to the worker."}[action]

    return form_action(act, request.form.get("back") or url_for("queues.job", job_id=job_id))


@bp.post("/<name>/requeue-failed")
@page_roles(OPERATOR)
def requeue_failed(name: str):
    def act() -> str:
        requeued, left = service.requeue_all(name)
        message = f"{requeued} failed job(s) of '{name}' requeued."
        return message + (f" {left} left: their records have ended (see each job)." if left else "")

    return form_action(act, url_for("queues.failed", queue=name))
