"""Request and response bodies for the catalog, and the read-only views other domains use.

``ResourceSpec`` / ``ItemSpec`` are the stable, documented interface (docs/catalog.md):
ingest, quality, sharing, open data and the cockpit read the catalog only through them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from gongshu.catalog.vocab import Classification, DataType, Grade, OpenType, ShareType, UpdateCycle

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Text2000 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


# Full-width letters and digits → ASCII; Chinese punctuation (，（）) is kept as typed.
_WIDE = {
    c: c - 0xFEE0
    for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
    for c in range(r[0], r[1] + 1)
}


def normalise_text(value: str) -> str:
    """Full-width letters/digits → half-width, whitespace (incl. 　) collapsed."""
    return " ".join(value.translate(_WIDE).split())


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    column: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    data_type: DataType = DataType.string
    length: Annotated[int | None, Field(ge=1, le=65535)] = None
    data_element: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=64)] = (
        None
    )
    is_sensitive: bool = False
    is_key: bool = False
    masking: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] = "none"
    description: Text2000 | None = None

    @field_validator("name")
    @classmethod
    def _norm_name(cls, v: str) -> str:
        return normalise_text(v)

    @field_validator("column")
    @classmethod
    def _lower_column(cls, v: str) -> str:
        return v.lower()

    @field_validator("data_element", "description")
    @classmethod
    def _blank_none(cls, v: str | None) -> str | None:
        return v or None


class ResourceIn(BaseModel):
    """A resource with its items, as drafted by an officer (API, form, import, revision)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    summary: Text2000 = ""
    owner_org_id: int | None = Field(None, description="默认为当前用户所在部门")
    system_id: int | None = Field(None, description="来源信息系统")
    domain: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    classification: Classification = Classification.department
    format: Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)] = "数据库"
    update_cycle: UpdateCycle
    share_type: ShareType
    share_condition: Text2000 | None = None
    share_basis: Text2000 | None = Field(None, description="不予共享的法律法规或政策依据")
    share_methods: list[str] = Field(default_factory=list, max_length=10)
    open_type: OpenType
    open_reason: Text2000 | None = Field(None, description="受限开放条件或不予开放理由")
    grade: Grade
    keywords: Text200 | None = None
    release_date: date | None = None
    related_codes: list[str] = Field(default_factory=list, max_length=50)
    items: list[ItemIn] = Field(default_factory=list, max_length=2000)

    @field_validator("name", "summary")
    @classmethod
    def _norm(cls, v: str) -> str:
        return normalise_text(v)

    @field_validator("share_condition", "share_basis", "open_reason", "keywords")
    @classmethod
    def _blank_none(cls, v: str | None) -> str | None:
        return v or None


class ReviewAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Text2000 | None = None
    publish: bool = Field(False, description="审核通过后立即发布")


class ReleaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    note: Text2000 | None = None


# ---- read-only views (the interface for other domains) -----------------------------


class ItemSpec(BaseModel):
    """One field of a resource, as other domains see it."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    position: int
    name: str
    column: str = Field(description="英文字段名，安全的 SQL 标识符")
    data_type: str = Field(description="字符串/整数/小数/日期/日期时间/布尔/长文本/二进制")
    length: int | None
    data_element: str | None
    is_sensitive: bool
    is_key: bool
    masking: str = Field(description="脱敏规则名：none/id_number/name/phone/hash/…")
    description: str | None


class ResourceSpec(BaseModel):
    """A resource with its items in order, as other domains see it."""

    model_config = ConfigDict(frozen=True)

    id: int
    code: str
    name: str
    summary: str
    owner_org_id: int
    system_id: int | None
    domain: str
    classification: str
    format: str
    update_cycle: str
    share_type: str
    share_condition: str | None
    share_basis: str | None
    share_methods: tuple[str, ...]
    open_type: str
    open_reason: str | None
    grade: str
    keywords: str | None
    release_date: date | None
    status: str
    revision: int
    published_at: datetime | None
    related_codes: tuple[str, ...]
    items: tuple[ItemSpec, ...]

    def item(self, column: str) -> ItemSpec | None:
        return next((i for i in self.items if i.column == column), None)

    @property
    def columns(self) -> list[str]:
        return [i.column for i in self.items]

    @property
    def key_columns(self) -> list[str]:
        return [i.column for i in self.items if i.is_key]

    @property
    def sensitive_columns(self) -> list[str]:
        return [i.column for i in self.items if i.is_sensitive]


class ResourceSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    summary: str
    owner_org_id: int
    domain: str
    classification: str
    update_cycle: str
    share_type: str
    open_type: str
    grade: str
    status: str
    revision: int
    updated_at: datetime


def summary_out(resource: Any) -> dict[str, Any]:
    return ResourceSummary.model_validate(resource).model_dump(mode="json")
