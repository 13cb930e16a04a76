"""Flows and live routine monitoring (capability 11): flows defined as YAML or
JSON documents, run on the `flows` RQ queue by app.engine's Runtime, watched
live through coalesced events and Redis snapshots."""
