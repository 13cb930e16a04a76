"""Consumption plans: planned quantities of an item per period (optionally versions of a
template), actuals recorded by hand, by CSV or by the MES through its inbox (drained by a job
on `default`), and the variance between them."""

from app.core.capability import PRODUCTION, Access, Capability, NavEntry

CAPABILITY = Capability(
    "consumption",
    nav=(NavEntry("Consumption", "consumption.dashboard", order=40, group=PRODUCTION),),
    # plans, actuals and their live topics (`consumption:all|item-<id>`) are for every signed-in user
    access=(Access("consumption"), Access("consumption_plan"), Access("consumption_inbox_batch")),
    queues=("default",),
    sweep="app.consumption.inbox.sweep",
)
