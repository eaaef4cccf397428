"""The web shell: health, metrics, OpenAPI, static assets, errors, offline pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gongshu.config import Settings
from tests.conftest import login
from tests.factories import PASSWORD, make_org, make_user

EXTERNAL = re.compile(r"""(?:src|href)=["']?(?:https?:)?//""", re.I)


def test_health_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    client.get("/api/v1/orgs")
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert (
        'gongshu_http_requests_total{method="GET",route="/api/v1/orgs",status="401"}'
        in metrics.text
    )
    assert "gongshu_http_request_seconds_bucket" in metrics.text


def test_openapi_lists_domain_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/orgs" in spec["paths"] and "/api/v1/keys" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_vendor_assets_are_served_locally(client: TestClient) -> None:
    htmx = client.get("/static/vendor/htmx.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text[:5000]
    echarts = client.get("/static/vendor/echarts.min.js")
    assert echarts.status_code == 200 and len(echarts.content) > 500_000
    assert client.get("/static/css/app.css").status_code == 200


def test_unknown_routes_get_chinese_errors(client: TestClient) -> None:
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404 and api.json()["error"]["message"] == "页面或资源不存在"
    page = client.get("/nothing-here", headers={"accept": "text/html"})
    assert page.status_code == 404 and "页面或资源不存在" in page.text
    method = client.delete("/healthz")
    assert method.status_code == 405 and method.json()["error"]["code"] == "http_405"


def test_pages_reference_nothing_outside(client: TestClient, session: Session) -> None:
    org = make_org(session, "PG1", name="页面测试局")
    make_user(session, "pager", role="admin")
    login(client, "pager", PASSWORD)
    for path in (
        "/login",
        "/",
        "/orgs",
        f"/orgs/{org.id}",
        "/orgs/new",
        "/systems",
        "/systems/new",
        "/keys",
        "/users",
        "/audit",
        "/audit?verify=1",
    ):
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert not EXTERNAL.search(resp.text), path
        assert 'lang="zh-CN"' in resp.text
    assert "页面测试局" in client.get("/").text
    assert "审计链完整" in client.get("/audit?verify=1").text


def test_settings_from_environment(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GONGSHU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GONGSHU_PORT", "9001")
    s = Settings()
    assert s.port == 9001
    assert s.database_url == f"sqlite:///{tmp_path.as_posix()}/gongshu.db"
    assert s.warehouse_url == f"duckdb:///{tmp_path.as_posix()}/warehouse.duckdb"
    monkeypatch.setenv("GONGSHU_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert Settings().database_url == "postgresql+psycopg://u@h/db"
