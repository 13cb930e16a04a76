from flask import Blueprint, render_template, request, url_for
from redis import RedisError

from app.core.auth.roles import OPERATOR
from app.core.capability import queue_names
from app.core.errors import InvalidInput
from app.core.jobs import history
from app.core.pages import form_action, page_roles
from app.queues import service

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
    return render_template(
        template,
        queues=queues,
        workers=workers,
        redis_error=redis_error,
        recent=history.recent(15),
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
