"""Queues and workers (capability 12): RQ queues, registries, workers and jobs, for operators."""
