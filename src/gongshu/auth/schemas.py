"""Request and response bodies for users and keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gongshu.auth.principal import Role


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    display_name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=128)
    role: Role
    org_id: int | None = None
    phone: str | None = Field(None, max_length=32)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(None, min_length=1, max_length=64)
    role: Role | None = None
    org_id: int | None = None
    phone: str | None = Field(None, max_length=32)
    is_active: bool | None = None
    password: str | None = Field(None, min_length=8, max_length=128)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: str
    org_id: int | None
    phone: str | None
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    org_id: int | None = None
    system_id: int | None = None
    role: Role = Role.consumer
    expires_at: datetime | None = None


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    prefix: str
    name: str
    role: str
    org_id: int
    system_id: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    status: str


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="完整密钥，仅此一次显示，请妥善保存")
