"""Sources, loads and IoT devices (control plane; the rows live in the warehouse).

``resource_id`` is a plain integer, not a foreign key: ingest reads the catalog only
through its service, and a load's history must survive a resource's retirement.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gongshu.db import Base, UTCDateTime, utcnow


class LoadStatus(StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


STATUS_LABELS = {"running": "进行中", "succeeded": "成功", "failed": "失败"}
MODE_LABELS = {"full": "全量", "incremental": "增量"}
KIND_LABELS = {
    "file": "文件",
    "sql": "数据库",
    "http": "HTTP 接口",
    "iot": "物联感知",
    "demo": "示例",
}


class Source(Base):
    """归集来源: where one resource's rows come from, how they map, when to pull."""

    __tablename__ = "ingest_source"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    resource_id: Mapped[int] = mapped_column(Integer, index=True)
    resource_code: Mapped[str] = mapped_column(String(48))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # connector name
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    mapping: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    mode: Mapped[str] = mapped_column(String(12), default="full")
    watermark_column: Mapped[str | None] = mapped_column(String(128))
    watermark: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    schedule: Mapped[str | None] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    max_reject_ratio: Mapped[float] = mapped_column(Float, default=0.5)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_load_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Load(Base):
    """归集批次: one run. Its id is the warehouse ``_load_id`` of the rows it published."""

    __tablename__ = "ingest_load"
    __table_args__ = (
        Index("ix_ingest_load_resource_started", "resource_id", "started_at"),
        Index("ix_ingest_load_org_started", "org_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    resource_id: Mapped[int] = mapped_column(Integer)
    resource_code: Mapped[str] = mapped_column(String(48))
    resource_name: Mapped[str] = mapped_column(String(100))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_source.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(12), default=LoadStatus.running, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    file_name: Mapped[str | None] = mapped_column(String(255))
    encoding: Mapped[str | None] = mapped_column(String(16))
    columns: Mapped[list[str] | None] = mapped_column(JSON)
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_s: Mapped[float | None] = mapped_column(Float)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_name: Mapped[str] = mapped_column(String(128))
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Device(Base):
    """物联感知设备: sends readings for one resource with its own key (hash stored)."""

    __tablename__ = "ingest_device"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    resource_id: Mapped[int] = mapped_column(Integer, index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    key_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    readings: Mapped[int] = mapped_column(BigInteger, default=0)
