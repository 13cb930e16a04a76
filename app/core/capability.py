"""How a capability plugs itself in: each package's `__init__.py` defines `CAPABILITY`, and
create_app() hands the list of packages to `init_app()`. Core reads what they declared from
the app (blueprints, navigation, queues, who may see what) and imports no capability itself."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from importlib import import_module
from importlib.util import find_spec
from typing import Any

from flask import Flask, current_app, url_for
from werkzeug.routing import BuildError
from werkzeug.utils import import_string

DEFAULT_QUEUE = "default"  # core's own queue, always there, last in priority

# the top bar's menus: every entry names one (or none, a link of its own), so the bar stays one
# line at 1,366 px however many capabilities there are
ENGINEERING, PRODUCTION, AUTOMATION, OPERATIONS = "Engineering", "Production", "Automation", "Operations"


@dataclass(frozen=True)
class NavEntry:
    label: str
    endpoint: str
    roles: tuple[str, ...] = ()  # roles that see it; empty = everyone signed in
    order: int = 50  # position in the top bar (lower first); equal ones keep registration order
    group: str = ""  # the menu it sits in (ENGINEERING, ...); a menu stands where its first entry would

    @property
    def blueprint(self) -> str:
        return self.endpoint.partition(".")[0]


def menus(entries: list[NavEntry]) -> list[tuple[str, list[NavEntry]]]:
    """Entries (in order) as the top bar shows them: (menu label, its entries), or ("", [entry])
    for an entry of its own."""
    out: list[tuple[str, list[NavEntry]]] = []
    where: dict[str, list[NavEntry]] = {}
    for entry in entries:
        if not entry.group:
            out.append(("", [entry]))
        elif entry.group in where:
            where[entry.group].append(entry)
        else:
            where[entry.group] = [entry]
            out.append((entry.group, where[entry.group]))
    return out


@dataclass(frozen=True)
class Access:
    """Who may see the records of one kind: the live topics `<kind>:<id>` and the audit rows
    (and linked jobs) of entity `<kind>`.

    A user of one of `roles` sees every one of them; for the others `may_see`, the dotted path
    of a function `(user, id: str) -> bool` (resolved on first use, so `__init__.py` imports no
    service), decides, and it must be the rule the capability's own pages and API apply. With
    neither, every signed-in user sees them; with only `roles`, nobody else does.

    `page` is the endpoint of one record's page and `page_arg` the name its id goes in, so the
    audit log links each row to what it changed without core knowing any capability's URLs."""

    kind: str
    roles: tuple[str, ...] = ()
    may_see: str | None = None
    page: str | None = None
    page_arg: str = "id"

    def allows(self, user: Any, ident: str) -> bool:
        if self.roles and user.has_role(*self.roles):
            return True
        if self.may_see:
            return bool(_rule(self.may_see)(user, ident))
        return not self.roles


_rules: dict[str, Callable[..., Any]] = {}


def _rule(path: str) -> Callable[..., Any]:
    if path not in _rules:
        _rules[path] = import_string(path)
    return _rules[path]


