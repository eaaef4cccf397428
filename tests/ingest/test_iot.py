"""物联感知: device keys, spooled readings, micro-batch loads, no loss on graceful restart."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gongshu.app import create_app
from gongshu.config import Settings
from gongshu.warehouse import connect, table_name_for
from tests.catalog.helpers import make_resource
from tests.conftest import login
from tests.factories import PASSWORD, make_user

AIR_ITEMS = [
    {"name": "设备编号", "column": "sbbh", "data_type": "字符串", "length": 32, "is_key": True},
    {"name": "采集时间", "column": "cjsj", "data_type": "日期时间", "is_key": True},
    {"name": "PM2.5浓度", "column": "pm25", "data_type": "小数", "length": 8},
]


@pytest.fixture
def air(session: Session, org: Any) -> Any:
    return make_resource(session, org, publish=True, name="空气质量监测", items=AIR_ITEMS)


def readings(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"sbbh": "spoofed", "cjsj": f"2024-05-01 {h // 60:02d}:{h % 60:02d}:00", "pm25": 10 + h}
        for h in range(start, start + n)
    ]


def rows(settings: Settings, code: str) -> list[dict[str, Any]]:
    with connect(settings.warehouse_url) as wh:
        t = wh.table(table_name_for(code))
        return wh.to_pyarrow(t.order_by(t.cjsj)).to_pylist()


def test_readings_survive_graceful_restart_at_least_once(
    settings: Settings, session: Session, org: Any, air: Any
) -> None:
    make_user(session, "gaj_officer", org=org)
    with TestClient(create_app(settings)) as client:
        login(client, "gaj_officer", PASSWORD)
        created = client.post(
            "/api/v1/ingest/devices",
            json={"resource_id": air.id, "code": "AQ-001", "name": "越城站"},
        )
        assert created.status_code == 201, created.text
        key = created.json()["key"]
        assert client.post("/api/v1/ingest/iot/readings", json=readings(3)).status_code == 401
        bad = client.post(
            "/api/v1/ingest/iot/readings", json=readings(3), headers={"X-Device-Key": key + "x"}
        )
        assert bad.status_code == 401 and bad.json()["error"]["message"] == "设备密钥无效"
        ok = client.post(
            "/api/v1/ingest/iot/readings",
            json={"readings": readings(5)},
            headers={"X-Device-Key": key},
        )
        assert ok.status_code == 202 and ok.json() == {"accepted": 5}
        # A retry of the same batch (at-least-once) plus new readings, then shut down
        # before any flush: the graceful shutdown must load everything.
        again = client.post(
            "/api/v1/ingest/iot/readings", json=readings(5, start=3), headers={"X-Device-Key": key}
        )
        assert again.status_code == 202
        assert not (settings.data_dir / "warehouse.duckdb").exists() or not rows_exist(
            settings, air.code
        )
    data = rows(settings, air.code)
    assert len(data) == 8  # readings 0..7, the overlap replaced, not duplicated
    assert {r["sbbh"] for r in data} == {"AQ-001"}  # the server names the device
    assert data[0]["pm25"] == 10.0
    # Revoked keys are refused.
    with TestClient(create_app(settings)) as client:
        login(client, "gaj_officer", PASSWORD)
        device_id = client.get("/api/v1/ingest/devices").json()[0]["id"]
        assert client.post(f"/api/v1/ingest/devices/{device_id}/revoke").status_code == 200
        gone = client.post(
            "/api/v1/ingest/iot/readings", json=readings(1), headers={"X-Device-Key": key}
        )
        assert gone.status_code == 401 and "吊销" in gone.json()["error"]["message"]
        loads = client.get("/api/v1/ingest/loads").json()["items"]
        assert loads and all(ld["kind"] == "iot" and ld["status"] == "succeeded" for ld in loads)


def rows_exist(settings: Settings, code: str) -> bool:
    return False  # the server holds the DuckDB file while it runs; checked after shutdown


def test_flush_loads_bad_readings_as_rejects(
    settings: Settings, session: Session, org: Any, air: Any
) -> None:
    make_user(session, "gaj_officer", org=org)
    with TestClient(create_app(settings)) as client:
        login(client, "gaj_officer", PASSWORD)
        key = client.post(
            "/api/v1/ingest/devices",
            json={"resource_id": air.id, "code": "AQ-002", "name": "柯桥站"},
        ).json()["key"]
        batch = [*readings(2), {"cjsj": "not a time", "pm25": "x"}]
        client.post("/api/v1/ingest/iot/readings", json=batch, headers={"X-Device-Key": key})
        loads = client.app.state.ingest.iot.flush()
        assert [(ld.rows_accepted, ld.rows_rejected) for ld in loads] == [(2, 1)]
        rejects = client.get(f"/api/v1/ingest/loads/{loads[0].id}/rejects").json()
        assert "不是有效日期时间" in rejects[0]["reason"]
        too_many = client.post(
            "/api/v1/ingest/iot/readings", json=readings(6000), headers={"X-Device-Key": key}
        )
        assert too_many.status_code == 422
