"""Cockpit tables: indicators, their values, forecasts, alerts, webhooks, daily logs.

Periods (``period`` columns) are calendar labels in the city's local time (the start of
the hour, day or month in Asia/Shanghai), not instants, so they are stored as naive
``DateTime``; every instant (``*_at``) is UTC like everywhere else.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
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


class Indicator(Base):
    """指标: a definition, its thresholds and the state of its computations."""

    __tablename__ = "cockpit_indicator"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(16), default="")
    topic: Mapped[str] = mapped_column(String(16), index=True)
    owner_org_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # "sql": restricted SQL stored in ``definition``; "plugin": a registered indicator
    # (entry-point group gongshu.indicators), ``definition`` holds its registry name.
    kind: Mapped[str] = mapped_column(String(8))
    definition: Mapped[str] = mapped_column(Text)
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)  # warehouse tables read
    granularity: Mapped[str] = mapped_column(String(8), default="day")
    dimensions: Mapped[list[str]] = mapped_column(JSON, default=list)
    rollup: Mapped[str] = mapped_column(String(8), default="sum")
    higher_is_better: Mapped[bool] = mapped_column(Boolean, default=True)
    target: Mapped[float | None] = mapped_column(Float)
    upper: Mapped[float | None] = mapped_column(Float)
    lower: Mapped[float | None] = mapped_column(Float)
    rate_pct: Mapped[float | None] = mapped_column(Float)
    consecutive: Mapped[int | None] = mapped_column(Integer)
    refresh: Mapped[str] = mapped_column(String(64), default="15 6 * * *")
    featured: Mapped[bool] = mapped_column(Boolean, default=False)  # shown on screens
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    last_period: Mapped[datetime | None] = mapped_column(DateTime)
    evaluated_through: Mapped[datetime | None] = mapped_column(DateTime)
    computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    compute_error: Mapped[str | None] = mapped_column(Text)
    forecast_model: Mapped[str | None] = mapped_column(String(16))
    forecast_mape: Mapped[float | None] = mapped_column(Float)
    naive_mape: Mapped[float | None] = mapped_column(Float)
    forecast_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the full backtest last chose ``forecast_model``; incremental refreshes in between
    # refit only that model (see service.RESELECT_EVERY).
    forecast_selected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class IndicatorValue(Base):
    """One computed value; ``district``/``org`` are '' for the city-wide total."""

    __tablename__ = "cockpit_value"
    __table_args__ = (UniqueConstraint("indicator_id", "district", "org", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("cockpit_indicator.id", ondelete="CASCADE")
    )
    district: Mapped[str] = mapped_column(String(12), default="")
    org: Mapped[str] = mapped_column(String(32), default="")
    period: Mapped[datetime] = mapped_column(DateTime)
    value: Mapped[float | None] = mapped_column(Float)


class ForecastPoint(Base):
    """The latest forecast of an indicator's total, one row per future period."""

    __tablename__ = "cockpit_forecast"
    __table_args__ = (UniqueConstraint("indicator_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("cockpit_indicator.id", ondelete="CASCADE")
    )
    period: Mapped[datetime] = mapped_column(DateTime)
    forecast: Mapped[float] = mapped_column(Float)
    lower: Mapped[float] = mapped_column(Float)
    upper: Mapped[float] = mapped_column(Float)


class Anomaly(Base):
    """A historical value outside the model's one-step-ahead band."""

    __tablename__ = "cockpit_anomaly"
    __table_args__ = (UniqueConstraint("indicator_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("cockpit_indicator.id", ondelete="CASCADE")
    )
    period: Mapped[datetime] = mapped_column(DateTime, index=True)
    actual: Mapped[float] = mapped_column(Float)
    expected: Mapped[float] = mapped_column(Float)
    lower: Mapped[float] = mapped_column(Float)
    upper: Mapped[float] = mapped_column(Float)
    direction: Mapped[str] = mapped_column(String(8))


class Alert(Base):
    """预警. One open alert per fingerprint (indicator, rule, scope): repeats update it."""

    __tablename__ = "cockpit_alert"
    __table_args__ = (Index("ix_cockpit_alert_status_level", "status", "level"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("cockpit_indicator.id", ondelete="CASCADE"), index=True
    )
    owner_org_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(128), index=True)
    rule: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), default="open")
    message: Mapped[str] = mapped_column(Text)
    first_period: Mapped[datetime] = mapped_column(DateTime)
    last_period: Mapped[datetime] = mapped_column(DateTime, index=True)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(128))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Webhook(Base):
    """A notification endpoint (government IM bot or any JSON receiver)."""

    __tablename__ = "cockpit_webhook"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(16), default="json")
    min_level: Mapped[str] = mapped_column(String(8), default="blue")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(Base):
    """One notification of one alert event to one webhook; the key makes it unique."""

    __tablename__ = "cockpit_delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("cockpit_webhook.id", ondelete="CASCADE"), index=True
    )
    alert_id: Mapped[int] = mapped_column(ForeignKey("cockpit_alert.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(96), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Report(Base):
    """城市运行日志 of one day."""

    __tablename__ = "cockpit_report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    rewritten: Mapped[bool] = mapped_column(Boolean, default=False)
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
