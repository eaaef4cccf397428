"""An officer of org A can neither read nor change org B's objects, by any route.

Every route of the app with a path parameter is enumerated and called with org B's
object ids. A new domain that adds routes must register its id parameters in
``SCOPED_PARAMS`` (the test fails on an unknown parameter, so none is forgotten).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongshu.audit.models import AuditRecord
from gongshu.auth.models import ApiKey, User
from gongshu.auth.principal import Principal
from gongshu.catalog import releases as catalog_releases
from gongshu.catalog.models import Resource
from gongshu.catalog.schemas import ReleaseCreate
from gongshu.cockpit import report
from gongshu.cockpit import service as cockpit
from gongshu.cockpit.alerts import raise_alert
from gongshu.cockpit.models import Alert, Indicator, Report, Webhook
from gongshu.cockpit.schemas import IndicatorIn, WebhookIn
from gongshu.orgs.models import Org, System
from gongshu.web.routes import iter_api_routes
from tests.catalog.helpers import ADMIN, make_resource
from tests.conftest import login
from tests.factories import PASSWORD, SYSTEM, make_key, make_org, make_system, make_user

# Path parameter → (model, attribute holding org B's object id in the fixture).
SCOPED_PARAMS: dict[str, str] = {
    "org_id": "org_b",
    "system_id": "system_b",
    "key_id": "key_b",
    "user_id": "user_b",
    "demand_id": "demand_b",
    "grant_id": "grant_b",
    "interface_id": "interface_b",
    "backflow_id": "backflow_b",
    # open data (gongshu.opendata)
    "dataset_id": "dataset_b",
    "application_id": "application_b",
    "comment_id": "comment_b",
    "request_id": "request_b",
    "reuse_id": "reuse_b",
    "app_key_id": "app_key_b",
    # catalog
    "indicator_code": "indicator_b",
    "alert_id": "alert_b",
    "report_day": "report_day",  # the city log is for leaders: officers get 403
    "webhook_id": "webhook_b",  # notification endpoints are admin-only: 403
    "resource_id": "resource_b",
    "code": "resource_b_code",
    "release_id": "release",
    "source_id": "source_b",
    "load_id": "load_b",
    "device_id": "device_b",
    "rule_id": "rule_b",
    "run_id": "run_b",
    "problem_id": "problem_b",
}

# Read routes that are city-wide by design (目录公开): a catalog release holds only
# published entries. They must answer 200 yet show nothing of org B's drafts.
CITYWIDE_READS = {
    ("GET", "/catalog/releases/{release_id}"),
    ("GET", "/api/v1/catalog/releases/{release_id}"),
}

# Public by design: the open-data portal and its read APIs serve *published* open datasets
# to anyone, logged in or not (DESIGN.md: 社会公众 browse the portal). Org B's dataset in
# the world below is withdrawn, so these routes must answer 404 here like every other
# route; tests/opendata/test_portal.py shows they serve published datasets anonymously.
PUBLIC_BY_DESIGN = (
    "/open/datasets/{dataset_id}",
    "/open/orgs/{org_id}",
    "/api/v1/open/datasets/{dataset_id}",
    "/api/v1/open/dcat/datasets/{dataset_id}",
)


def _ingest_world(session: Session, settings: Any, org_b: Org) -> dict[str, Any]:
    """Org B's published resource with a source, a finished load and an IoT device."""
    import io

    from gongshu.ingest import service as ingest
    from gongshu.ingest.schemas import DeviceCreate
    from gongshu.warehouse import shared
    from tests.catalog.helpers import make_resource, officer

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


