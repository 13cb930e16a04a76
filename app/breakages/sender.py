"""Worker-side: one POST of an incident to the helpdesk and how its answer is classed, and the
sweep that closes sends whose job ended without saying so. Only jobs.py and the sweeper run it."""

import json
import urllib.error
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.breakages import helpdesk
from app.breakages.models import HelpdeskEndpoint, HelpdeskStatus, Incident
from app.core import outbound
from app.core.jobs.models import JobRecord, JobState
from app.extensions import db

# permanent refusals: sending the same again changes nothing, so no retry
PERMANENT = {400: "bad_request", 401: "unauthorized", 403: "unauthorized", 404: "not_found", 422: "invalid"}


@dataclass
class SendFailed(Exception):
    message: str
    category: str
    transient: bool

    def __str__(self) -> str:
        return f"{self.category}: {self.message}"


def deliver(endpoint: HelpdeskEndpoint, incident: Incident) -> dict[str, Any]:
    """POST /tickets with the incident's Idempotency-Key; the ticket {"id", "url"} or SendFailed:
    transient for a timeout, a connection failure, 429 and 5xx; permanent for 400, 401/403, 404,
    422 (and any other 4xx, a redirect, or an address the outbound rules refuse)."""
    body = json.dumps(helpdesk.payload(incident)).encode()
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Idempotency-Key": incident.helpdesk_key,
    }
    try:
        with helpdesk.client(endpoint).open("POST", "/tickets", data=body, headers=headers) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 429 or exc.code >= 500:
            raise SendFailed(f"the helpdesk answered {exc.code}", f"http_{exc.code}", True) from None
        raise SendFailed(f"the helpdesk answered {exc.code}", PERMANENT.get(exc.code, "rejected"), False) from None
    except outbound.OutboundError as exc:
        raise SendFailed(str(exc), "refused", False) from None
    except TimeoutError as exc:
        raise SendFailed(str(exc) or "timed out", "timeout", True) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        category = "timeout" if isinstance(reason, TimeoutError) else "connection"
        raise SendFailed(str(reason), category, True) from None
    except ValueError:
        raise SendFailed("the helpdesk's answer is not JSON", "bad_answer", True) from None
    if not isinstance(answer, dict) or not answer.get("id"):
        raise SendFailed("the helpdesk's answer names no ticket id", "bad_answer", True)
    return answer


def sweep() -> int:
    """Sends still `queued` whose job ended as failed, stopped or lost (a killed worker, Redis
    lost the job) are `dead`, so the failures page offers their replay. The caller commits."""
    ended = (JobState.failed, JobState.stopped, JobState.lost)
    stuck = db.session.scalars(
        select(Incident)
        .join(JobRecord, JobRecord.id == Incident.helpdesk_job_id)
        .where(Incident.helpdesk_status == HelpdeskStatus.queued, JobRecord.status.in_(ended))
    ).all()
    for incident in stuck:
        helpdesk.record_outcome(
            incident, HelpdeskStatus.dead, error="its job ended without a result", category="job_ended"
        )
    return len(stuck)
