"""Document sync metrics (docs/metrics.md)."""

from prometheus_client import Counter

DOC_SYNC_JOBS = Counter(
    "doc_sync_jobs", "Document sync jobs ended, by direction and final status", ["direction", "status"]
)
DOC_SYNC_BYTES = Counter("doc_sync_bytes", "Document bytes moved between sites, by direction", ["direction"])
