"""Consumption metrics (docs/metrics.md); the inbox gauge is read at scrape time in inbox.py."""

from prometheus_client import Counter

CONSUMPTION_RECORDS = Counter("consumption_records", "Consumption actuals written, by source type", ["source_type"])
