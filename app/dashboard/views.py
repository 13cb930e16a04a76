from flask import Blueprint, render_template
from redis import RedisError

from app.core.auth.roles import SIGNED_IN
from app.core.jobs import history
from app.core.pages import page_roles
from app.queues import service as queues

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@page_roles(SIGNED_IN)
def index():
    try:
        queue_summary, redis_error = queues.queue_counts(), None
    except RedisError as exc:  # the dashboard still opens when Redis is down
        queue_summary, redis_error = [], str(exc)
    return render_template(
        "dashboard/index.html", queues=queue_summary, redis_error=redis_error, recent=history.recent(10)
    )
