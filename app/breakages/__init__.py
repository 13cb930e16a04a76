"""Breakage incidents: the field and line failures quality engineers record, their enforced
status flow (8D fields), where failures repeat (figures.py: one definition of each metric),
the helpdesk hand-over on the `sync` queue (helpdesk.py, sender.py, jobs.py) and the loopback
into design through an ECO (loopback.py)."""

from app.core.auth.roles import OPERATOR
from app.core.capability import PRODUCTION, Access, Capability, NavEntry

CAPABILITY = Capability(
    "breakages",
    nav=(NavEntry("Breakages", "breakages.index", order=30, group=PRODUCTION),),
    # every signed-in user reads incidents (topic breakage:<id>, breakage:list) and their audit rows;
    # the helpdesk endpoint is an operator's page, as remote sites are
    access=(Access("breakage"), Access("breakage_incident"), Access("helpdesk_endpoint", OPERATOR)),
    queues=("sync",),
    queue_priority=10,
    sweep="app.breakages.sender.sweep",
)