def _quality_world(session: Session, settings: Any, ingest: dict[str, Any]) -> dict[str, Any]:
    """Org B's rule, run and problem on its loaded resource (csrq is empty: not-null fails)."""
    from gongshu.auth.principal import Principal
    from gongshu.ingest.models import Load
    from gongshu.quality import service as quality
    from gongshu.quality.schemas import RuleIn
    from gongshu.warehouse import shared

    load = session.get(Load, ingest["load_b"])
    assert load is not None and load.status == "succeeded"
    admin = Principal.system("test")
    rule = quality.create_rule(
        session, admin, RuleIn(resource_id=load.resource_id, column="csrq", kind="not_null")
    )
    run = quality.run_resource(session, admin, load.resource_id, wh=shared(settings.warehouse_url))
    problem = quality.list_problems(session, admin, resource_id=load.resource_id)[0][0]
    return ingest | {"rule_b": rule.id, "run_b": run.id, "problem_b": problem.id}


def _quality_snapshot(session: Session, world: dict[str, Any]) -> tuple[Any, ...]:
    from gongshu.quality.models import Problem, Rule, Run

    rule = session.get(Rule, world["rule_b"])
    problem = session.get(Problem, world["problem_b"])
    assert rule and problem
    return (
        (rule.params, rule.status, rule.threshold, rule.updated_at),
        (problem.state, problem.rectify_note, problem.updated_at),
        session.scalar(select(func.count()).select_from(Run)),
        session.scalar(select(func.count()).select_from(Rule)),
        session.scalar(select(func.count()).select_from(Problem)),
    )


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
    sharing = _sharing_world(session, org_b)
    opendata = _open_world(session, org_b)
    cockpit = _cockpit_world(session, org_b.id)
    return (
        sharing
        | opendata
        | cockpit
        | {
            "resource_b": resource_b.id,
            "resource_b_code": resource_b.code,
            "release": release.id,
            "org_a": org_a.id,
            "org_b": org_b.id,
            "system_a": system_a.id,
            "system_b": system_b.id,
            "key_b": key_b.id,
            "user_b": user_b.id,
        }
        | _quality_world(session, settings, _ingest_world(session, settings, org_b))
    )


# Valid bodies for routes whose body has required fields, so the call reaches the
# object lookup (and its 404) instead of stopping at request validation (422).
BODIES: dict[str, dict[str, Any]] = {
    "/alerts/{alert_id}/assign": {"assignee_id": None},  # before the generic "/assign"
    "/decide": {"approve": True, "reason": "篡改"},
    "/confirm": {"approve": True},
    "/coordinate": {"approve": True},
    "/escalate": {"reason": "篡改"},
    "/revoke": {"reason": "篡改"},
    "/assign": {"org_id": 1},
    "/link": {"resource_id": 1},
    "/source": {"source_ref": "篡改"},
    "/volumes": {"day": "2026-01-01", "rows": 1},
    "/status": {"status": "offline"},
}


def _sharing_world(session: Session, org_b: Org) -> dict[str, Any]:
    """Org B's sharing objects: a demand and a grant between B and a third org C (A is in
    neither), B's interface and B's backflow request."""
    from gongshu.sharing import service as sharing
    from gongshu.sharing.schemas import BackflowIn, DemandIn, InterfaceIn
    from tests.catalog.helpers import make_resource, officer

    org_c = make_org(session, "ORGC", name="丙局")
    person = make_resource(session, org_b, publish=True, name="乙人口信息")
    open_res = make_resource(
        session, org_b, publish=True, name="乙企业信息", share_type="无条件共享"
    )
    ask = {"purpose": "履职", "basis": "条例", "scenario": "核验"}
    c = officer(org_c, "officer_c")
    demand = sharing.create_demand(session, c, DemandIn(resource_id=person.id, **ask))
    sharing.create_demand(session, c, DemandIn(resource_id=open_res.id, **ask))
    grant = sharing.list_grants(session, officer(org_b))[0][0]
    iface = sharing.create_interface(
        session,
        officer(org_b),
        InterfaceIn(resource_id=person.id, code="b-person", name="乙人口查询"),
    )
    backflow = sharing.create_backflow(
        session,
        officer(org_b),
        BackflowIn(
            upstream_code="P-1", upstream_name="省人口库", upstream_org="省公安厅", purpose="核验"
        ),
    )
    return {
        "demand_b": demand.id,
        "grant_b": grant.id,
        "interface_b": iface.id,
        "backflow_b": backflow.id,
    }


