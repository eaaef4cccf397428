"""An officer of org A can neither read nor change org B's objects, by any route.

Every route of the app with a path parameter is enumerated and called with org B's
object ids. A new domain that adds routes must register its id parameters in
``SCOPED_PARAMS`` (the test fails on an unknown parameter, so none is forgotten).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongshu.audit.models import AuditRecord
from gongshu.auth.models import ApiKey, User
from gongshu.catalog import releases as catalog_releases
from gongshu.catalog.models import Resource
from gongshu.catalog.schemas import ReleaseCreate
from gongshu.orgs.models import Org, System
from gongshu.web.routes import iter_api_routes
from tests.catalog.helpers import ADMIN, make_resource
from tests.conftest import login
from tests.factories import PASSWORD, make_key, make_org, make_system, make_user

# Path parameter → (model, attribute holding org B's object id in the fixture).
SCOPED_PARAMS: dict[str, str] = {
    "org_id": "org_b",
    "system_id": "system_b",
    "key_id": "key_b",
    "user_id": "user_b",
    "resource_id": "resource_b",
    "code": "resource_b_code",
    "release_id": "release",
    "source_id": "source_b",
    "load_id": "load_b",
    "device_id": "device_b",
}

# Read routes that are city-wide by design (目录公开): a catalog release holds only
# published entries. They must answer 200 yet show nothing of org B's drafts.
CITYWIDE_READS = {
    ("GET", "/catalog/releases/{release_id}"),
    ("GET", "/api/v1/catalog/releases/{release_id}"),
}


def _ingest_world(session: Session, settings: Any, org_b: Org) -> dict[str, Any]:
    """Org B's published resource with a source, a finished load and an IoT device."""
    import io

    from gongshu.ingest import service as ingest
    from gongshu.ingest.schemas import DeviceCreate
    from gongshu.warehouse import shared
    from tests.catalog.helpers import officer

    resource = make_resource(session, org_b, publish=True, name="专有数据资源")
    actor = officer(org_b)
    source = ingest.save_upload(
        session,
        actor,
        resource.id,
        "乙局.csv",
        io.BytesIO("公民身份号码,姓名\n330602199001010011,乙\n".encode()),
        settings,
    )
    load = ingest.run_source(
        session, actor, source.id, wh=shared(settings.warehouse_url), settings=settings
    )
    device, _ = ingest.create_device(
        session, actor, DeviceCreate(resource_id=resource.id, code="B-1", name="乙设备")
    )
    return {"source_b": source.id, "load_b": load.id, "device_b": device.id}


@pytest.fixture
def world(session: Session, settings: Any) -> dict[str, Any]:
    org_a = make_org(session, "ORGA", name="甲局")
    org_b = make_org(session, "ORGB", name="乙局", contact_name="乙联系人")
    system_a = make_system(session, org_a, "甲系统")
    system_b = make_system(session, org_b, "乙系统")
    key_b, _ = make_key(session, org_b, name="乙密钥")
    make_user(session, "officer_a", org=org_a)
    user_b = make_user(session, "officer_b", org=org_b)
    # Org B's catalog entry is a draft (private); org A's published one makes a release.
    resource_b = make_resource(session, org_b, name="乙草稿资源", summary="乙联系人")
    make_resource(session, org_a, name="甲已发布资源", publish=True)
    release = catalog_releases.create_release(session, ADMIN, ReleaseCreate(name="2026版"))
    return {
        "resource_b": resource_b.id,
        "resource_b_code": resource_b.code,
        "release": release.id,
        "org_a": org_a.id,
        "org_b": org_b.id,
        "system_a": system_a.id,
        "system_b": system_b.id,
        "key_b": key_b.id,
        "user_b": user_b.id,
    } | _ingest_world(session, settings, org_b)


def _snapshot(session: Session, world: dict[str, Any]) -> tuple[Any, ...]:
    session.expire_all()
    org = session.get(Org, world["org_b"])
    system = session.get(System, world["system_b"])
    key = session.get(ApiKey, world["key_b"])
    user = session.get(User, world["user_b"])
    resource = session.get(Resource, world["resource_b"])
    assert org and system and key and user and resource
    return (
        (
            resource.name,
            resource.status,
            resource.summary,
            resource.updated_at,
            len(resource.items),
        ),
        session.scalar(select(func.count()).select_from(Resource)),
        (org.name, org.contact_name, org.level, org.region_code, org.updated_at),
        (system.name, system.status, system.updated_at),
        (key.revoked_at, key.name),
        (user.is_active, user.role, user.password_hash),
        session.scalar(select(func.count()).select_from(System)),
        session.scalar(select(func.count()).select_from(ApiKey)),
        _ingest_snapshot(session, world),
    )


def _ingest_snapshot(session: Session, world: dict[str, Any]) -> tuple[Any, ...]:
    from gongshu.ingest.models import Device, Load, Source

    source = session.get(Source, world["source_b"])
    load = session.get(Load, world["load_b"])
    device = session.get(Device, world["device_b"])
    assert source and load and device
    return (
        (source.name, source.mapping, source.config, source.updated_at),
        (load.status, load.rows_accepted),
        (device.revoked_at, device.name),
        session.scalar(select(func.count()).select_from(Load)),
        session.scalar(select(func.count()).select_from(Source)),
    )


