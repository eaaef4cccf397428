"""Sharing: demands (共享申请), grants (共享授权), interfaces (接口), the call log (调用日志),
backflow requests (数据回流) and the working-day calendar overrides."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gongshu.db import Base, UTCDateTime, utcnow


class DemandStatus(StrEnum):
    submitted = "submitted"  # waiting for the owner org
    owner_approved = "owner_approved"  # waiting for the bureau's confirmation
    granted = "granted"
    refused = "refused"
    escalated = "escalated"  # refused, under bureau coordination (协调)
    withdrawn = "withdrawn"
    unmet = "unmet"  # 需求清单: the resource does not exist yet
    assigned = "assigned"  # unmet, assigned by the bureau to an org to provide


DEMAND_LABELS: dict[str, str] = {
    DemandStatus.submitted: "待部门审批",
    DemandStatus.owner_approved: "待数据局确认",
    DemandStatus.granted: "已授权",
    DemandStatus.refused: "未通过",
    DemandStatus.escalated: "协调中",
    DemandStatus.withdrawn: "已撤回",
    DemandStatus.unmet: "需求清单",
    DemandStatus.assigned: "已交办",
}
PENDING = (DemandStatus.submitted, DemandStatus.owner_approved, DemandStatus.escalated)


class Demand(Base):
    __tablename__ = "share_demand"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    system_id: Mapped[int | None] = mapped_column(ForeignKey("info_system.id"))
    # None for an unmet demand (the resource does not exist yet).
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    owner_org_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"), index=True)
    share_type: Mapped[str | None] = mapped_column(String(8))
    wanted: Mapped[str | None] = mapped_column(Text)  # description when unmet
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    purpose: Mapped[str] = mapped_column(Text)
    basis: Mapped[str] = mapped_column(Text)  # legal / duty basis (履职依据)
    scenario: Mapped[str] = mapped_column(Text)
    expected_daily_calls: Mapped[int] = mapped_column(Integer, default=1000)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), index=True)
    due_date: Mapped[date | None] = mapped_column(Date, index=True)
    # Terms the owner approved, applied when the bureau confirms.
    terms: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    escalation_reason: Mapped[str | None] = mapped_column(Text)
    assigned_org_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"), index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    late: Mapped[bool] = mapped_column(Boolean, default=False)  # decided after its deadline
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DemandEvent(Base):
    __tablename__ = "share_demand_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    demand_id: Mapped[int] = mapped_column(
        ForeignKey("share_demand.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(24))
    actor_name: Mapped[str] = mapped_column(String(128))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Grant(Base):
    """Consumer org (optionally one of its systems) × resource, with exactly what was granted."""

    __tablename__ = "share_grant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    demand_id: Mapped[int | None] = mapped_column(ForeignKey("share_demand.id"), index=True)
    consumer_org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    system_id: Mapped[int | None] = mapped_column(ForeignKey("info_system.id"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    masking: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # {"column": "xzqh", "values": ["339902"]}: only rows whose column is one of values.
    row_filter: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    daily_quota: Mapped[int] = mapped_column(Integer, default=10000)
    rate_limit: Mapped[float] = mapped_column(Float, default=50.0)  # calls per second
    status: Mapped[str] = mapped_column(String(12), default="active", index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Interface(Base):
    __tablename__ = "share_interface"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # /gw/<code>
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # query | verify | batch | export | plugin
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    key_columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    batch_max: Mapped[int] = mapped_column(Integer, default=100)
    page_size: Mapped[int] = mapped_column(Integer, default=500)
    cursor_column: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="online", index=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Call(Base):
    """One gateway call. Written in batches by the call-log flusher, never on the hot path."""

    __tablename__ = "share_call"
    __table_args__ = (
        Index("ix_share_call_interface_ts", "interface_id", "ts"),
        Index("ix_share_call_consumer_ts", "consumer_org_id", "ts"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    day: Mapped[date] = mapped_column(Date)  # Asia/Shanghai calendar day (quota, statistics)
    key_id: Mapped[int | None] = mapped_column(Integer)
    consumer_org_id: Mapped[int | None] = mapped_column(Integer)
    grant_id: Mapped[int | None] = mapped_column(Integer)
    interface_id: Mapped[int | None] = mapped_column(Integer)
    owner_org_id: Mapped[int | None] = mapped_column(Integer)
    params_digest: Mapped[str] = mapped_column(String(16))
    status: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[float] = mapped_column(Float)
    error_code: Mapped[str | None] = mapped_column(String(32))


# Latency histogram bucket upper bounds (ms) of the daily rollup; the last is open.
LATENCY_BOUNDS_MS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)
N_BUCKETS = len(LATENCY_BOUNDS_MS) + 1


class CallDaily(Base):
    """Daily rollup of the call log: what statistics, quotas and the cockpit read.

    Additive columns only (counts, sums, histogram buckets), so flushes from any number
    of workers merge with ``INSERT .. ON CONFLICT DO UPDATE SET x = x + excluded.x``.
    ``grant_id``/``interface_id``/``consumer_org_id`` are 0 when unknown (forged keys).
    """

    __tablename__ = "share_call_daily"
    __table_args__ = (
        UniqueConstraint("day", "interface_id", "consumer_org_id", "grant_id"),
        Index("ix_share_call_daily_day", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    interface_id: Mapped[int] = mapped_column(Integer)
    consumer_org_id: Mapped[int] = mapped_column(Integer)
    grant_id: Mapped[int] = mapped_column(Integer)
    owner_org_id: Mapped[int] = mapped_column(Integer, default=0)
    calls: Mapped[int] = mapped_column(BigInteger, default=0)
    ok: Mapped[int] = mapped_column(BigInteger, default=0)
    client_errors: Mapped[int] = mapped_column(BigInteger, default=0)
    server_errors: Mapped[int] = mapped_column(BigInteger, default=0)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_sum_ms: Mapped[float] = mapped_column(Float, default=0.0)
    lat0: Mapped[int] = mapped_column(BigInteger, default=0)
    lat1: Mapped[int] = mapped_column(BigInteger, default=0)
    lat2: Mapped[int] = mapped_column(BigInteger, default=0)
    lat3: Mapped[int] = mapped_column(BigInteger, default=0)
    lat4: Mapped[int] = mapped_column(BigInteger, default=0)
    lat5: Mapped[int] = mapped_column(BigInteger, default=0)
    lat6: Mapped[int] = mapped_column(BigInteger, default=0)
    lat7: Mapped[int] = mapped_column(BigInteger, default=0)
    lat8: Mapped[int] = mapped_column(BigInteger, default=0)
    lat9: Mapped[int] = mapped_column(BigInteger, default=0)
    lat10: Mapped[int] = mapped_column(BigInteger, default=0)
    lat11: Mapped[int] = mapped_column(BigInteger, default=0)


class CallErrorDaily(Base):
    __tablename__ = "share_call_error_daily"
    __table_args__ = (UniqueConstraint("day", "interface_id", "consumer_org_id", "error_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    interface_id: Mapped[int] = mapped_column(Integer)
    consumer_org_id: Mapped[int] = mapped_column(Integer)
    owner_org_id: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class GatewayState(Base):
    """One row: a generation bumped on every change the gateway caches (grants, interfaces).

    Other worker processes poll it to drop their caches (see docs/sharing.md).
    """

    __tablename__ = "share_gateway_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


class Holiday(Base):
    """Calendar override: a day that is (not) a working day, over ``chinese_calendar``."""

    __tablename__ = "share_holiday"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BackflowStatus(StrEnum):
    submitted = "submitted"
    approved = "approved"
    refused = "refused"
    active = "active"  # a Source pulls it
    withdrawn = "withdrawn"


BACKFLOW_LABELS: dict[str, str] = {
    BackflowStatus.submitted: "待审批",
    BackflowStatus.approved: "已批准",
    BackflowStatus.refused: "未通过",
    BackflowStatus.active: "回流中",
    BackflowStatus.withdrawn: "已撤回",
}


class Backflow(Base):
    """A city org's request for province/national data to flow back (数据回流)."""

    __tablename__ = "share_backflow"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    level: Mapped[str] = mapped_column(String(8))  # 省级 | 国家级
    upstream_code: Mapped[str] = mapped_column(String(64))
    upstream_name: Mapped[str] = mapped_column(String(200))
    upstream_org: Mapped[str] = mapped_column(String(100))
    items: Mapped[str | None] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(Text)
    delivery: Mapped[str] = mapped_column(String(16))  # 接口 | 文件
    schedule: Mapped[str | None] = mapped_column(String(64))  # cron, for the Source
    status: Mapped[str] = mapped_column(String(12), index=True)
    decision_comment: Mapped[str | None] = mapped_column(Text)
    # Link point to the ingest domain's Source (id) that pulls the data.
    source_ref: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BackflowVolume(Base):
    __tablename__ = "share_backflow_volume"
    __table_args__ = (UniqueConstraint("backflow_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    backflow_id: Mapped[int] = mapped_column(
        ForeignKey("share_backflow.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[date] = mapped_column(Date)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)


# The commit hooks that keep running gateways coherent with these tables.
from gongshu.sharing import coherence as _coherence  # noqa: E402, F401
