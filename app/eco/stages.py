"""Stage chains per ECO type.

The default chain is draft → review → approved → implementation → done; every
type may also be canceled. Other types are configured with ECO_TYPES (JSON,
type → list of stages) in the environment; see docs/eco.md.
"""

import json

from flask import current_app

from app.core.validation import not_one_of

DEFAULT_TYPE = "standard"
DEFAULT_CHAIN = ("draft", "review", "approved", "implementation", "done")
CANCELED = "canceled"
BUILTIN_TYPES = {DEFAULT_TYPE: DEFAULT_CHAIN, "fast_track": ("draft", "approved", "done")}


def load_types(raw: str | None) -> dict[str, tuple[str, ...]]:
    """ECO_TYPES from the environment, checked once at start-up."""
    if not raw:
        return dict(BUILTIN_TYPES)
    types = json.loads(raw)
    if not isinstance(types, dict) or not types:
        raise ValueError("ECO_TYPES must be a JSON object: type -> list of stages")
    chains = {}
    for name, chain in types.items():
        if not isinstance(chain, list) or len(chain) < 2 or len(set(chain)) != len(chain) or CANCELED in chain:
            raise ValueError(f"ECO_TYPES[{name!r}] must list 2 or more distinct stages (without {CANCELED!r})")
        chains[str(name)] = tuple(str(stage) for stage in chain)
    return chains


def types() -> dict[str, tuple[str, ...]]:
    app = current_app
    if "eco_types" not in app.extensions:
        app.extensions["eco_types"] = load_types(app.config.get("ECO_TYPES"))
    return app.extensions["eco_types"]


def chain(eco_type: str) -> tuple[str, ...]:
    try:
        return types()[eco_type]
    except KeyError:
        raise not_one_of("eco_type", "ECO type", eco_type, types()) from None


def all_stages() -> list[str]:
    """Every stage of every type, in chain order, canceled last (for filters and rule forms)."""
    seen: list[str] = []
    for stages in types().values():
        seen += [s for s in stages if s not in seen]
    return seen + [CANCELED]


def final_stage(eco_type: str) -> str:
    return chain(eco_type)[-1]
