"""Orgs and systems through the JSON API, including every kind of bad input."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongshu.audit.models import AuditRecord
from gongshu.orgs.models import Org, System
from tests.conftest import login
from tests.factories import PASSWORD, make_org, make_user

GOOD = {"code": "GAJ", "name": "示例市公安局", "level": "市本级", "region_code": "330106"}


@pytest.fixture
def admin(client: TestClient, session: Session) -> TestClient:
    make_user(session, "admin1", role="admin")
    login(client, "admin1", PASSWORD)
    return client


def _counts(session: Session) -> tuple[int, int]:
    session.expire_all()
    orgs = session.scalar(select(func.count()).select_from(Org)) or 0
    audits = session.scalar(select(func.count()).select_from(AuditRecord)) or 0
    return orgs, audits


def test_create_read_update_org(admin: TestClient, session: Session) -> None:
    resp = admin.post("/api/v1/orgs", json=GOOD)
    assert resp.status_code == 201, resp.text
    org = resp.json()
    assert org["code"] == "GAJ" and org["region_code"] == "330106"
    got = admin.get(f"/api/v1/orgs/{org['id']}").json()
    assert got["name"] == "示例市公安局"
    patched = admin.patch(f"/api/v1/orgs/{org['id']}", json={"contact_name": "王伟"})
    assert patched.status_code == 200 and patched.json()["contact_name"] == "王伟"
    listing = admin.get("/api/v1/orgs", params={"q": "公安"}).json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == org["id"]
    actions = session.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)).all()
    assert "org.create" in actions and "org.update" in actions


@pytest.mark.parametrize(
    ("region", "fragment"),
    [
        ("33010", "6 位数字"),
        ("33O106", "6 位数字"),
        ("990106", "省级代码"),
        ("339988", "不在 GB/T 2260"),
        ("", "不能为空"),
    ],
)
def test_malformed_region_code_rejected_in_chinese(
    admin: TestClient, session: Session, region: str, fragment: str
) -> None:
    before = _counts(session)
    resp = admin.post("/api/v1/orgs", json=GOOD | {"region_code": region})
    assert resp.status_code == 422
    assert fragment in resp.json()["error"]["message"]
    assert _counts(session) == before


def test_duplicate_code_and_name_conflict(admin: TestClient, session: Session) -> None:
    assert admin.post("/api/v1/orgs", json=GOOD).status_code == 201
    before = _counts(session)
    dup_code = admin.post("/api/v1/orgs", json=GOOD | {"name": "另一个名字"})
    assert dup_code.status_code == 409
    assert dup_code.json()["error"]["code"] == "duplicate_code"
    assert "已被使用" in dup_code.json()["error"]["message"]
    dup_name = admin.post("/api/v1/orgs", json=GOOD | {"code": "GAJ2"})
    assert dup_name.status_code == 409 and "已存在" in dup_name.json()["error"]["message"]
    # Codes are case-normalised, so "gaj" is the same code as "GAJ".
    assert admin.post("/api/v1/orgs", json=GOOD | {"code": "gaj", "name": "X"}).status_code == 409
    assert _counts(session) == before


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_name_rejected(admin: TestClient, session: Session, name: str) -> None:
    before = _counts(session)
    resp = admin.post("/api/v1/orgs", json=GOOD | {"name": name})
    assert resp.status_code == 422
    assert "字段 name 不能为空" in resp.json()["error"]["message"]
    assert _counts(session) == before


def test_ten_megabyte_name_is_413(admin: TestClient, session: Session) -> None:
    before = _counts(session)
    resp = admin.post("/api/v1/orgs", json=GOOD | {"name": "名" * (10 * 1024 * 1024 // 3)})
    assert resp.status_code == 413
    assert "请求内容过大" in resp.json()["error"]["message"]
    assert _counts(session) == before


def test_long_name_under_body_limit_is_422(admin: TestClient, session: Session) -> None:
    before = _counts(session)
    resp = admin.post("/api/v1/orgs", json=GOOD | {"name": "长" * 5000})
    assert resp.status_code == 422
    assert "不能超过 100 个字符" in resp.json()["error"]["message"]
    assert _counts(session) == before


def test_unknown_field_and_bad_json_and_bad_id(admin: TestClient, session: Session) -> None:
    before = _counts(session)
    unknown = admin.post("/api/v1/orgs", json=GOOD | {"secret_flag": True})
    assert unknown.status_code == 422 and "未知字段" in unknown.json()["error"]["message"]
    broken = admin.post(
        "/api/v1/orgs", content=b'{"code": "X",', headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422 and "JSON" in broken.json()["error"]["message"]
    bad_level = admin.post("/api/v1/orgs", json=GOOD | {"level": "省级"})
    assert bad_level.status_code == 422 and "取值应为" in bad_level.json()["error"]["message"]
    bad_id = admin.get("/api/v1/orgs/abc")
    assert bad_id.status_code == 422 and "应为整数" in bad_id.json()["error"]["message"]
    assert admin.get("/api/v1/orgs/999999").status_code == 404
    injection = admin.get("/api/v1/orgs", params={"q": "' OR 1=1 --"})
    assert injection.status_code == 200 and injection.json()["total"] == 0
    assert _counts(session) == before


def test_parent_cannot_be_self_or_missing(admin: TestClient, session: Session) -> None:
    org = admin.post("/api/v1/orgs", json=GOOD).json()
    self_parent = admin.patch(f"/api/v1/orgs/{org['id']}", json={"parent_id": org["id"]})
    assert self_parent.status_code == 422
    missing = admin.post("/api/v1/orgs", json=GOOD | {"code": "X1", "name": "X1", "parent_id": 999})
    assert missing.status_code == 422 and "上级单位不存在" in missing.json()["error"]["message"]


def test_local_region_codes_validate_after_added(admin: TestClient) -> None:
    body = GOOD | {"region_code": "339902"}
    assert admin.post("/api/v1/orgs", json=body).status_code == 422
    added = admin.post("/api/v1/regions", json={"code": "339902", "name": "城东区"})
    assert added.status_code == 201
    assert admin.post("/api/v1/orgs", json=body).status_code == 201
    assert admin.post("/api/v1/regions", json={"code": "339902", "name": "重复"}).status_code == 409
    found = admin.get("/api/v1/regions", params={"q": "城东"}).json()
    assert {"code": "339902", "name": "城东区"} in found


def test_systems_crud_and_validation(admin: TestClient, session: Session) -> None:
    org = make_org(session, "SYSORG")
    resp = admin.post(
        "/api/v1/systems",
        json={
            "org_id": org.id,
            "name": "人口信息管理系统",
            "builder": "某公司",
            "on_gov_cloud": True,
        },
    )
    assert resp.status_code == 201, resp.text
    sid = resp.json()["id"]
    assert resp.json()["status"] == "运行中"
    dup = admin.post("/api/v1/systems", json={"org_id": org.id, "name": "人口信息管理系统"})
    assert dup.status_code == 409
    bad_status = admin.patch(f"/api/v1/systems/{sid}", json={"status": "坏了"})
    assert bad_status.status_code == 422
    ok = admin.patch(f"/api/v1/systems/{sid}", json={"status": "已下线"})
    assert ok.json()["status"] == "已下线"
    listing = admin.get("/api/v1/systems", params={"org_id": org.id}).json()
    assert listing["total"] == 1
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(System)) == 1


def test_officer_may_edit_only_contact_fields_of_own_org(
    client: TestClient, session: Session
) -> None:
    org = make_org(session, "OWN")
    make_user(session, "own_officer", org=org)
    login(client, "own_officer", PASSWORD)
    ok = client.patch(f"/api/v1/orgs/{org.id}", json={"contact_phone": "0571-88888888"})
    assert ok.status_code == 200
    renamed = client.patch(f"/api/v1/orgs/{org.id}", json={"name": "改名"})
    assert renamed.status_code == 422 and "部门专员只能修改" in renamed.json()["error"]["message"]
    created = client.post("/api/v1/orgs", json=GOOD)
    assert created.status_code == 403
