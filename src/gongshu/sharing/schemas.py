"""Request and response bodies of the sharing API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
OptText = Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=2000)]
Column = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


class RowFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: Column
    values: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        min_length=1, max_length=100
    )


class Terms(BaseModel):
    """What an approval grants (never more than asked; see service.check_terms)."""

    model_config = ConfigDict(extra="forbid")

    items: list[Column] | None = Field(None, description="授权数据项；默认为申请的全部数据项")
    masking: dict[Column, str] = Field(default_factory=dict, description="数据项 → 脱敏规则")
    row_filter: RowFilter | None = Field(None, description="行级过滤，如仅本区县数据")
    valid_until: date | None = Field(None, description="有效期至；默认申请期限结束日")
    daily_quota: Annotated[int, Field(ge=1, le=100_000_000)] = 10_000
    rate_limit: Annotated[float, Field(gt=0, le=100_000)] = 50.0


class DemandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_id: int | None = Field(None, description="申请的数据资源；资源尚不存在时留空")
    wanted: OptText = Field(None, description="资源尚不存在时：所需数据的描述（进入需求清单）")
    system_id: int | None = Field(None, description="使用数据的信息系统")
    items: list[Column] = Field(default_factory=list, max_length=500)
    purpose: Text = Field(description="用途")
    basis: Text = Field(description="履职依据 / 法律法规依据")
    scenario: Text = Field(description="应用场景")
    expected_daily_calls: Annotated[int, Field(ge=1, le=100_000_000)] = 1000
    period_start: date | None = None
    period_end: date | None = None


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    reason: OptText = Field(None, description="不同意时必填")
    terms: Terms | None = None


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_id: int
    comment: OptText = None


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_id: int


class DemandOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    requester_org_id: int
    system_id: int | None
    resource_id: int | None
    owner_org_id: int | None
    share_type: str | None
    wanted: str | None
    items: list[str]
    purpose: str
    basis: str
    scenario: str
    expected_daily_calls: int
    period_start: date
    period_end: date
    status: str
    due_date: date | None
    terms: dict[str, Any] | None
    refusal_reason: str | None
    escalation_reason: str | None
    assigned_org_id: int | None
    decided_at: datetime | None
    late: bool
    created_at: datetime


class GrantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    demand_id: int | None
    consumer_org_id: int
    system_id: int | None
    resource_id: int
    owner_org_id: int
    items: list[str]
    masking: dict[str, str]
    row_filter: dict[str, Any] | None
    valid_from: date
    valid_until: date
    daily_quota: int
    rate_limit: float
    status: str
    revoked_at: datetime | None
    created_at: datetime


class InterfaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_id: int
    code: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_\-]{2,63}$")]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    kind: Annotated[str, StringConstraints(max_length=16)] = "query"
    key_columns: list[Column] = Field(default_factory=list, max_length=5)
    batch_max: Annotated[int, Field(ge=1, le=1000)] = 100
    page_size: Annotated[int, Field(ge=1, le=5000)] = 500
    cursor_column: Column | None = None
    description: OptText = None


class InterfaceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: str
    resource_id: int
    owner_org_id: int
    key_columns: list[str]
    batch_max: int
    page_size: int
    cursor_column: str | None
    description: str | None
    status: str
    created_at: datetime


class BackflowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Literal["省级", "国家级"] = "省级"
    upstream_code: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
    ]
    upstream_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    upstream_org: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]
    items: OptText = None
    purpose: Text
    delivery: Literal["接口", "文件"] = "接口"
    schedule: Annotated[str | None, StringConstraints(max_length=64)] = "0 2 * * *"


class BackflowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    requester_org_id: int
    level: str
    upstream_code: str
    upstream_name: str
    upstream_org: str
    items: str | None
    purpose: str
    delivery: str
    schedule: str | None
    status: str
    decision_comment: str | None
    source_ref: str | None
    created_at: datetime


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["online", "offline"]


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_ref: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
    ]


class VolumeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date
    rows: Annotated[int, Field(ge=0)]
    bytes: Annotated[int, Field(ge=0)] = 0


class HolidayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date
    is_workday: bool = False
    note: Annotated[str | None, StringConstraints(max_length=100)] = None
