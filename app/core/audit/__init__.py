"""Audit log: who changed what, when, before and after."""

from app.core.audit.service import current_actor, record, record_many

__all__ = ["current_actor", "record", "record_many"]
