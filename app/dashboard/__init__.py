"""The home page: queue counts and the latest jobs, for everyone signed in."""

from app.core.capability import Capability, NavEntry

CAPABILITY = Capability("dashboard", nav=(NavEntry("Dashboard", "dashboard.index", order=0),), home="dashboard.index")
