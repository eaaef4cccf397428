"""Request bodies for open data (Pydantic, ``extra="forbid"``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Long = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
NonEmptyLong = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetItemIn(_In):
    column: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    masking: Annotated[str, StringConstraints(max_length=32)] = "none"
    description: Annotated[str | None, StringConstraints(max_length=500)] = None


class RowFilterIn(_In):
    column: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    op: Literal["eq", "ne", "gt", "ge", "lt", "le", "in", "notnull"]
    value: Any = None


class DatasetIn(_In):
    resource_id: int
    title: Short
    description: Long = ""
    domain: Annotated[str | None, StringConstraints(max_length=32)] = None
    tags: list[
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
    ] = Field(default_factory=list, max_length=20)
    items: list[DatasetItemIn] = Field(min_length=1, max_length=500)
    row_filter: list[RowFilterIn] = Field(default_factory=list, max_length=20)
    licence: Annotated[str, StringConstraints(max_length=32)] = "CC-BY-4.0"
    update_cycle: Annotated[str | None, StringConstraints(max_length=8)] = None
    contact: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


class ReviewIn(_In):
    approve: bool
    comment: Long | None = None


class ReasonIn(_In):
    reason: NonEmptyLong


class KeyListEntryIn(_In):
    year: Annotated[int, Field(ge=2000, le=2100)]
    org_id: int
    title: Short
    domain: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    resource_id: int | None = None
    due_date: date
    note: Long | None = None


class RegisterIn(_In):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    display_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
    ]
    password: str = Field(min_length=8, max_length=128)
    phone: str | None = Field(None, max_length=32)


class AppKeyIn(_In):
    name: Short


class ApplicationIn(_In):
    dataset_id: int
    applicant: Short
    applicant_type: Literal["个人", "企业"] = "企业"
    credit_code: Annotated[str | None, StringConstraints(max_length=18)] = None
    purpose: NonEmptyLong
    scenario: NonEmptyLong
    security_commitment: NonEmptyLong
    items: list[str] = Field(min_length=1, max_length=500)
    period_start: date
    period_end: date


class BureauReviewIn(ReviewIn):
    rate_per_min: Annotated[int, Field(ge=1, le=100_000)] = 120
    report_every_days: Annotated[int, Field(ge=7, le=366)] = 90


class ReportIn(_In):
    content: NonEmptyLong


class ReuseIn(_In):
    title: Short
    kind: Literal["应用", "网站", "小程序", "研究报告", "可视化", "其他"] = "应用"
    description: NonEmptyLong
    url: Annotated[str | None, StringConstraints(max_length=300, pattern=r"^(https?://\S+)?$")] = (
        None
    )
    author: Short
    dataset_ids: list[int] = Field(min_length=1, max_length=50)


class CommentIn(_In):
    kind: Literal["comment", "question"] = "comment"
    body: NonEmptyLong


class ReplyIn(_In):
    reply: NonEmptyLong


class RatingIn(_In):
    stars: Annotated[int, Field(ge=1, le=5)]


class RequestIn(_In):
    title: Short
    description: NonEmptyLong
    requester: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    contact: Annotated[str | None, StringConstraints(max_length=100)] = None
    org_id: int | None = None


class AnswerIn(_In):
    answer: NonEmptyLong
    outcome: Literal["opened", "planned", "declined"]
    dataset_id: int | None = None
