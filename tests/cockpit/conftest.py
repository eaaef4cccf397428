"""Cockpit fixtures: a small city (orgs, demo warehouse tables, a few indicators)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from gongshu.cockpit import demo_data, service
from gongshu.cockpit.schemas import IndicatorIn
from gongshu.config import Settings
from gongshu.warehouse import Warehouse, release_shared, shared
from tests.factories import SYSTEM, make_org
from tests.warehouse.conftest import spark_session  # noqa: F401  (shared Spark session fixture)

END = date(2026, 3, 31)  # a fixed "yesterday" keeps the tests deterministic


@dataclass
class City:
    session: Session
    warehouse: Warehouse
    orgs: dict[str, int]
    start: date
    end: date

    def indicator(self, code: str, **overrides: Any) -> Any:
        spec = next(s for s in demo_data.CITY_INDICATORS if s["code"] == code)
        data = dict(spec) | overrides
        data["owner_org_id"] = self.orgs.get(data.pop("owner_org"))
        return service.create_indicator(self.session, SYSTEM, IndicatorIn(**data))


@pytest.fixture
def warehouse(settings: Settings) -> Iterator[Warehouse]:
    settings.ensure_dirs()
    yield shared(settings.warehouse_url)
    release_shared(settings.warehouse_url)


def make_city(session: Session, warehouse: Warehouse, days: int) -> City:
    orgs = {}
    for code in ("SJJ", "ZWFWB", "STHJJ", "JTJ", "CGJ", "GAJ"):
        orgs[code] = make_org(session, code, name=f"示例市{code}").id
    start = END - timedelta(days=days - 1)
    demo_data.load_days(warehouse, start, END)
    return City(session, warehouse, orgs, start, END)


@pytest.fixture
def city(session: Session, warehouse: Warehouse) -> City:
    """120 days of the demo tables, ending on END (with END's injected anomalies)."""
    return make_city(session, warehouse, 120)
