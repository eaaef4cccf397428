"""The cockpit's pages and JSON API: screens, library, indicator page, alert handling."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gongshu.cockpit import service
from gongshu.orgs.models import Org
from gongshu.warehouse import Warehouse
from tests.cockpit.conftest import City, make_city
from tests.conftest import login
from tests.factories import PASSWORD, SYSTEM, make_user


def _city_with_alerts(session: Session, warehouse: Warehouse) -> City:
    c = make_city(session, warehouse, 90)
    for code in ("city.hotline", "eco.aqi", "traffic.bus", "gov.hotline_satisfaction"):
        c.indicator(code)
    service.refresh(session, warehouse, until=c.end, window=5)
    return c


def test_screen_library_indicator_and_alert_handling(
    session: Session, warehouse: Warehouse, client: TestClient
) -> None:
    city = _city_with_alerts(session, warehouse)
    make_user(session, "leader1", role="leader")
    login(client, "leader1", PASSWORD)

    data = client.get("/api/v1/cockpit/screen").json()
    assert len(data["cards"]) >= 4 and all(c["value"] is not None for c in data["cards"])
    assert data["lines"] and len(data["lines"][0]["values"]) > 30
    assert len(data["map"]["items"]) == 6 and data["pie"]["items"] and data["bar"]["items"]
    assert data["alerts"]["total"] >= 1
    page = client.get("/cockpit/screen")
    assert page.status_code == 200 and "示例市城市运行驾驶舱" in page.text
    assert client.get("/cockpit/screen", params={"topic": "eco"}).status_code == 200

    library = client.get("/cockpit/indicators").text
    assert "12345热线工单量" in library and "city_hotline_ticket" in library
    assert "已编目数据资源数" in library  # a built-in, registered by entry point
    ind_page = client.get("/cockpit/indicators/city.hotline")
    assert ind_page.status_code == 200 and "受限 SQL 定义" in ind_page.text
    values = client.get("/api/v1/cockpit/indicators/traffic.bus/values").json()
    assert values["backtest"]["mape"] < values["backtest"]["naive_mape"]

    alert = next(
        a for a in data["alerts"]["items"] if a["status"] == "open" and "12345" in a["message"]
    )
    assert client.get(f"/cockpit/alerts/{alert['id']}").status_code == 200
    acked = client.post(f"/api/v1/cockpit/alerts/{alert['id']}/ack", json={})
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    no_note = client.post(f"/api/v1/cockpit/alerts/{alert['id']}/close", json={})
    assert no_note.status_code == 422 and "处置说明" in no_note.json()["error"]["message"]
    closed = client.post(
        f"/api/v1/cockpit/alerts/{alert['id']}/close", json={"note": "已通知热线中心增派坐席"}
    )
    assert closed.json()["status"] == "closed" and closed.json()["closed_by"] == "leader1"
    assert client.post(f"/api/v1/cockpit/alerts/{alert['id']}/ack", json={}).status_code == 422
    assert city.end.isoformat()[:4] in data["updated"]


def test_officers_see_their_orgs_indicators_and_consumers_none(
    session: Session, warehouse: Warehouse, client: TestClient
) -> None:
    city = _city_with_alerts(session, warehouse)
    make_user(session, "eco_officer", org=session.get(Org, city.orgs["STHJJ"]))
    make_user(session, "app1", role="consumer", org=session.get(Org, city.orgs["SJJ"]))
    login(client, "eco_officer", PASSWORD)
    codes = {i["code"] for i in client.get("/api/v1/cockpit/indicators").json()}
    assert codes == {"eco.aqi"}
    assert client.get("/cockpit/indicators/city.hotline").status_code == 404
    alerts = client.get("/api/v1/cockpit/alerts").json()["items"]
    assert all(
        a["indicator_id"] == service.get_indicator(session, SYSTEM, "eco.aqi").id for a in alerts
    )
    assert client.post("/api/v1/cockpit/refresh", json={}).status_code == 403
    client.post("/logout", data={"csrf_token": client.headers["X-CSRF-Token"]})
    login(client, "app1", PASSWORD)
    assert client.get("/api/v1/cockpit/screen").status_code == 403
