"""The alert thresholds of the overview, with their documented defaults (docs/ops.md). Alerts
(alerts.py) and the Prometheus rules (docs/prometheus/alerts.yml, checked against these in the
tests) read the same table. Each can be overridden by configuration (`OPS_THRESHOLDS`, a JSON
object in the environment) and per request (`?<name>=`)."""

from dataclasses import dataclass
from typing import Any, Literal

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model


@dataclass(frozen=True)
class Threshold:
    name: str
    default: float
    minimum: float
    maximum: float | None  # None: no upper bound
    fires: Literal["above", "below"]  # strictly above (rates of failure) or strictly below (hit rates)
    description: str


THRESHOLDS = {
    t.name: t
    for t in (
        Threshold("dead_letter_rate", 0.05, 0, 1, "above", "doc-sync dead letters / sync jobs"),
        Threshold("workflow_failed_rate", 0.02, 0, 1, "above", "failed workflow action runs / runs"),
        Threshold("breakage_open_rate", 0.5, 0, 1, "above", "unresolved incidents / incidents"),
        Threshold("helpdesk_failed_rate", 0.5, 0, 1, "above", "failed helpdesk sends / ended sends"),
        Threshold("overlay_cache_hit_rate", 0.8, 0, 1, "below", "overlay cache hits / lookups"),
        Threshold("overlay_cache_min_requests", 10, 0, None, "above", "lookups before the hit rate counts"),
        Threshold("queue_backlog_minutes", 15, 0, None, "above", "age of the oldest queued job"),
        Threshold("worker_heartbeat_seconds", 120, 1, None, "above", "silence after which a worker is missing"),
    )
}


def _field(t: Threshold) -> Any:
    bounds = {"ge": t.minimum} | ({"le": t.maximum} if t.maximum is not None else {})
    fires = "strictly above" if t.fires == "above" else "strictly below"
    return (
        float | None,
        Field(
            None, allow_inf_nan=False, description=f"{t.description}; fires {fires}; default {t.default:g}", **bounds
        ),
    )


# every threshold as an optional number within its range: the per-request overrides
# (schemas.AlertsQuery) and OPS_THRESHOLDS
Overrides = create_model(
    "ThresholdOverrides", __config__=ConfigDict(extra="forbid"), **{name: _field(t) for name, t in THRESHOLDS.items()}
)


def parse_config(raw: str | dict | None) -> BaseModel:
    """`OPS_THRESHOLDS` (a JSON object, or a dict given to create_app) as overrides; a wrong name
    or value is a configuration error naming the setting (checked when the app starts, api.py)."""
    try:
        if isinstance(raw, str):
            return Overrides.model_validate_json(raw or "{}")
        return Overrides.model_validate(raw or {})
    except ValidationError as exc:
        raise ValueError(f"OPS_THRESHOLDS: {exc}") from None


def configured() -> dict[str, float]:
    """The defaults with `OPS_THRESHOLDS` over them."""
    defaults = {name: t.default for name, t in THRESHOLDS.items()}
    return effective(parse_config(current_app.config.get("OPS_THRESHOLDS")), defaults)


def effective(overrides: BaseModel, base: dict[str, float] | None = None) -> dict[str, float]:
    """`base` (default: the configured values) with the thresholds `overrides` sets over them."""
    values = dict(base if base is not None else configured())
    values.update({name: getattr(overrides, name) for name in THRESHOLDS if getattr(overrides, name) is not None})
    return values
