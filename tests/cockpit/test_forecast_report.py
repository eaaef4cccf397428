"""Forecasts per indicator (backtest beats naive on seasonal data) and the daily log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gongshu.cockpit import report, service
from gongshu.config import Settings, get_settings
from gongshu.orgs.models import Org
from gongshu.warehouse import Warehouse
from tests.cockpit.conftest import END, City, make_city
from tests.conftest import login
from tests.factories import PASSWORD, SYSTEM, make_user


def test_backtest_on_weekly_seasonal_indicator_beats_naive(city: City) -> None:
    bus = city.indicator("traffic.bus")  # strong weekday/weekend pattern
    result = service.refresh(city.session, city.warehouse, until=city.end, evaluate=False)
    assert result.forecasts >= 1
    city.session.refresh(bus)
    assert bus.forecast_model in {"snaive", "hw_add", "hw_mul"}
    assert bus.forecast_mape is not None and bus.naive_mape is not None
    assert bus.forecast_mape < bus.naive_mape / 2
    points = service.forecast_points(city.session, bus)
    assert len(points) == service.HORIZON["day"]
    assert points[0].period.date() == city.end + timedelta(days=1)
    assert all(p.lower <= p.forecast <= p.upper for p in points)


@pytest.fixture
def logged_city(session: Session, warehouse: Warehouse) -> City:
    c = make_city(session, warehouse, 200)
    for code in ("city.hotline", "eco.aqi", "traffic.bus", "gov.hotline_satisfaction"):
        c.indicator(code)
    service.refresh(session, warehouse, until=c.end, window=10)
    return c


def test_daily_log_mentions_the_injected_anomaly_of_that_day(logged_city: City) -> None:
    s = logged_city.session
    r = report.generate(s, END)
    c = r.content
    text = " ".join([c["summary"], *(p for t in c["topics"] for p in t["paragraphs"])])
    # demo_data.ANOMALIES: the 12345 hotline doubles on the last day (a rainstorm).
    assert "12345热线工单量出现异常" in text
    assert "明显高于模型预期" in text
    city_mgmt = next(t for t in c["topics"] if t["topic"] == "城市管理")
    assert any(
        f["code"] == "city.hotline" and f.get("anomaly") == "above" for f in city_mgmt["figures"]
    )
    # The log says what moved, and alerts and forecasts are in it.
    assert "较前一日上升" in text and "较上周同日" in text
    assert "预计未来7天" in text
    assert "12345热线工单量" in c["alerts"]["paragraph"]
    assert c["generated_by"] == "template"
    # A day without injected anomalies does not claim one for the hotline.
    quiet = report.generate(s, END - timedelta(days=10)).content
    assert "12345热线工单量出现异常" not in " ".join(
        p for t in quiet["topics"] for p in t["paragraphs"]
    )


def test_report_cli_regenerates_a_day(
    logged_city: City, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gongshu.cli import app

    monkeypatch.setenv("GONGSHU_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GONGSHU_DATA_DIR", str(Path(settings.data_dir)))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["report", "daily", "--date", END.isoformat()])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "城市运行日志" in result.output
    logged_city.session.expire_all()
    assert report.get_report(logged_city.session, SYSTEM, END).content["day"] == END.isoformat()


def test_report_pages_for_leaders_only(logged_city: City, client: TestClient) -> None:
    report.generate(logged_city.session, END)
    make_user(logged_city.session, "leader1", role="leader")
    cgj = logged_city.session.get(Org, logged_city.orgs["CGJ"])
    make_user(logged_city.session, "cgj_officer", org=cgj)
    login(client, "leader1", PASSWORD)
    page = client.get(f"/cockpit/reports/{END.isoformat()}")
    assert page.status_code == 200 and "12345热线工单量出现异常" in page.text
    assert "window.print()" in page.text
    assert "@media print" in client.get("/static/cockpit/cockpit.css").text  # print-ready
    assert END.isoformat() in client.get("/cockpit/reports").text
    client.post("/logout", data={"csrf_token": client.headers["X-CSRF-Token"]})
    login(client, "cgj_officer", PASSWORD)
    assert client.get(f"/cockpit/reports/{END.isoformat()}").status_code == 403
    assert client.get("/api/v1/cockpit/reports").status_code == 403
