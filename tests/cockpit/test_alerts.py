"""Warnings: thresholds, rate of change, consecutive periods, forecast breaches, dedup."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongshu.cockpit import service
from gongshu.cockpit.models import Alert
from gongshu.cockpit.registry import IndicatorContext, IndicatorSpec, indicators
from gongshu.cockpit.schemas import IndicatorUpdate
from gongshu.warehouse import Warehouse
from tests.factories import SYSTEM, make_org

START = date(2026, 1, 1)
SERIES: dict[str, list[float]] = {}


def _from_list(code: str) -> Any:
    def compute(ctx: IndicatorContext) -> pd.DataFrame:
        values = SERIES[code]
        days = pd.date_range(START, periods=len(values), freq="D")
        return pd.DataFrame({"period": days, "value": values})

    return compute


@pytest.fixture
def scripted(session: Session, warehouse: Warehouse) -> Iterator[Any]:
    """An indicator whose values the test writes, day by day."""
    make_org(session, "SJJ", name="示例市数据局")
    spec = IndicatorSpec(
        code="test.level",
        name="测试水位",
        unit="米",
        topic="城市管理",
        owner_org="SJJ",
        compute=_from_list("test.level"),
    )
    indicators.register("test_alerts", [spec])

    def run(values: list[float], **thresholds: Any) -> list[Alert]:
        SERIES["test.level"] = values
        until = START + timedelta(days=len(values) - 1)
        service.sync_builtins(session)
        if thresholds:
            service.update_indicator(session, SYSTEM, "test.level", IndicatorUpdate(**thresholds))
        service.refresh(session, warehouse, until=until, codes=["test.level"], forecast=False)
        session.expire_all()
        return list(session.scalars(select(Alert).order_by(Alert.id)))

    yield run
    indicators._load().pop("test_alerts", None)
    SERIES.clear()


def test_upper_crossing_opens_one_alert_and_repeats_are_merged(
    scripted: Any, session: Session
) -> None:
    base = [10.0] * 10
    assert scripted(base, upper=12.0) == []
    alerts = scripted([*base, 13.0])
    assert [(a.rule, a.level) for a in alerts] == [("upper", "yellow")]
    assert alerts[0].value == 13.0 and alerts[0].threshold == 12.0
    assert "超过上限" in alerts[0].message
    # Two more days above the line: still one alert, counted three times, level raised.
    alerts = scripted([*base, 13.0, 14.0, 15.0])
    assert [(a.rule, a.occurrences, a.level) for a in alerts] == [("upper", 3, "orange")]
    assert alerts[0].detail["values"][-3:] == [13.0, 14.0, 15.0]
    # Recomputing the same days opens nothing new.
    assert len(scripted([*base, 13.0, 14.0, 15.0])) == 1
    # Once closed, the next crossing is a new alert.
    service.close(session, SYSTEM, alerts[0].id, "已排查，泵站故障已修复")
    alerts = scripted([*base, 13.0, 14.0, 15.0, 12.5])
    assert [(a.status, a.rule) for a in alerts] == [("closed", "upper"), ("open", "upper")]


def test_lower_bound_and_level_by_distance(scripted: Any) -> None:
    alerts = scripted([10.0] * 5 + [4.0], lower=9.0)
    assert [(a.rule, a.level) for a in alerts] == [("lower", "red")]  # 56% below the bound


def test_rate_of_change(scripted: Any) -> None:
    assert scripted([10.0] * 8 + [14.0], rate_pct=50.0) == []  # +40%: below the limit
    alerts = scripted([10.0] * 8 + [14.0, 22.0])  # +57%
    assert [(a.rule, a.level) for a in alerts] == [("rate", "yellow")]
    assert "上升57.1%" in alerts[0].message
    alerts = scripted([10.0] * 8 + [14.0, 22.0, 6.0])  # -73%: same open alert
    assert len(alerts) == 1 and alerts[0].occurrences == 2


def test_consecutive_periods(scripted: Any) -> None:
    values = [10.0] * 8
    assert scripted([*values, 12.5, 12.4], upper=12.0, consecutive=3) == [
        a for a in scripted([*values, 12.5, 12.4]) if a.rule != "consecutive"
    ]
    alerts = scripted([*values, 12.5, 12.4, 12.6])
    rules = {a.rule: a for a in alerts}
    assert set(rules) == {"upper", "consecutive"}
    assert rules["consecutive"].level == "orange" and "连续3期" in rules["consecutive"].message
    # A break resets the run; the open alert stays one alert.
    alerts = scripted([*values, 12.5, 12.4, 12.6, 11.0, 12.3])
    assert sum(a.rule == "consecutive" for a in alerts) == 1


def test_forecast_breach_and_predicted_crossing(
    scripted: Any, session: Session, warehouse: Warehouse
) -> None:
    rng = np.random.default_rng(3)
    weekly = np.array([5.0, 6, 4, 0, -2, -7, -6])
    history = list(100 + weekly[np.arange(120) % 7] + rng.normal(0, 1, 120))
    SERIES["test.level"] = history
    service.sync_builtins(session)
    service.refresh(session, warehouse, until=START + timedelta(days=119), codes=["test.level"])
    # The next day lands far outside the interval forecast for it.
    alerts = scripted([*history, 160.0])
    assert [a.rule for a in alerts] == ["forecast"]
    assert alerts[0].level == "blue" and "高于预测区间" in alerts[0].message
    # A forecast that runs into the upper bound warns ahead of time.
    service.update_indicator(session, SYSTEM, "test.level", IndicatorUpdate(upper=104.0))
    ind = service.get_indicator(session, SYSTEM, "test.level")
    points = service.run_forecasts(session, [ind])[ind]
    from gongshu.cockpit.alerts import predicted_breach

    events = predicted_breach(session, ind, points)
    assert events and events[0][0].rule == "predicted" and "预测" in events[0][0].message
