"""Quality tables: rules, runs with per-rule results, problems (发现→反馈→整改→评价).

``resource_id`` is a plain integer, as in ingest: quality reads the catalog only through
its service, and a run's history must survive a resource's retirement.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gongshu.db import Base, UTCDateTime, utcnow


class Rule(Base):
    """质量规则: one check of a resource (optionally of one of its items)."""

    __tablename__ = "quality_rule"
    __table_args__ = (Index("ix_quality_rule_resource_status", "resource_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    resource_id: Mapped[int] = mapped_column(Integer)
    resource_code: Mapped[str] = mapped_column(String(48))
    column: Mapped[str | None] = mapped_column(String(64))  # item column, None: table rule
    name: Mapped[str] = mapped_column(String(100))
    dimension: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    severity: Mapped[str] = mapped_column(String(8), default="warning")  # blocking | warning
    threshold: Mapped[float] = mapped_column(Float, default=0.0)  # allowed failure rate
    status: Mapped[str] = mapped_column(String(12), default="active")  # suggested|active|disabled
    origin: Mapped[str] = mapped_column(String(12), default="manual")  # manual|element|profile
    reason: Mapped[str | None] = mapped_column(Text)  # why it was suggested
    created_by: Mapped[str] = mapped_column(String(128))
    confirmed_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Run(Base):
    """质检: one execution of a resource's active rules."""

    __tablename__ = "quality_run"
    __table_args__ = (
        Index("ix_quality_run_resource_started", "resource_id", "started_at"),
        Index("ix_quality_run_org_started", "org_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    resource_id: Mapped[int] = mapped_column(Integer)
    resource_code: Mapped[str] = mapped_column(String(48))
    resource_name: Mapped[str] = mapped_column(String(100))
    trigger: Mapped[str] = mapped_column(String(12))  # load | schedule | manual
    load_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12))  # passed | failed | blocked | error
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    rules: Mapped[int] = mapped_column(Integer, default=0)
    rules_failed: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float | None] = mapped_column(Float)
    dimension_scores: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    cached_from: Mapped[int | None] = mapped_column(Integer)  # run whose results were reused
    queries: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    actor_name: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RunResult(Base):
    """One rule's outcome in one run."""

    __tablename__ = "quality_result"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("quality_run.id", ondelete="CASCADE"), index=True
    )
    rule_id: Mapped[int] = mapped_column(Integer, index=True)
    rule_name: Mapped[str] = mapped_column(String(100))
    column: Mapped[str | None] = mapped_column(String(64))
    dimension: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    threshold: Mapped[float] = mapped_column(Float)
    rows_checked: Mapped[int] = mapped_column(BigInteger)
    rows_failed: Mapped[int] = mapped_column(BigInteger)
    failure_rate: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)
    message: Mapped[str | None] = mapped_column(Text)
    # [{"key": {...}, "values": {...}, "reason": "checksum"}, ...]
    samples: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Problem(Base):
    """数据问题: a failed rule or a user's 数据异议, through 发现→反馈→整改→评价."""

    __tablename__ = "quality_problem"
    __table_args__ = (
        Index("ix_quality_problem_org_state", "org_id", "state"),
        Index("ix_quality_problem_rule_state", "rule_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))  # owner org of the resource
    resource_id: Mapped[int] = mapped_column(Integer, index=True)
    resource_code: Mapped[str] = mapped_column(String(48))
    resource_name: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(12))  # rule | objection
    rule_id: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    dimension: Mapped[str | None] = mapped_column(String(8))
    severity: Mapped[str] = mapped_column(String(8), default="warning")
    state: Mapped[str] = mapped_column(String(12))  # found|sent|rectified|closed
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    samples: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    rows_failed: Mapped[int] = mapped_column(BigInteger, default=0)
    failure_rate: Mapped[float] = mapped_column(Float, default=0.0)
    first_run_id: Mapped[int | None] = mapped_column(Integer)
    last_run_id: Mapped[int | None] = mapped_column(Integer)
    deadline: Mapped[date | None] = mapped_column(Date)
    rectify_note: Mapped[str | None] = mapped_column(Text)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    overdue_count: Mapped[int] = mapped_column(Integer, default=0)
    raised_by: Mapped[str] = mapped_column(String(128))
    raiser_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    raiser_org_id: Mapped[int | None] = mapped_column(Integer)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
