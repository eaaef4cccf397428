"""Catalog tables: resources, items, revisions, history, code sequences, releases.

Other domains must not import these; they use the read-only views in
``gongshu.catalog.spec`` through ``gongshu.catalog.service``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gongshu.db import Base, UTCDateTime, utcnow


class Resource(Base):
    """数据资源: the live record. Published resources change only through a revision."""

    __tablename__ = "catalog_resource"
    __table_args__ = (
        Index("ix_catalog_resource_org_status", "owner_org_id", "status"),
        Index("ix_catalog_resource_org_name", "owner_org_id", "name"),
        # Covers facets, visibility, ranking and paging, so a search reads this narrow
        # index instead of thousands of wide rows.
        Index(
            "ix_catalog_resource_facets",
            "status",
            "owner_org_id",
            "domain",
            "share_type",
            "open_type",
            "grade",
            "update_cycle",
            "code",
            "updated_at",
        ),
        Index("ix_catalog_resource_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text, default="")
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    system_id: Mapped[int | None] = mapped_column(ForeignKey("info_system.id"))
    domain: Mapped[str] = mapped_column(String(32), index=True)
    classification: Mapped[str] = mapped_column(String(8))
    format: Mapped[str] = mapped_column(String(16))
    update_cycle: Mapped[str] = mapped_column(String(8))
    share_type: Mapped[str] = mapped_column(String(8), index=True)
    share_condition: Mapped[str | None] = mapped_column(Text)
    share_basis: Mapped[str | None] = mapped_column(Text)
    share_methods: Mapped[list[str]] = mapped_column(JSON, default=list)
    open_type: Mapped[str] = mapped_column(String(8), index=True)
    open_reason: Mapped[str | None] = mapped_column(Text)
    grade: Mapped[str] = mapped_column(String(2))
    keywords: Mapped[str | None] = mapped_column(String(200))
    release_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), index=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    review_comment: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    items: Mapped[list[Item]] = relationship(
        back_populates="resource", order_by="Item.position", cascade="all, delete-orphan"
    )


class ResourceRelation(Base):
    """关联资源 (undirected in meaning; stored as given)."""

    __tablename__ = "catalog_relation"

    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resource.id", ondelete="CASCADE"), primary_key=True
    )
    related_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resource.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Item(Base):
    """数据项: one field of a resource."""

    __tablename__ = "catalog_item"
    __table_args__ = (UniqueConstraint("resource_id", "column"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resource.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100), index=True)
    column: Mapped[str] = mapped_column(String(64))
    data_type: Mapped[str] = mapped_column(String(8))
    length: Mapped[int | None] = mapped_column(Integer)
    data_element: Mapped[str | None] = mapped_column(String(64))
    is_sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    is_key: Mapped[bool] = mapped_column(Boolean, default=False)
    masking: Mapped[str] = mapped_column(String(32), default="none")
    description: Mapped[str | None] = mapped_column(Text)

    resource: Mapped[Resource] = relationship(back_populates="items")


class ResourceRevision(Base):
    """A pending change to a published resource (one open revision per resource)."""

    __tablename__ = "catalog_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resource.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(12))  # draft | submitted
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    comment: Mapped[str | None] = mapped_column(Text)
    review_comment: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ResourceSnapshot(Base):
    """The full content of each published revision (what a release or consumer saw)."""

    __tablename__ = "catalog_snapshot"
    __table_args__ = (UniqueConstraint("resource_id", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resource.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_by: Mapped[str] = mapped_column(String(128))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ResourceHistory(Base):
    """Every change to a resource, with a field-level diff (修订记录)."""

    __tablename__ = "catalog_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resource.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(24))
    actor_name: Mapped[str] = mapped_column(String(128))
    comment: Mapped[str | None] = mapped_column(Text)
    diff: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CodeSequence(Base):
    """Last sequence number handed out per code prefix; only ever increases."""

    __tablename__ = "catalog_code_seq"

    prefix: Mapped[str] = mapped_column(String(48), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class CatalogRelease(Base):
    """目录版本: the published catalog frozen as an edition."""

    __tablename__ = "catalog_release"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    note: Mapped[str | None] = mapped_column(Text)
    resource_count: Mapped[int] = mapped_column(Integer)
    item_count: Mapped[int] = mapped_column(Integer)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CatalogReleaseEntry(Base):
    __tablename__ = "catalog_release_entry"
    __table_args__ = (UniqueConstraint("release_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_release.id", ondelete="CASCADE"), index=True
    )
    resource_id: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(48))
    name: Mapped[str] = mapped_column(String(100))
    owner_org_id: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
