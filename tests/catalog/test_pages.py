"""Catalog pages: forms with inline validation, review queue, import page, detail."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gongshu.catalog import service
from tests.catalog.helpers import make_resource
from tests.conftest import login
from tests.factories import PASSWORD, make_org, make_user


def form_data(csrf: str, **over: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "name": "人口基本信息",
        "summary": "全市人口基本信息",
        "classification": "基础",
        "domain": "公共安全",
        "format": "数据库",
        "update_cycle": "每日",
        "grade": "L3",
        "share_type": "有条件共享",
        "share_condition": "政务服务身份核验",
        "share_method-系统对接": "on",
        "open_type": "不予开放",
        "open_reason": "涉及个人隐私",
        "items-0-name": "姓名",
        "items-0-column": "xm",
        "items-0-data_type": "字符串",
        "items-0-length": "50",
        "items-0-is_sensitive": "on",
        "items-0-masking": "name",
        "items-1-name": "公民身份号码",
        "items-1-column": "gmsfhm",
        "items-1-data_type": "字符串",
        "items-1-length": "18",
        "items-1-is_key": "on",
        "items-1-masking": "none",
        "items-2-name": "",
        "items-2-column": "",
        "items-2-data_type": "字符串",
        "items-2-masking": "none",
    } | over


def test_officer_drafts_through_the_form(client: TestClient, session: Session) -> None:
    gaj = make_org(session, "GAJ", name="示例市公安局", short_name="市公安局")
    make_user(session, "gaj_off", org=gaj)
    csrf = login(client, "gaj_off", PASSWORD)
    page = client.get("/catalog/resources/new")
    assert page.status_code == 200 and 'hx-post="/catalog/check"' in page.text
    # Inline validation shows rule problems while typing, without saving.
    check = client.post(
        "/catalog/check", data=form_data(csrf, share_condition="", name="市公安局人口")
    )
    assert "必须填写共享条件" in check.text and "不应以部门名称" in check.text
    ok = client.post("/catalog/check", data=form_data(csrf))
    assert "校验通过" in ok.text
    # A rule violation re-renders the form with the values kept.
    bad = client.post(
        "/catalog/resources/new", data=form_data(csrf, grade="L4", open_type="受限开放")
    )
    assert bad.status_code == 422 and "L4" in bad.text and 'value="人口基本信息"' in bad.text
    bad = client.post("/catalog/resources/new", data=form_data(csrf, **{"items-1-length": "abc"}))
    assert bad.status_code == 422 and "第 2 个数据项的数据长度" in bad.text
    created = client.post("/catalog/resources/new", data=form_data(csrf), follow_redirects=False)
    assert created.status_code == 303
    rid = int(created.headers["location"].rsplit("/", 1)[1])
    spec = service.resource_spec(session, rid)
    assert spec.columns == ["xm", "gmsfhm"] and spec.share_methods == ("系统对接",)
    assert spec.item("xm").is_sensitive and spec.item("gmsfhm").is_key  # type: ignore[union-attr]
    detail = client.get(f"/catalog/resources/{rid}")
    assert "提交审核" in detail.text and "谁在使用" in detail.text and "新建" in detail.text
    edit = client.get(f"/catalog/resources/{rid}/edit")
    assert 'value="gmsfhm"' in edit.text
    resp = client.post(
        f"/catalog/resources/{rid}/action",
        data={"csrf_token": csrf, "action": "submit"},
        follow_redirects=False,
    )
    assert resp.status_code == 303 and service.resource_spec(session, rid).status == "submitted"


def test_admin_reviews_from_the_queue(client: TestClient, session: Session) -> None:
    gaj = make_org(session, "GAJ", name="示例市公安局")
    make_user(session, "boss", role="admin")
    res = make_resource(session, gaj)
    service.submit_resource(
        session,
        service.Principal(kind="user", id=None, name="o", role="officer", org_id=gaj.id),
        res.id,
    )
    csrf = login(client, "boss", PASSWORD)
    queue = client.get("/catalog/review")
    assert res.name in queue.text and "新资源" in queue.text
    back = client.post(
        f"/catalog/resources/{res.id}/action",
        data={"csrf_token": csrf, "action": "return", "comment": ""},
    )
    assert "退回时必须填写审核意见" in back.text
    client.post(
        f"/catalog/resources/{res.id}/action",
        data={"csrf_token": csrf, "action": "approve_publish", "back": "/catalog/review"},
    )
    session.expire_all()
    assert service.resource_spec(session, res.id).status == "published"
    assert "没有待审核的资源" in client.get("/catalog/review").text
    listing = client.get("/catalog/resources", params={"status": "published"})
    assert res.name in listing.text and re.search(r'data-testid="published-count">1<', listing.text)
    assert (
        client.get(f"/catalog/code/{res.code}", follow_redirects=False).headers["location"]
        == f"/catalog/resources/{res.id}"
    )
    assert client.get("/catalog/import").status_code == 200


def test_leader_reads_but_cannot_write(client: TestClient, session: Session) -> None:
    gaj = make_org(session, "GAJ", name="示例市公安局")
    make_user(session, "lead", role="leader")
    res = make_resource(session, gaj)
    csrf = login(client, "lead", PASSWORD)
    assert client.get(f"/catalog/resources/{res.id}").status_code == 200
    assert client.get("/catalog/resources/new").status_code == 403
    assert (
        client.post(
            f"/catalog/resources/{res.id}/action", data={"csrf_token": csrf, "action": "submit"}
        ).status_code
        == 403
    )
