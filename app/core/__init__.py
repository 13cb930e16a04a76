"""Shared machinery every capability uses: auth, audit, errors, jobs, live, metrics, paging."""
