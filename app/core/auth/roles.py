"""The roles, spelled once. An admin may do everything; the tuples are what views and
endpoints declare (`roles=ENGINEER`), the empty one meaning any signed-in user."""

from enum import StrEnum


class Role(StrEnum):
    viewer = "viewer"
    engineer = "engineer"
    operator = "operator"
    admin = "admin"


ROLES = tuple(Role)
SIGNED_IN: tuple[Role, ...] = ()
ENGINEER = (Role.engineer,)
OPERATOR = (Role.operator,)
ADMIN = (Role.admin,)
RECORDERS = (Role.engineer, Role.operator)  # who records what was made or consumed
# who may stand behind a write: a user's role, or "system" for work no user started (jobs, the CLI)
SYSTEM = "system"
ACTOR_ROLES = (*(role.value for role in Role), SYSTEM)