def _sharing_snapshot(session: Session, world: dict[str, Any]) -> tuple[Any, ...]:
    from gongshu.sharing.models import Backflow, Demand, Grant, Interface

    d = session.get(Demand, world["demand_b"])
    g = session.get(Grant, world["grant_b"])
    i = session.get(Interface, world["interface_b"])
    b = session.get(Backflow, world["backflow_b"])
    assert d and g and i and b
    return (d.status, d.terms, g.status, g.items, i.status, b.status, b.source_ref)


def _open_world(session: Session, org_b: Org) -> dict[str, Any]:
    """Org B's open-data objects: a (since withdrawn) restricted dataset with an
    application, a comment, a data request, a pending reuse and a developer's key."""
    from gongshu.opendata import service as od
    from gongshu.opendata.schemas import ApplicationIn, CommentIn, RequestIn, ReuseIn
    from tests.opendata.helpers import ADMIN, bus_resource, publish

    res = bus_resource(
        session, org_b, open_type="受限开放", open_reason="须申请", grade="L2", name="公交线路"
    )
    ds = publish(session, None, org_b, res, title="乙局数据集")
    dev = make_user(session, "dev_b", role="public")
    dev_p = Principal(kind="user", id=dev.id, name="dev_b", role="public")
    app = od.apply(
        session,
        dev_p,
        ApplicationIn(
            dataset_id=ds.id,
            applicant="乙申请人",
            applicant_type="个人",
            purpose="研究",
            scenario="研究",
            security_commitment="承诺",
            items=["line_id"],
            period_start=od.local_today(),
            period_end=od.local_today() + timedelta(days=30),
        ),
    )
    comment = od.add_comment(session, dev_p, ds.id, CommentIn(body="乙留言"))
    reuse = od.submit_reuse(
        session, dev_p, ReuseIn(title="乙应用", description="x", author="乙", dataset_ids=[ds.id])
    )
    req = od.submit_request(
        session, dev_p, RequestIn(title="乙需求", description="x", requester="乙", org_id=org_b.id)
    )
    key, _ = od.create_app_key(session, dev_p, "乙开发者密钥")
    od.withdraw_dataset(session, ADMIN, ds.id, "测试撤回")
    return {
        "dataset_b": ds.id,
        "application_b": app.id,
        "comment_b": comment.id,
        "request_b": req.id,
        "reuse_b": reuse.id,
        "app_key_b": key.id,
    }


def _open_snapshot(session: Session, world: dict[str, Any]) -> tuple[Any, ...]:
    from gongshu.opendata.models import (
        OpenAppKey,
        OpenApplication,
        OpenComment,
        OpenDataset,
        OpenRequest,
        OpenReuse,
    )

    ds = session.get(OpenDataset, world["dataset_b"])
    app = session.get(OpenApplication, world["application_b"])
    c = session.get(OpenComment, world["comment_b"])
    r = session.get(OpenRequest, world["request_b"])
    reuse = session.get(OpenReuse, world["reuse_b"])
    key = session.get(OpenAppKey, world["app_key_b"])
    assert ds and app and c and r and reuse and key
    return (
        (ds.status, ds.title, ds.items, ds.updated_at),
        (app.status, app.key_id),
        (c.reply,),
        (r.status, r.answer),
        (reuse.status,),
        (key.revoked_at,),
        session.scalar(select(func.count()).select_from(OpenAppKey)),
    )


