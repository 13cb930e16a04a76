"""Audit log: who changed what, when, before and after."""

from app.core.audit.service import record

__all__ = ["record"]
