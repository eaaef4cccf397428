"""HTML forms: create and edit through the pages, with inline Chinese errors."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongshu.orgs.models import Org, System
from tests.conftest import login
from tests.factories import PASSWORD, make_org, make_user


def test_admin_creates_and_edits_org_through_pages(client: TestClient, session: Session) -> None:
    make_user(session, "formadmin", role="admin")
    csrf = login(client, "formadmin", PASSWORD)
    bad = client.post(
        "/orgs/new",
        data={
            "csrf_token": csrf,
            "code": "WJW",
            "name": "卫健委",
            "level": "市本级",
            "region_code": "12",
        },
    )
    assert bad.status_code == 422 and "6 位数字" in bad.text and 'value="卫健委"' in bad.text
    assert session.scalar(select(func.count()).select_from(Org)) == 0
    ok = client.post(
        "/orgs/new",
        data={
            "csrf_token": csrf,
            "code": "WJW",
            "name": "卫健委",
            "level": "市本级",
            "region_code": "330100",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    org_id = int(ok.headers["location"].rsplit("/", 1)[1])
    detail = client.get(f"/orgs/{org_id}")
    assert "已创建 卫健委" in detail.text
    edit = client.post(
        f"/orgs/{org_id}/edit",
        data={
            "csrf_token": csrf,
            "name": "市卫健委",
            "level": "市本级",
            "region_code": "330100",
            "contact_name": "李芳",
            "short_name": "",
            "parent_id": "",
        },
        follow_redirects=False,
    )
    assert edit.status_code == 303
    session.expire_all()
    org = session.get(Org, org_id)
    assert org is not None and org.name == "市卫健委" and org.contact_name == "李芳"


def test_form_without_csrf_token_is_refused(client: TestClient, session: Session) -> None:
    make_user(session, "csrfadmin", role="admin")
    login(client, "csrfadmin", PASSWORD)
    resp = client.post(
        "/orgs/new",
        data={"code": "X9", "name": "无令牌", "level": "市本级", "region_code": "330100"},
        headers={"X-CSRF-Token": ""},
    )
    assert resp.status_code == 403 and "页面已过期" in resp.text
    assert session.scalar(select(func.count()).select_from(Org)) == 0


def test_officer_registers_system_and_key_through_pages(
    client: TestClient, session: Session
) -> None:
    org = make_org(session, "PAGEORG", name="页面局")
    make_user(session, "pageofficer", org=org)
    csrf = login(client, "pageofficer", PASSWORD)
    resp = client.post(
        "/systems/new",
        data={
            "csrf_token": csrf,
            "org_id": str(org.id),
            "name": "审批系统",
            "on_gov_cloud": "true",
        },
        follow_redirects=False,
    )
    assert resp.status_code == 303
    system = session.scalar(select(System).where(System.name == "审批系统"))
    assert system is not None and system.on_gov_cloud and system.org_id == org.id
    created = client.post(
        "/keys", data={"csrf_token": csrf, "name": "审批调用", "role": "consumer"}
    )
    assert created.status_code == 201
    assert "仅显示这一次" in created.text
    key_text = created.text.split('class="secret">')[1].split("<")[0]
    assert key_text.startswith("gs_")
    listing = client.get("/keys")
    assert key_text not in listing.text and "审批调用" in listing.text


def test_every_rendered_form_carries_the_csrf_token(client: TestClient, session: Session) -> None:
    make_user(session, "formcheck", role="admin")
    csrf = login(client, "formcheck", PASSWORD)
    for path in ("/orgs/new", "/systems/new", "/keys", "/users"):
        html = client.get(path).text
        forms = html.count('<form method="post"')
        assert forms >= 1, path
        assert html.count(f'name="csrf_token" value="{csrf}"') >= forms, path
