"""Indicator computation: SQL and Ibis definitions, rollups, incremental = full."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from gongshu.cockpit import demo_data, service
from gongshu.cockpit.models import IndicatorValue
from gongshu.cockpit.registry import IndicatorContext, IndicatorSpec, SourceNotDeclared, indicators
from gongshu.cockpit.schemas import IndicatorIn
from gongshu.errors import ValidationFailed
from tests.cockpit.conftest import City
from tests.factories import SYSTEM

CODES = ["city.hotline", "gov.hotline_satisfaction", "eco.aqi", "econ.electricity_month"]


def _values(city: City) -> list[tuple[Any, ...]]:
    city.session.expire_all()
    rows = city.session.execute(
        select(
            IndicatorValue.indicator_id,
            IndicatorValue.period,
            IndicatorValue.district,
            IndicatorValue.org,
            IndicatorValue.value,
        ).order_by(
            IndicatorValue.indicator_id,
            IndicatorValue.period,
            IndicatorValue.district,
            IndicatorValue.org,
        )
    ).all()
    return [(*r[:4], round(r[4], 9)) for r in rows]


def test_incremental_recomputation_equals_full_recomputation(city: City) -> None:
    for code in CODES:
        city.indicator(code)
    first = service.refresh(
        city.session, city.warehouse, until=city.end, forecast=False, evaluate=False
    )
    assert first.computed >= len(CODES) and not first.failed
    # A new day arrives (an incremental load), then an incremental recompute ...
    new_day = city.end + timedelta(days=1)
    demo_data.load_days(city.warehouse, new_day, new_day, anomaly_end=city.end, full=False)
    inc = service.refresh(
        city.session, city.warehouse, until=new_day, forecast=False, evaluate=False
    )
    assert inc.values < first.values / 10  # only the new and the last stored periods
    incremental = _values(city)
    # ... must store exactly what a recompute from scratch stores.
    service.refresh(
        city.session, city.warehouse, until=new_day, full=True, forecast=False, evaluate=False
    )
    assert _values(city) == incremental
    hotline = service.get_indicator(city.session, SYSTEM, "city.hotline")
    assert hotline.last_period.date() == new_day


def test_rollups_total_districts_orgs_and_ratios(city: City) -> None:
    hotline = city.indicator("city.hotline")
    sat = city.indicator("gov.hotline_satisfaction")
    aqi = city.indicator("eco.aqi")
    monthly = city.indicator("econ.electricity_month")
    service.refresh(city.session, city.warehouse, until=city.end, forecast=False, evaluate=False)
    tickets = city.warehouse.table(demo_data.HOTLINE)
    day = tickets.filter(tickets.created_date == city.end)
    expected_total = city.warehouse.execute(day.count())
    total = service.history(city.session, hotline).iloc[-1]
    assert total == expected_total
    by_district = dict(service.breakdown(city.session, hotline, "district"))
    assert len(by_district) == 6 and sum(by_district.values()) == expected_total
    assert sum(dict(service.breakdown(city.session, hotline, "org")).values()) == expected_total
    # Ratio: 100 * sum(num) / sum(den) over all districts, not a mean of district rates.
    rated = day.filter(day.satisfied.notnull())
    num = city.warehouse.execute(rated.filter(rated.satisfied).count())
    den = city.warehouse.execute(rated.count())
    assert service.history(city.session, sat).iloc[-1] == pytest.approx(100 * num / den)
    # Mean of district AQIs; monthly sums of daily values.
    aq = city.warehouse.table("city_air_quality_daily")
    aq_day = city.warehouse.execute(aq.filter(aq.day == city.end).aqi.mean())
    assert service.history(city.session, aqi).iloc[-1] == pytest.approx(aq_day)
    ec = city.warehouse.table("city_economy_daily")
    march = ec.filter((ec.day >= city.end.replace(day=1)) & (ec.day <= city.end))
    month_sum = city.warehouse.execute(march.electricity_mwh.sum())
    assert service.history(city.session, monthly).iloc[-1] == pytest.approx(month_sum)


def _ibis_bus(ctx: IndicatorContext) -> Any:
    t = ctx.table("city_transport_daily")
    return t.select(period=t.day, district=t.district, value=t.bus_riders)


def _sneaky(ctx: IndicatorContext) -> Any:
    t = ctx.table("city_hotline_ticket")  # not declared below
    return t.select(period=t.created_date, value=1)


def test_plugin_indicators_use_ibis_and_only_their_declared_tables(city: City) -> None:
    good = IndicatorSpec(
        code="test.bus",
        name="公交客运量（Ibis）",
        topic="交通出行",
        compute=_ibis_bus,
        dimensions=("district",),
        sources=("city_transport_daily",),
    )
    bad = IndicatorSpec(
        code="test.sneaky",
        name="越权读取",
        topic="交通出行",
        compute=_sneaky,
        sources=("city_transport_daily",),
    )
    indicators.register("test_cockpit", [good, bad])
    try:
        sql_twin = city.indicator("traffic.bus")
        result = service.refresh(
            city.session, city.warehouse, until=city.end, forecast=False, evaluate=False
        )
        assert "test.sneaky" in result.failed and "test.bus" not in result.failed
        ibis_ind = service.get_indicator(city.session, SYSTEM, "test.bus")
        assert ibis_ind.builtin and ibis_ind.kind == "plugin"
        pd.testing.assert_series_equal(
            service.history(city.session, ibis_ind), service.history(city.session, sql_twin)
        )
        with pytest.raises(SourceNotDeclared):
            _sneaky(
                IndicatorContext(
                    city.session, city.warehouse, None, city.end, ("city_transport_daily",)
                )
            )
    finally:
        indicators._load().pop("test_cockpit", None)


@pytest.mark.parametrize(
    "definition",
    [
        "DELETE FROM city_air_quality_daily",
        "SELECT created_date AS period, count(*) AS value FROM city_hotline_ticket GROUP BY 1",
    ],
)
def test_service_rejects_writing_or_undeclared_definitions(city: City, definition: str) -> None:
    with pytest.raises(ValidationFailed):
        service.create_indicator(
            city.session,
            SYSTEM,
            IndicatorIn(
                code="x.bad",
                name="坏指标",
                topic="生态环境",
                definition=definition,
                sources=["city_air_quality_daily"],
            ),
        )


def _stored_forecast(city: City, ind: Any) -> list[float]:
    from gongshu.cockpit.models import ForecastPoint

    city.session.expire_all()
    return list(
        city.session.scalars(
            select(ForecastPoint.forecast)
            .where(ForecastPoint.indicator_id == ind.id)
            .order_by(ForecastPoint.period)
        )
    )


def test_incremental_refresh_refits_the_chosen_model_until_reselection(city: City) -> None:
    from gongshu.cockpit import compute
    from gongshu.cockpit.forecast import forecast

    ind = city.indicator("city.hotline")
    day_before = city.end - timedelta(days=1)
    service.refresh(city.session, city.warehouse, until=day_before, evaluate=False)
    model, selected = ind.forecast_model, ind.forecast_selected_at
    assert model and selected is not None  # the first forecast selects by full backtest
    # The next day: incremental refresh keeps the model and refits it on the new data.
    service.refresh(city.session, city.warehouse, until=city.end, evaluate=False)
    assert (ind.forecast_model, ind.forecast_selected_at) == (model, selected)
    series = compute.total_series(city.session, ind.id)
    expected = forecast(series, horizon=service.HORIZON["day"], freq="D", candidates=[model])
    assert _stored_forecast(city, ind) == pytest.approx(list(expected.forecast))
    # A week after the choice, or on a full refresh, every candidate is backtested again.
    ind.forecast_selected_at = selected - service.RESELECT_EVERY
    city.session.commit()
    service.refresh(city.session, city.warehouse, until=city.end, evaluate=False)
    assert ind.forecast_selected_at > selected
    again = ind.forecast_selected_at
    service.refresh(city.session, city.warehouse, until=city.end, full=True, evaluate=False)
    assert ind.forecast_selected_at > again
