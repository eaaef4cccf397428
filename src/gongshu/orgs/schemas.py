"""Request and response bodies for orgs, regions and systems."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gongshu.orgs.models import OrgLevel, SystemStatus

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]
OrgCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_upper=True,
        min_length=2,
        max_length=32,
        pattern=r"^[A-Za-z0-9_\-]+$",
    ),
]
RegionCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=6)]
LongText = Annotated[str, StringConstraints(max_length=2000)]


class OrgCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: OrgCode
    name: Name
    short_name: ShortText | None = None
    level: OrgLevel
    region_code: RegionCode
    parent_id: int | None = None
    contact_name: ShortText | None = None
    contact_phone: ShortText | None = None
    description: LongText | None = None


class OrgUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    short_name: ShortText | None = None
    level: OrgLevel | None = None
    region_code: RegionCode | None = None
    parent_id: int | None = None
    contact_name: ShortText | None = None
    contact_phone: ShortText | None = None
    description: LongText | None = None


class OrgOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    short_name: str | None
    level: str
    region_code: str
    parent_id: int | None
    contact_name: str | None
    contact_phone: str | None
    description: str | None
    created_at: datetime
    updated_at: datetime


class SystemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_id: int | None = Field(None, description="默认为当前用户所在部门")
    name: Name
    builder: Name | None = None
    status: SystemStatus = SystemStatus.running
    on_gov_cloud: bool = False
    description: LongText | None = None


class SystemUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    builder: Name | None = None
    status: SystemStatus | None = None
    on_gov_cloud: bool | None = None
    description: LongText | None = None


class SystemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    name: str
    builder: str | None
    status: str
    on_gov_cloud: bool
    description: str | None
    created_at: datetime
    updated_at: datetime


class RegionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{6}$")]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class RegionOut(BaseModel):
    code: str
    name: str
