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


def configured() -> dict[str, float]:
    """The defaults with `OPS_THRESHOLDS` (a JSON object, or a dict given to create_app) over
    them. A wrong name or value there is a configuration error, said with the setting's name."""
    raw = current_app.config.get("OPS_THRESHOLDS") or {}
    try:
        given = Overrides.model_validate_json(raw) if isinstance(raw, str) else Overrides.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"OPS_THRESHOLDS: {exc}") from None
    return effective(given, {name: t.default for name, t in THRESHOLDS.items()})


def effective(overrides: BaseModel, base: dict[str, float] | None = None) -> dict[str, float]:
    """`base` (the configured values) with the thresholds `overrides` sets over them."""
    values = dict(base if base is not None else configured())
    values.update({name: getattr(overrides, name) for name in THRESHOLDS if getattr(overrides, name) is not None})
    return values
