"""Chinese full-text search, facets, item-level hits and visibility."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from gongshu.catalog import search, service
from gongshu.catalog.models import Resource
from tests.catalog.helpers import ADMIN, make_resource, officer
from tests.factories import make_org

CREDIT = {
    "name": "统一社会信用代码",
    "column": "tyshxydm",
    "length": 18,
    "data_element": "统一社会信用代码",
    "is_key": True,
}


@pytest.fixture
def city(session: Session) -> dict[str, Any]:
    gaj = make_org(session, "GAJ", name="示例市公安局")
    scj = make_org(session, "SCJGJ", name="示例市市场监督管理局")
    hb = make_org(session, "STHJJ", name="示例市生态环境局")
    out = {"gaj": gaj, "scj": scj, "hb": hb}
    out["pop"] = make_resource(session, gaj, publish=True)
    out["legal"] = make_resource(
        session,
        scj,
        publish=True,
        name="法人基本信息",
        summary="全市市场主体登记信息",
        domain="信用服务",
        share_type="无条件共享",
        share_condition=None,
        open_type="受限开放",
        open_reason="申请后开放",
        grade="L2",
        items=[CREDIT, {"name": "企业名称", "column": "qymc", "length": 200}],
    )
    out["penalty"] = make_resource(
        session,
        scj,
        publish=True,
        name="行政处罚信息",
        summary="市场监管行政处罚决定公示",
        domain="信用服务",
        share_type="无条件共享",
        share_condition=None,
        open_type="无条件开放",
        open_reason=None,
        grade="L1",
        update_cycle="每周",
        items=[
            {"name": "处罚决定书文号", "column": "cfjdswh", "length": 100, "is_key": True},
            CREDIT | {"is_key": False},
        ],
    )
    out["air"] = make_resource(
        session,
        hb,
        publish=True,
        name="空气质量监测信息",
        summary="国控站点逐小时 PM2.5 与臭氧监测",
        domain="资源环境",
        share_type="无条件共享",
        share_condition=None,
        open_type="无条件开放",
        open_reason=None,
        grade="L1",
        update_cycle="实时",
        items=[
            {"name": "监测站点编码", "column": "jczdbm", "length": 20},
            {"name": "空气质量指数", "column": "aqi", "data_type": "整数"},
        ],
    )
    out["draft"] = make_resource(
        session, scj, name="企业年报信息", summary="企业年度报告", domain="经济建设", items=[CREDIT]
    )
    return out


def names(result: search.SearchResult) -> list[str]:
    return [r.name for r in result.resources]


def test_chinese_queries(session: Session, city: dict[str, Any]) -> None:
    assert names(search.search(session, ADMIN, q="人口信息")) == ["人口基本信息"]
    assert names(search.search(session, ADMIN, q="空气质量")) == ["空气质量监测信息"]
    assert names(search.search(session, ADMIN, q="行政处罚")) == ["行政处罚信息"]
    # Summary words and item names match too; name matches rank first.
    hits = names(search.search(session, ADMIN, q="统一社会信用代码"))
    assert set(hits) == {"法人基本信息", "行政处罚信息", "企业年报信息"}
    assert names(search.search(session, ADMIN, q="臭氧")) == ["空气质量监测信息"]
    assert search.search(session, ADMIN, q="火星基地").total == 0
    # Codes and column names are searchable.
    assert names(search.search(session, ADMIN, q=city["air"].code)) == ["空气质量监测信息"]
    assert names(search.search(session, ADMIN, q="tyshxydm"))[0] in {
        "法人基本信息",
        "行政处罚信息",
        "企业年报信息",
    }


def test_facets_are_grouped_counts_without_their_own_filter(
    session: Session, city: dict[str, Any]
) -> None:
    r = search.search(session, ADMIN, filters={"share_type": ["无条件共享"]})
    assert r.total == 3
    share = {f.value: f.count for f in r.facets["share_type"]}
    assert share == {"无条件共享": 3, "有条件共享": 2}  # own filter not applied
    assert {f.value: f.count for f in r.facets["open_type"]} == {"无条件开放": 2, "受限开放": 1}
    r = search.search(
        session, ADMIN, q="信息", filters={"org": [str(city["scj"].id)], "status": ["published"]}
    )
    assert sorted(names(r)) == ["法人基本信息", "行政处罚信息"]
    assert {f.value: f.count for f in r.facets["grade"]} == {"L1": 1, "L2": 1}
    assert {f.value: f.count for f in r.facets["update_cycle"]} == {"每日": 1, "每周": 1}
    assert {f.value: f.count for f in r.facets["domain"]} == {"信用服务": 2}
    assert [f.selected for f in r.facets["org"] if f.value == str(city["scj"].id)] == [True]


def test_item_level_hits(session: Session, city: dict[str, Any]) -> None:
    r = search.search(session, ADMIN, q="统一社会信用代码")
    for res in r.resources:
        assert [i.column for i in r.item_hits[res.id]] == ["tyshxydm"]
    found = search.search_items(session, ADMIN, "统一社会信用代码", exact=True)
    assert sorted(r.name for _, r in found.rows) == ["企业年报信息", "法人基本信息", "行政处罚信息"]
    fuzzy = search.search_items(session, ADMIN, "哪些资源有字段叫监测站点编码")
    assert [i.column for i, _ in fuzzy.rows] == ["jczdbm"]


def test_visibility(session: Session, city: dict[str, Any]) -> None:
    gaj_officer = officer(city["gaj"])
    r = search.search(session, gaj_officer, q="统一社会信用代码")
    assert "企业年报信息" not in names(r)  # another org's draft stays private
    assert search.search_items(session, gaj_officer, "统一社会信用代码", exact=True).total == 2
    scj_officer = officer(city["scj"])
    assert "企业年报信息" in names(search.search(session, scj_officer, q="企业年报"))


def test_index_follows_revisions_and_rebuild(session: Session, city: dict[str, Any]) -> None:
    air: Resource = city["air"]
    off = officer(city["hb"])
    data = service.to_input(session, air).model_copy(update={"name": "环境空气自动监测数据"})
    service.update_resource(session, off, air.id, data)
    assert names(search.search(session, ADMIN, q="自动监测")) == []  # revision not live yet
    service.submit_resource(session, off, air.id)
    service.approve_resource(session, ADMIN, air.id)
    assert names(search.search(session, ADMIN, q="自动监测")) == ["环境空气自动监测数据"]
    assert search.rebuild(session) == 5
    session.commit()
    assert names(search.search(session, ADMIN, q="自动监测")) == ["环境空气自动监测数据"]
    assert search.search(session, ADMIN, q="人口").total == 1


def test_api_search(client: Any, session: Session, city: dict[str, Any]) -> None:
    from tests.conftest import login
    from tests.factories import PASSWORD, make_user

    make_user(session, "hb_off", org=city["hb"])
    login(client, "hb_off", PASSWORD)
    body = client.get("/api/v1/catalog/resources", params={"q": "统一社会信用代码"}).json()
    assert {i["name"] for i in body["items"]} == {"法人基本信息", "行政处罚信息"}
    assert all(i["item_hits"][0]["column"] == "tyshxydm" for i in body["items"])
    items = client.get(
        "/api/v1/catalog/items", params={"q": "统一社会信用代码", "exact": True}
    ).json()
    assert items["total"] == 2
    page = client.get("/catalog/resources", params={"q": "统一社会信用代码"})
    assert (
        page.status_code == 200 and "法人基本信息" in page.text and "企业年报信息" not in page.text
    )
    page = client.get("/catalog/resources", params={"q": "统一社会信用代码", "mode": "items"})
    assert "tyshxydm" in page.text