def _cockpit_world(session: Session, org_b: int) -> dict[str, Any]:
    ind = cockpit.create_indicator(
        session,
        SYSTEM,
        IndicatorIn(
            code="orgb.level",
            name="乙局指标",
            topic="城市管理",
            owner_org_id=org_b,
            definition="SELECT day AS period, aqi AS value FROM city_air_quality_daily",
            sources=["city_air_quality_daily"],
            upper=1.0,
        ),
    )
    alert, _ = raise_alert(
        session,
        ind,
        rule="upper",
        level="red",
        message="乙局指标超限",
        period=datetime(2026, 1, 1),
        value=2.0,
        threshold=1.0,
        detail={},
    )
    session.commit()
    day = date(2026, 1, 1)
    report.generate(session, day)
    hook = cockpit.create_webhook(
        session, SYSTEM, WebhookIn(name="乙群", url="http://127.0.0.1:9/hook")
    )
    return {
        "indicator_b": ind.code,
        "alert_b": alert.id,
        "report_day": day.isoformat(),
        "webhook_b": hook.id,
    }


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
        _ingest_snapshot(session, world),
        _quality_snapshot(session, world),
        (org.name, org.contact_name, org.level, org.region_code, org.updated_at),
        (system.name, system.status, system.updated_at),
        (key.revoked_at, key.name),
        (user.is_active, user.role, user.password_hash),
        session.scalar(select(func.count()).select_from(System)),
        session.scalar(select(func.count()).select_from(ApiKey)),
        _sharing_snapshot(session, world),
        _open_snapshot(session, world),
        _cockpit_snapshot(session, world),
    )


def _cockpit_snapshot(session: Session, world: dict[str, Any]) -> tuple[Any, ...]:
    ind = session.scalar(select(Indicator).where(Indicator.code == world["indicator_b"]))
    alert = session.get(Alert, world["alert_b"])
    assert ind and alert
    return (
        (ind.name, ind.upper, ind.definition, ind.enabled, ind.updated_at),
        (alert.status, alert.assignee_id, alert.acknowledged_at, alert.closed_at),
        session.scalar(select(func.count()).select_from(Webhook)),
        session.scalar(select(func.count()).select_from(Report)),
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
            body = next((b for suffix, b in BODIES.items() if path.endswith(suffix)), {})
            resp = client.request(method, url, json=body if method != "GET" else None)
        else:
            data = {"csrf_token": csrf, "name": "篡改", "contact_name": "篡改"}
            resp = client.request(
                method, url, data=data if method != "GET" else None, follow_redirects=False
            )
        if (method, path) in CITYWIDE_READS:
            assert resp.status_code == 200, f"{method} {url} -> {resp.status_code}"
        else:
            assert resp.status_code in (403, 404), f"{method} {url} -> {resp.status_code}"
        if path in PUBLIC_BY_DESIGN:
            assert resp.status_code == 404, f"{url}: withdrawn datasets are not public"
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


def test_gateway_routes_authenticate_by_key_only(
    app: Any, client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    """``/gw/...`` is a plain ASGI route (not enumerated above, by design): it ignores the
    cookie session entirely and serves only a key whose org holds a grant. Signed in as
    officer A, or with A's key, org B's interface answers 401/403 and logs nothing else."""
    login(client, "officer_a", PASSWORD)

    def walk(routes: Any) -> Any:
        for r in routes:
            yield r
            inner = getattr(r, "original_router", None)
            if inner is not None:
                yield from walk(inner.routes)

    gw = [r for r in walk(app.routes) if getattr(r, "path", "").startswith("/gw/")]
    assert gw, "gateway route missing"
    resp = client.get("/gw/b-person", params={"gmsfhm": "11010519491231002X"})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "missing_key"
    _, key_a = make_key(session, session.get(Org, world["org_a"]), name="甲密钥")
    resp = client.get(
        "/gw/b-person",
        params={"gmsfhm": "11010519491231002X"},
        headers={"Authorization": f"Bearer {key_a}"},
    )
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "not_granted"


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
