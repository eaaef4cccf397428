"""API shapes of sources, loads and devices."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Mode = Literal["full", "incremental"]


class ColumnMapIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: Annotated[str, StringConstraints(max_length=64)]
    source: Annotated[str | None, StringConstraints(max_length=200)] = None
    normalize: list[Literal["nfkc", "trim", "nospace", "upper"]] = Field(default_factory=list)


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_id: int
    name: Name
    kind: Annotated[str, StringConstraints(max_length=16)] = Field(description="file / sql / http")
    config: dict[str, Any] = Field(default_factory=dict, description="连接参数，随来源类型而定")
    mapping: list[ColumnMapIn] | None = Field(None, description="不填则按名称自动建议")
    mode: Mode = "full"
    watermark_column: Annotated[str | None, StringConstraints(max_length=128)] = None
    schedule: Annotated[str | None, StringConstraints(max_length=64)] = Field(
        None, description="cron 表达式（分 时 日 月 周），如 0 2 * * *"
    )
    enabled: bool = True
    max_reject_ratio: Annotated[float, Field(ge=0, le=1)] = 0.5


class SourceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    config: dict[str, Any] | None = None
    mapping: list[ColumnMapIn] | None = None
    mode: Mode | None = None
    watermark_column: Annotated[str | None, StringConstraints(max_length=128)] = None
    schedule: Annotated[str | None, StringConstraints(max_length=64)] = None
    enabled: bool | None = None
    max_reject_ratio: Annotated[float | None, Field(ge=0, le=1)] = None


class SourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    resource_id: int
    resource_code: str
    name: str
    kind: str
    config: dict[str, Any]
    mapping: list[dict[str, Any]]
    mode: str
    watermark_column: str | None
    watermark: dict[str, Any] | None
    schedule: str | None
    enabled: bool
    max_reject_ratio: float
    next_run_at: datetime | None
    last_load_id: int | None
    created_at: datetime


class LoadOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    resource_id: int
    resource_code: str
    resource_name: str
    source_id: int | None
    kind: str
    mode: str
    status: str
    error: str | None
    file_name: str | None
    encoding: str | None
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    bytes_read: int
    duration_s: float | None
    actor_name: str
    started_at: datetime
    finished_at: datetime | None


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    wait: bool = Field(True, description="等待归集完成后再返回")


class DeviceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_id: int
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    name: Name


class DeviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    resource_id: int
    code: str
    name: str
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None
    readings: int
