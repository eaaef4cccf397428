"""Request and response bodies of the quality API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["blocking", "warning"]


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_id: int
    column: str | None = Field(None, max_length=64, description="数据项英文字段名；表级规则为空")
    kind: str = Field(max_length=32, description="规则类型，见 GET /api/v1/quality/kinds")
    name: str | None = Field(None, max_length=100)
    dimension: str | None = Field(None, max_length=8, description="质量维度；默认取规则类型的维度")
    params: dict[str, Any] = Field(default_factory=dict)
    severity: Severity = "warning"
    threshold: float = Field(0.0, ge=0.0, le=1.0, description="允许的失败率（0–1）")


class RuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=100)
    dimension: str | None = Field(None, max_length=8)
    params: dict[str, Any] | None = None
    severity: Severity | None = None
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    status: Literal["active", "disabled"] | None = None


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    resource_id: int
    resource_code: str
    column: str | None
    name: str
    dimension: str
    kind: str
    params: dict[str, Any]
    severity: str
    threshold: float
    status: str
    origin: str
    reason: str | None
    created_by: str
    confirmed_by: str | None
    created_at: datetime


class ResultOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rule_id: int
    rule_name: str
    column: str | None
    dimension: str
    kind: str
    severity: str
    threshold: float
    rows_checked: int
    rows_failed: int
    failure_rate: float
    passed: bool
    score: float
    message: str | None
    samples: list[dict[str, Any]]


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    resource_id: int
    resource_code: str
    resource_name: str
    trigger: str
    load_id: int | None
    status: str
    rows: int
    rules: int
    rules_failed: int
    score: float | None
    dimension_scores: dict[str, float]
    cached_from: int | None
    queries: int
    duration_s: float
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class RunDetail(RunOut):
    results: list[ResultOut]


class ProblemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    resource_id: int
    resource_code: str
    resource_name: str
    source: str
    rule_id: int | None
    title: str
    description: str
    dimension: str | None
    severity: str
    state: str
    evidence: dict[str, Any]
    samples: list[dict[str, Any]]
    rows_failed: int
    failure_rate: float
    deadline: date | None
    rectify_note: str | None
    reopen_count: int
    overdue_count: int
    raised_by: str
    history: list[dict[str, Any]]
    created_at: datetime
    closed_at: datetime | None
    overdue: bool = False


class ObjectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_id: int
    title: str = Field(min_length=2, max_length=200)
    description: str = Field(min_length=2, max_length=4000, description="异议内容")
    evidence: dict[str, Any] = Field(default_factory=dict, description="证据：示例记录、字段等")
    column: str | None = Field(None, max_length=64)


class RectifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=2, max_length=2000, description="整改说明")


class EvaluateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accept: bool
    note: str | None = Field(None, max_length=2000)


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(False, description="忽略缓存，重新计算")
