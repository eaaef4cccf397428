"""The public portal and the developer row API: anonymous browsing, search facets,
preview filters, downloads, keyset pagination, rate limits, call log, community, KPIs."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongshu.config import Settings
from gongshu.opendata import service
from gongshu.opendata.models import OpenCall
from gongshu.opendata.schemas import AnswerIn, KeyListEntryIn, RequestIn
from gongshu.warehouse import shared as warehouse
from tests.conftest import login
from tests.factories import PASSWORD, make_org, make_user
from tests.opendata.helpers import ADMIN, bus_resource, bus_rows, load, officer, publish


@pytest.fixture
def ds(session: Session, settings: Settings) -> Any:
    wh = warehouse(settings.warehouse_url)
    org = make_org(session, "JTJ", name="交通局")
    res = bus_resource(session, org)
    load(wh, res.code, bus_rows(300))
    return publish(session, wh, org, res)


def _developer_key(client: TestClient) -> str:
    reg = client.post(
        "/api/v1/open/register",
        json={"username": "dev9", "display_name": "开发者", "password": "Passw0rd-dev"},
    )
    assert reg.status_code == 201 and reg.json()["role"] == "public"
    login(client, "dev9", "Passw0rd-dev")
    key = client.post("/api/v1/open/keys", json={"name": "我的应用"}).json()["key"]
    client.cookies.clear()
    client.headers.pop("X-CSRF-Token", None)
    return key


def test_portal_pages_are_public(client: TestClient, ds: Any) -> None:
    home = client.get("/open")
    assert home.status_code == 200 and "公交线路" in home.text and "搜索" in home.text
    found = client.get("/open/search", params={"q": "公交", "domain": "交通运输"})
    assert "找到 1 个数据集" in found.text
    none = client.get("/open/search", params={"q": "公交", "domain": "医疗卫生"})
    assert "找到 0 个数据集" in none.text
    page = client.get(f"/open/datasets/{ds.id}")
    assert page.status_code == 200
    for part in ("数据字典", "驾驶员姓名", "quick-chart", "download-csv", "datastore_search"):
        assert part in page.text
    assert "driver_id" not in page.text  # an unpublished item is not even named
    preview = client.get(
        f"/open/datasets/{ds.id}/preview",
        params={"col": "line_name", "op": "eq", "value": "42路"},
    )
    assert "共 1 条" in preview.text and "42路" in preview.text
    sorted_ = client.get(
        f"/open/datasets/{ds.id}/preview", params={"sort": "line_id", "desc": "true"}
    )
    assert sorted_.text.index("300路") < sorted_.text.index("299路")
    assert client.get(f"/open/orgs/{ds.org_id}").status_code == 200
    for url in ("/open/reuses", "/open/requests", "/open/key-list", "/open/register"):
        assert client.get(url).status_code == 200, url
    assert client.get("/open/datasets/999").status_code == 404


def test_downloads_in_every_format(client: TestClient, ds: Any) -> None:
    csv = client.get(f"/api/v1/open/datasets/{ds.id}/download?format=csv")
    assert csv.content.startswith(b"\xef\xbb\xbf")
    assert csv.headers["content-disposition"].endswith('.csv"')
    assert len(csv.content.decode("utf-8-sig").splitlines()) == 301
    pq_bytes = client.get(f"/api/v1/open/datasets/{ds.id}/download?format=parquet").content
    table = pq.read_table(io.BytesIO(pq_bytes))
    assert table.num_rows == 300 and "driver_id" not in table.column_names
    wb = openpyxl.load_workbook(
        io.BytesIO(client.get(f"/api/v1/open/datasets/{ds.id}/download?format=xlsx").content)
    )
    assert wb.active.max_row == 301 and wb.active["A1"].value == "线路编号"
    lines = client.get(f"/api/v1/open/datasets/{ds.id}/download?format=jsonl").text.splitlines()
    assert len(lines) == 300
    assert client.get(f"/api/v1/open/datasets/{ds.id}/download?format=exe").status_code == 422


def test_row_api_keyset_filters_fields_and_call_log(
    client: TestClient, session: Session, ds: Any
) -> None:
    assert client.get(f"/api/v1/open/datasets/{ds.id}/rows").status_code == 401  # key required
    key = _developer_key(client)
    h = {"Authorization": f"Bearer {key}"}
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 70, "sort": "fare desc", "fields": "line_id,fare"}
        if cursor:
            params["cursor"] = cursor
        body = client.get(f"/api/v1/open/datasets/{ds.id}/rows", params=params, headers=h).json()
        assert all(set(r) == {"line_id", "fare"} for r in body["records"])
        seen += [r["line_id"] for r in body["records"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == list(range(1, 301)) and len(seen) == 300  # no gaps, no repeats
    f = client.get(
        f"/api/v1/open/datasets/{ds.id}/rows",
        params={"filters": '{"stops": {"ge": 50}, "fare": [1.0, 3.0]}'},
        headers=h,
    ).json()
    assert f["total"] and all(r["stops"] >= 50 and r["fare"] in (1.0, 3.0) for r in f["records"])
    bad = client.get(
        f"/api/v1/open/datasets/{ds.id}/rows",
        params={"filters": '{"stops": {"ge": "x"}}'},
        headers=h,
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_filter"
    assert (
        client.get(
            f"/api/v1/open/datasets/{ds.id}/rows", params={"cursor": "!!"}, headers=h
        ).status_code
        == 422
    )
    assert (
        client.get(
            f"/api/v1/open/datasets/{ds.id}/rows", headers={"Authorization": "Bearer od_deadbeef_x"}
        ).status_code
        == 401
    )
    client.get(f"/api/v1/open/datasets/{ds.id}/download")
    session.expire_all()
    kinds = dict(
        session.execute(
            select(OpenCall.kind, func.count())
            .where(OpenCall.dataset_id == ds.id)
            .group_by(OpenCall.kind)
        ).all()
    )
    assert kinds["api"] == 10 and kinds["download"] == 1  # refused calls are logged too
    st = client.get("/api/v1/open/stats").json()
    assert st["downloads"] == 1 and st["by_day"][-1]["api"] == 6  # successful ones
    assert st["datasets"] == 1 and st["records"] == 300


def test_rate_limit_per_key(client: TestClient, session: Session, ds: Any) -> None:
    key = _developer_key(client)
    session.execute(service.update(service.OpenAppKey).values(rate_per_min=3))
    session.commit()
    h = {"Authorization": f"Bearer {key}"}
    codes = [
        client.get(f"/api/v1/open/datasets/{ds.id}/rows?limit=1", headers=h).status_code
        for _ in range(5)
    ]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]


def test_community_requests_key_list_and_kpis(
    client: TestClient, session: Session, ds: Any
) -> None:
    user = make_user(session, "citizen1", role="public")
    login(client, "citizen1", PASSWORD)
    c = client.post(
        f"/api/v1/open/datasets/{ds.id}/comments", json={"kind": "question", "body": "多久更新？"}
    )
    assert c.status_code == 201
    assert client.post(f"/api/v1/open/datasets/{ds.id}/rating", json={"stars": 4}).json() == {
        "rating_count": 1,
        "rating_avg": 4.0,
    }
    reuse = client.post(
        "/api/v1/open/reuses",
        json={"title": "公交通", "description": "查公交", "author": "我", "dataset_ids": [ds.id]},
    )
    assert reuse.json()["status"] == "pending"
    service.review_reuse(session, ADMIN, reuse.json()["id"], True)
    assert [r["title"] for r in client.get(f"/api/v1/open/datasets/{ds.id}/reuses").json()] == [
        "公交通"
    ]
    # The owner org answers the question; another org cannot.
    other = make_org(session, "WJW", name="卫健委")
    with pytest.raises(service.NotFound):
        service.reply_comment(session, officer(other), c.json()["id"], "x")
    org = session.get(service.Org, ds.org_id)
    service.reply_comment(session, officer(org), c.json()["id"], "每日凌晨更新")
    assert "每日凌晨更新" in client.get(f"/open/datasets/{ds.id}").text
    # A data request is answered and linked to the dataset.
    req = service.submit_request(
        session,
        service.Principal.anonymous(),
        RequestIn(title="公交数据", description="需要", requester="市民", org_id=ds.org_id),
    )
    service.answer_request(
        session,
        officer(org),
        req.id,
        AnswerIn(answer="已开放", outcome="opened", dataset_id=ds.id),
    )
    assert "已答复" in client.get("/open/requests").text
    # Key list: published / promised / overdue.
    year = service.local_today().year
    for title, res_id, due in (
        ("公交线路", ds.resource_id, date(year, 12, 31)),
        ("网约车", None, date(year, 12, 31)),
        ("噪声", None, service.local_today() - timedelta(days=1)),
    ):
        service.add_key_list_entry(
            session,
            ADMIN,
            KeyListEntryIn(
                year=year,
                org_id=ds.org_id,
                title=title,
                domain="交通运输",
                resource_id=res_id,
                due_date=due,
            ),
        )
    statuses = {r["title"]: r["status"] for r in client.get("/api/v1/open/key-list").json()}
    assert statuses == {"公交线路": "published", "网约车": "promised", "噪声": "overdue"}
    kpis = client.get("/api/v1/open/kpis").json()
    assert kpis["open_datasets"] == 1 and kpis["key_list_published"] == 1
    assert kpis["key_list_overdue"] == 1 and kpis["reuses"] == 1
    assert kpis["requests_answer_rate"] == 1.0 and kpis["metadata_score_avg"] >= 80
    assert user.id
