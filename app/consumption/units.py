"""Units of measure: a table of factors to one base unit per dimension. A quantity converts
within its dimension only; across dimensions is an error naming both units."""

from decimal import Decimal
from functools import lru_cache

from app.core.errors import InvalidInput

# unit -> (dimension, factor to the dimension's base unit); exact where the definition is exact
UNITS: dict[str, tuple[str, Decimal]] = {
    # mass, base kg
    "mg": ("mass", Decimal("0.000001")),
    "g": ("mass", Decimal("0.001")),
    "kg": ("mass", Decimal(1)),
    "t": ("mass", Decimal(1000)),
    "lb": ("mass", Decimal("0.45359237")),
    "oz": ("mass", Decimal("0.028349523125")),
    # length, base m
    "mm": ("length", Decimal("0.001")),
    "cm": ("length", Decimal("0.01")),
    "m": ("length", Decimal(1)),
    "km": ("length", Decimal(1000)),
    "in": ("length", Decimal("0.0254")),
    "ft": ("length", Decimal("0.3048")),
    # volume, base l
    "ml": ("volume", Decimal("0.001")),
    "l": ("volume", Decimal(1)),
    "m3": ("volume", Decimal(1000)),
    # count, base ea
    "ea": ("count", Decimal(1)),
    "pcs": ("count", Decimal(1)),
    "dozen": ("count", Decimal(12)),
}
UNIT_NAMES = tuple(UNITS)


def normalize(unit: str, field: str = "unit") -> str:
    """The unit as the table spells it (case and spaces ignored), or InvalidInput naming `field`."""
    name = (unit or "").strip().lower()
    if name not in UNITS:
        raise InvalidInput(f"Unknown unit {unit!r}.", {"field": field, "allowed": list(UNIT_NAMES)})
    return name


def dimension(unit: str) -> str:
    return UNITS[normalize(unit)][0]


@lru_cache(maxsize=1024)  # the inbox asks per event; a refusal is not cached: it raises each time
def factor(from_unit: str, to_unit: str, field: str = "unit") -> Decimal:
    """What one `from_unit` is in `to_unit`; InvalidInput when they measure different things."""
    source, target = normalize(from_unit, field), normalize(to_unit, field)
    (source_dim, source_factor), (target_dim, target_factor) = UNITS[source], UNITS[target]
    if source_dim != target_dim:
        raise InvalidInput(
            f"Cannot convert {source} ({source_dim}) to {target} ({target_dim}).",
            {"field": field, "unit": source, "plan_unit": target},
            code="unit_mismatch",
        )
    return source_factor / target_factor
