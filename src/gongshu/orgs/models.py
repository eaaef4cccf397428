"""Orgs, local region codes and information systems."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gongshu.db import Base, UTCDateTime, utcnow


class OrgLevel(StrEnum):
    city = "市本级"
    district = "区县"
    township = "乡镇"


class SystemStatus(StrEnum):
    building = "建设中"
    running = "运行中"
    retired = "已下线"


class Region(Base):
    """Region codes added locally on top of the national GB/T 2260 table.

    New districts often exist before a library's table knows them; the bureau adds them
    here and they validate like any national code.
    """

    __tablename__ = "region"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Org(Base):
    __tablename__ = "org"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    short_name: Mapped[str | None] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(8))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"))
    contact_name: Mapped[str | None] = mapped_column(String(32))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    systems: Mapped[list[System]] = relationship(back_populates="org", order_by="System.id")


class System(Base):
    __tablename__ = "info_system"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    builder: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(8), default=SystemStatus.running)
    on_gov_cloud: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    org: Mapped[Org] = relationship(back_populates="systems")
