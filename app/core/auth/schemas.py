from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from app.core.api import Out, PageMeta, Text, paging_query
from app.core.auth.roles import Role

Password = Annotated[str, Field(max_length=1024, pattern=r"^[^\x00]*$")]  # the rules are the service's


class UserOut(Out):
    id: int
    username: str
    role: Role
    active: bool
    created_at: datetime
    last_login_at: datetime | None


class UserList(BaseModel):
    users: list[UserOut]
    paging: PageMeta


class UserQuery(paging_query(50)):
    pass


class UserIn(BaseModel):
    username: Annotated[Text, Field(max_length=200)]
    password: Password
    role: Role = Role.viewer


class UserPatch(BaseModel):
    role: Role | None = None
    active: bool | None = Field(None, description="false: the user can no longer sign in or use API tokens")


class PasswordIn(BaseModel):
    current_password: Password
    new_password: Password
    confirm_password: Password | None = Field(None, description="defaults to new_password")


class PasswordOut(BaseModel):
    changed: bool
    other_sessions: str = Field(description="what became of the account's browser sessions")