@dataclass(frozen=True)
class Capability:
    """What a capability package registers. Its blueprints are `bp` in its views.py and api.py."""

    name: str  # the package under app/
    nav: tuple[NavEntry, ...] = ()
    access: tuple[Access, ...] = ()  # who may subscribe to its topics and read its audit rows
    queues: tuple[str, ...] = ()  # RQ queues its jobs go to
    queue_priority: int = 50  # workers take queues of lower numbers first; "default" always last
    # of its queues, those whose jobs are short CPU work that gains from a warm process (caches, no
    # fork per job): a worker listening to these alone runs its jobs in-process (app/core/jobs/worker.py)
    inprocess_queues: tuple[str, ...] = ()
    # dotted path of a function (no arguments, app context) a worker on any of its queues calls once
    # when it starts, before its first job: e.g. compiled code its jobs share, which then costs the
    # first job nothing and which every work horse the worker forks inherits
    warm: str | None = None
    home: str | None = None  # endpoint of the home page, if this capability provides it
    # dotted path of a function the sweeper calls (no arguments, app context, it commits after):
    # close or resume this capability's rows whose job has ended without saying so
    sweep: str | None = None
    # (entity, dotted path of `(entity_id: str) -> str | None`): before a failed job linked to a record
    # of that entity is requeued, why it must not run again (e.g. the record has ended), or None
    requeue_check: tuple[tuple[str, str], ...] = ()
    # (event, dotted path of a function): called by `notify(event, ...)` inside the transaction of
    # the capability that announces the event (e.g. "eco_applied" with the ECO), so another
    # capability reacts to it without the announcer knowing who listens
    hooks: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Registry:
    capabilities: tuple[Capability, ...]

    # derived once: every enqueue and every page's navigation reads them
    @cached_property
    def queues(self) -> tuple[str, ...]:
        ranked = sorted(self.capabilities, key=lambda c: c.queue_priority)
        declared = (q for c in ranked for q in c.queues if q != DEFAULT_QUEUE)
        return (*dict.fromkeys(declared), DEFAULT_QUEUE)

    @cached_property
    def inprocess_queues(self) -> frozenset[str]:
        return frozenset(q for c in self.capabilities for q in c.inprocess_queues)

    def warmers(self, queues: list[str]) -> tuple[str, ...]:
        """The `warm` hooks of the capabilities with a queue among these."""
        return tuple(c.warm for c in self.capabilities if c.warm and set(c.queues) & set(queues))

    @cached_property
    def nav(self) -> tuple[NavEntry, ...]:
        return tuple(sorted((entry for c in self.capabilities for entry in c.nav), key=lambda entry: entry.order))

    @cached_property
    def sweeps(self) -> tuple[str, ...]:
        return tuple(c.sweep for c in self.capabilities if c.sweep)

    @cached_property
    def home(self) -> str:
        return next(c.home for c in self.capabilities if c.home)

    @cached_property
    def access(self) -> dict[str, Access]:
        return {a.kind: a for c in self.capabilities for a in c.access}

    @cached_property
    def hooks(self) -> dict[str, tuple[str, ...]]:
        found: dict[str, list[str]] = {}
        for c in self.capabilities:
            for event, path in c.hooks:
                found.setdefault(event, []).append(path)
        return {event: tuple(paths) for event, paths in found.items()}

    @cached_property
    def requeue_checks(self) -> dict[str, str]:
        return {entity: path for c in self.capabilities for entity, path in c.requeue_check}


def load(packages: tuple[str, ...], core: Capability) -> Registry:
    """The registry of core's own entries and the named packages, in that order."""
    return Registry((core, *(import_module(f"app.{name}").CAPABILITY for name in packages)))


def init_app(app: Flask, registry: Registry) -> None:
    app.extensions["capabilities"] = registry
    for capability in registry.capabilities[1:]:  # core registers its own blueprints
        for module in ("views", "api"):
            if find_spec(f"app.{capability.name}.{module}"):
                app.register_blueprint(import_module(f"app.{capability.name}.{module}").bp)


def registry() -> Registry:
    return current_app.extensions["capabilities"]


def why_not_requeued(entity: str | None, entity_id: str | None) -> str | None:
    """The reason the capability owning `entity` gives for not running its job again, or None."""
    path = registry().requeue_checks.get(entity or "")
    return _rule(path)(entity_id or "") if path else None


def notify(event: str, *args: Any) -> None:
    """Call every hook a capability declared for `event`, in registration order; a hook that
    raises aborts the announcer's transaction, as its own code would."""
    for path in registry().hooks.get(event, ()):
        _rule(path)(*args)


def queue_names() -> tuple[str, ...]:
    """Every queue of the app, in the priority order workers listen to them."""
    return registry().queues


def may_see(user: Any, kind: str, ident: str) -> bool | None:
    """Whether `user` may see record `ident` of `kind` (a live topic's prefix, an audit row's
    entity); None when no capability declares the kind. An inactive user sees nothing."""
    access = registry().access.get(kind)
    if access is None:
        return None
    return bool(user is not None and user.is_active) and access.allows(user, ident)


def page_url(kind: str, ident: str) -> str | None:
    """The URL of record `ident` of `kind`, or None when its capability declares no page for it
    (or the id cannot be one of that page, e.g. text where the route wants a number)."""
    access = registry().access.get(kind)
    if access is None or access.page is None:
        return None
    try:
        return url_for(access.page, **{access.page_arg: ident})
    except (BuildError, ValueError):
        return None


def may_subscribe(user: Any, topic: str) -> bool:
    """The rule of the live channel: `<kind>:<id>` with a declared kind, which the user may see.
    Anything else (no id, a kind nobody declared) is refused."""
    kind, _, ident = topic.partition(":")
    return bool(ident) and bool(may_see(user, kind, ident))
