"""Open-data tables: datasets, the open key list, developer keys, restricted applications,
reuses, comments, ratings, data requests and the call log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gongshu.db import Base, UTCDateTime, utcnow


class OpenDataset(Base):
    """开放数据集: a governed, published view of one catalog resource."""

    __tablename__ = "open_dataset"
    __table_args__ = (
        # Covers portal search: facet counts, totals and newest-first pages (migration 0008).
        Index(
            "ix_open_dataset_facets",
            "status",
            "org_id",
            "domain",
            "open_type",
            "update_cycle",
            "licence",
            "published_at",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)  # CKAN name (slug)
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    domain: Mapped[str] = mapped_column(String(32), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # [{"column", "name", "data_type", "description", "masking"}]; masking "none" = as is.
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # [{"column", "op", "value"}] applied to every read (which rows are open).
    row_filter: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    licence: Mapped[str] = mapped_column(String(32), default="")
    update_cycle: Mapped[str] = mapped_column(String(8), default="")
    contact: Mapped[str] = mapped_column(String(200), default="")
    open_type: Mapped[str] = mapped_column(String(8), index=True)
    status: Mapped[str] = mapped_column(String(12), index=True)
    review_comment: Mapped[str | None] = mapped_column(Text)
    proposed_by: Mapped[str] = mapped_column(String(128))
    approved_by: Mapped[str | None] = mapped_column(String(128))
    proposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    data_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_load_id: Mapped[int | None] = mapped_column(BigInteger)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    api_calls: Mapped[int] = mapped_column(Integer, default=0)
    views: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OpenKeyListEntry(Base):
    """开放重点清单: what the city promised to open in a year."""

    __tablename__ = "open_key_list"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    domain: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_resource.id"))
    due_date: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OpenAppKey(Base):
    """A developer's app key, or a restricted-open key limited to items and a period.

    Only a SHA-256 of the secret is stored (same scheme as platform API keys)."""

    __tablename__ = "open_app_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(12))  # developer | restricted
    application_id: Mapped[int | None] = mapped_column(Integer, index=True)
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("open_dataset.id"))
    items: Mapped[list[str] | None] = mapped_column(JSON)
    rate_per_min: Mapped[int] = mapped_column(Integer, default=600)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OpenApplication(Base):
    """受限开放申请: applicant → owner org review → bureau review → key."""

    __tablename__ = "open_application"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("open_dataset.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    applicant: Mapped[str] = mapped_column(String(100))
    applicant_type: Mapped[str] = mapped_column(String(8))  # 个人 | 企业
    credit_code: Mapped[str | None] = mapped_column(String(18))
    purpose: Mapped[str] = mapped_column(Text)
    scenario: Mapped[str] = mapped_column(Text)
    security_commitment: Mapped[str] = mapped_column(Text)
    items: Mapped[list[str]] = mapped_column(JSON)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    report_every_days: Mapped[int] = mapped_column(Integer, default=90)
    status: Mapped[str] = mapped_column(String(16), index=True)
    org_comment: Mapped[str | None] = mapped_column(Text)
    bureau_comment: Mapped[str | None] = mapped_column(Text)
    org_reviewed_by: Mapped[str | None] = mapped_column(String(128))
    bureau_reviewed_by: Mapped[str | None] = mapped_column(String(128))
    key_id: Mapped[int | None] = mapped_column(ForeignKey("open_app_key.id"))
    next_report_due: Mapped[date | None] = mapped_column(Date)
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OpenUsageReport(Base):
    """使用情况报告 that an approved restricted applicant files periodically."""

    __tablename__ = "open_usage_report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("open_application.id", ondelete="CASCADE"), index=True
    )
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OpenReuse(Base):
    """应用成果: an app, site or study built on open data, linked to datasets."""

    __tablename__ = "open_reuse"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(300))
    author: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(12), index=True)  # pending | approved | rejected
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OpenReuseDataset(Base):
    __tablename__ = "open_reuse_dataset"

    reuse_id: Mapped[int] = mapped_column(
        ForeignKey("open_reuse.id", ondelete="CASCADE"), primary_key=True
    )
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("open_dataset.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class OpenComment(Base):
    """A comment or question on a dataset, answered by the owner org."""

    __tablename__ = "open_comment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("open_dataset.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    author: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # comment | question
    body: Mapped[str] = mapped_column(Text)
    reply: Mapped[str | None] = mapped_column(Text)
    replied_by: Mapped[str | None] = mapped_column(String(128))
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OpenRating(Base):
    __tablename__ = "open_rating"
    __table_args__ = (UniqueConstraint("dataset_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("open_dataset.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    stars: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OpenRequest(Base):
    """开放需求: a citizen asks for data that is not open yet; tracked to an answer."""

    __tablename__ = "open_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    requester: Mapped[str] = mapped_column(String(64))
    contact: Mapped[str | None] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), index=True)  # submitted | answered
    answer: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(12))  # opened | planned | declined
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("open_dataset.id"))
    answered_by: Mapped[str | None] = mapped_column(String(128))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OpenCall(Base):
    """Every download and API call (portal, row API, CKAN datastore)."""

    __tablename__ = "open_call"
    __table_args__ = (Index("ix_open_call_dataset_day", "dataset_id", "day"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    day: Mapped[date] = mapped_column(Date, index=True)  # Asia/Shanghai calendar day
    dataset_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))  # download | api | ckan
    fmt: Mapped[str | None] = mapped_column(String(12))
    key_id: Mapped[int | None] = mapped_column(Integer, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    ms: Mapped[int] = mapped_column(Integer, default=0)
    ip: Mapped[str | None] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
