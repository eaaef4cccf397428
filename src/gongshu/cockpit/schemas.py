"""Pydantic schemas of the cockpit API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from gongshu.cockpit.registry import TOPIC_SLUGS

Level = Literal["blue", "yellow", "orange", "red"]


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: float | None = None
    upper: float | None = None
    lower: float | None = None
    rate_pct: float | None = Field(None, gt=0, le=10_000)
    consecutive: int | None = Field(None, ge=2, le=365)
    higher_is_better: bool | None = None


class IndicatorIn(Thresholds):
    """A restricted-SQL indicator (built-in ones are registered by their domains)."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_.]{1,63}$")
    name: str = Field(min_length=1, max_length=100)
    unit: str = Field("", max_length=16)
    topic: str
    owner_org_id: int | None = None
    description: str = Field("", max_length=2000)
    definition: str = Field(min_length=1, max_length=20_000)
    sources: list[str] = Field(min_length=1, max_length=20)
    granularity: Literal["hour", "day", "month"] = "day"
    dimensions: list[Literal["district", "org"]] = Field(default_factory=list)
    rollup: Literal["sum", "mean", "max", "last", "ratio"] = "sum"
    refresh: str = Field("15 6 * * *", max_length=64)
    featured: bool = False

    @field_validator("topic")
    @classmethod
    def _topic(cls, v: str) -> str:
        if v not in TOPIC_SLUGS:
            raise ValueError(f"专题必须是：{'、'.join(TOPIC_SLUGS)}")
        return v


class IndicatorUpdate(Thresholds):
    name: str | None = Field(None, min_length=1, max_length=100)
    unit: str | None = Field(None, max_length=16)
    description: str | None = Field(None, max_length=2000)
    definition: str | None = Field(None, min_length=1, max_length=20_000)
    sources: list[str] | None = Field(None, min_length=1, max_length=20)
    refresh: str | None = Field(None, max_length=64)
    featured: bool | None = None
    enabled: bool | None = None


class IndicatorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    unit: str
    topic: str
    owner_org_id: int | None
    description: str
    kind: str
    definition: str
    sources: list[str]
    granularity: str
    dimensions: list[str]
    rollup: str
    higher_is_better: bool
    target: float | None
    upper: float | None
    lower: float | None
    rate_pct: float | None
    consecutive: int | None
    refresh: str
    featured: bool
    enabled: bool
    builtin: bool
    last_period: datetime | None
    computed_at: datetime | None
    compute_error: str | None
    forecast_model: str | None
    forecast_mape: float | None
    naive_mape: float | None


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    indicator_id: int
    rule: str
    level: str
    status: str
    message: str
    first_period: datetime
    last_period: datetime
    occurrences: int
    value: float | None
    threshold: float | None
    assignee_id: int | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    closed_by: str | None
    closed_at: datetime | None
    close_note: str | None
    created_at: datetime


class AlertAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000)


class AlertClose(BaseModel):
    """``note`` is required; checked after authorisation so strangers get 404, not 422."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000)


class AlertAssign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee_id: int | None = None


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    url: HttpUrl
    format: Literal["json", "dingtalk", "wecom", "feishu"] = "json"
    min_level: Level = "blue"
    enabled: bool = True


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    url: str
    format: str
    min_level: str
    enabled: bool