def _routes(app: Any) -> list[tuple[str, str]]:
    found = []
    for route in iter_api_routes(app.routes):
        params = re.findall(r"{(\w+)}", route.path)
        if not params:
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            found.append((method, route.path))
    return found


def test_every_id_route_refuses_other_orgs_objects(
    app: Any, client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    csrf = login(client, "officer_a", PASSWORD)
    before = _snapshot(session, world)
    routes = _routes(app)
    assert len(routes) >= 10
    tried = 0
    for method, path in routes:
        params = re.findall(r"{(\w+)}", path)
        unknown = [p for p in params if p not in SCOPED_PARAMS]
        assert not unknown, f"{path}: register {unknown} in SCOPED_PARAMS"
        url = path
        for p in params:
            url = url.replace("{" + p + "}", str(world[SCOPED_PARAMS[p]]))
        if url.startswith("/api/"):
            resp = client.request(method, url, json={} if method != "GET" else None)
        else:
            data = {"csrf_token": csrf, "name": "篡改", "contact_name": "篡改"}
            resp = client.request(
                method, url, data=data if method != "GET" else None, follow_redirects=False
            )
        if (method, path) in CITYWIDE_READS:
            assert resp.status_code == 200, f"{method} {url} -> {resp.status_code}"
        else:
            assert resp.status_code in (403, 404), f"{method} {url} -> {resp.status_code}"
        assert "乙联系人" not in resp.text and "乙系统" not in resp.text
        assert "乙草稿资源" not in resp.text
        tried += 1
    assert tried == len(routes)
    assert _snapshot(session, world) == before
    session.expire_all()
    writes = session.scalar(
        select(func.count())
        .select_from(AuditRecord)
        .where(AuditRecord.actor_name == "officer_a", AuditRecord.action != "auth.login")
    )
    assert writes == 0


def test_lists_show_only_own_org(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    login(client, "officer_a", PASSWORD)
    orgs = client.get("/api/v1/orgs").json()
    assert [o["id"] for o in orgs["items"]] == [world["org_a"]]
    systems = client.get("/api/v1/systems").json()
    assert [s["id"] for s in systems["items"]] == [world["system_a"]]
    assert client.get("/api/v1/systems", params={"org_id": world["org_b"]}).json()["total"] == 0
    assert client.get("/api/v1/keys").json() == []
    assert client.get("/api/v1/users").status_code == 403
    for page in ("/", "/orgs", "/systems", "/keys"):
        html = client.get(page).text
        assert "乙局" not in html and "乙系统" not in html and "乙密钥" not in html, page
        assert "甲局" in html or page == "/keys"
    assert client.get("/users").status_code == 403
    assert client.get("/audit").status_code == 403


def test_cannot_create_in_other_org(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    csrf = login(client, "officer_a", PASSWORD)
    before = _snapshot(session, world)
    sys_resp = client.post("/api/v1/systems", json={"org_id": world["org_b"], "name": "偷建系统"})
    assert sys_resp.status_code in (403, 404)
    key_resp = client.post("/api/v1/keys", json={"name": "偷建密钥", "org_id": world["org_b"]})
    assert key_resp.status_code in (403, 404)
    page = client.post(
        "/systems/new", data={"csrf_token": csrf, "org_id": world["org_b"], "name": "页面偷建"}
    )
    assert page.status_code in (403, 404, 422)
    key_page = client.post(
        "/keys",
        data={"csrf_token": csrf, "org_id": world["org_b"], "name": "x"},
        follow_redirects=False,
    )
    assert key_page.status_code in (303, 403, 404)
    assert _snapshot(session, world) == before
    own = client.post("/api/v1/systems", json={"name": "自建系统"})
    assert own.status_code == 201 and own.json()["org_id"] == world["org_a"]


def test_published_catalog_is_readable_city_wide_but_not_writable(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    org_b = session.get(Org, world["org_b"])
    assert org_b is not None
    published = make_resource(session, org_b, name="乙已发布资源", publish=True)
    login(client, "officer_a", PASSWORD)
    assert client.get(f"/api/v1/catalog/resources/{published.id}").status_code == 200
    assert client.get(f"/catalog/resources/{published.id}").status_code == 200
    before = (published.name, published.summary, published.revision)
    body = {
        "name": "篡改",
        "domain": "公共安全",
        "update_cycle": "每日",
        "share_type": "无条件共享",
        "share_methods": ["下载"],
        "open_type": "不予开放",
        "open_reason": "x",
        "grade": "L1",
    }
    assert client.put(f"/api/v1/catalog/resources/{published.id}", json=body).status_code == 403
    for action in ("submit", "approve", "retire", "discard-revision", "publish"):
        resp = client.post(f"/api/v1/catalog/resources/{published.id}/{action}", json={})
        assert resp.status_code == 403, action
    listed = client.get("/api/v1/catalog/resources").json()
    names = {i["name"] for i in listed["items"]}
    assert "乙已发布资源" in names and "乙草稿资源" not in names
    session.expire_all()
    fresh = session.get(Resource, published.id)
    assert fresh and (fresh.name, fresh.summary, fresh.revision) == before
