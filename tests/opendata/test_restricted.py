"""Restricted open (受限开放): apply → owner org → bureau → key limited to the approved
items and period, with masking; usage reports; revocation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from gongshu.config import Settings
from gongshu.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gongshu.opendata import service
from gongshu.opendata.models import OpenApplication
from gongshu.opendata.schemas import ApplicationIn, BureauReviewIn
from gongshu.warehouse import shared as warehouse
from tests.conftest import login
from tests.factories import PASSWORD, make_org, make_user
from tests.opendata.helpers import ADMIN, bus_resource, bus_rows, load, officer, publish


@pytest.fixture
def world(session: Session, settings: Settings) -> dict[str, Any]:
    wh = warehouse(settings.warehouse_url)
    org = make_org(session, "WJW", name="卫健委")
    other = make_org(session, "JTJ", name="交通局")
    res = bus_resource(
        session, org, name="门诊量明细", open_type="受限开放", open_reason="须申请", grade="L2"
    )
    load(wh, res.code, bus_rows(40))
    items = [
        {"column": "line_id"},
        {"column": "line_name"},
        {"column": "stops"},
        {"column": "driver", "masking": "name"},
    ]
    ds = publish(session, wh, org, res, items=items, title="门诊量明细")
    user = make_user(session, "dev1", role="public")
    return {"org": org, "other": other, "ds": ds, "user": user}


def _apply(session: Session, user: Any, ds: Any, **over: Any) -> OpenApplication:
    data = {
        "dataset_id": ds.id,
        "applicant": "示例科技有限公司",
        "applicant_type": "企业",
        "credit_code": "91330100MA27XL7T4T",
        "purpose": "就医分流研究",
        "scenario": "门诊量预测",
        "security_commitment": "仅用于研究",
        "items": ["line_id", "driver"],
        "period_start": service.local_today(),
        "period_end": service.local_today() + timedelta(days=90),
    } | over
    actor = service.auth.principal_for_user(user)
    return service.apply(session, actor, ApplicationIn.model_validate(data))


def test_full_flow_key_limited_to_items_period_and_masked(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    ds, user = world["ds"], world["user"]
    # Anonymous and developer keys cannot read restricted data.
    assert client.get(f"/api/v1/open/datasets/{ds.id}/download").status_code == 403
    with pytest.raises(ValidationFailed, match="统一社会信用代码"):
        _apply(session, user, ds, credit_code="91330100MA27XL7T4A")
    with pytest.raises(ValidationFailed, match="不在该数据集中"):
        _apply(session, user, ds, items=["driver_id"])  # not published at all
    app = _apply(session, user, ds)
    assert app.status == "submitted"
    # The bureau cannot skip the owner org; another org's officer cannot review.
    with pytest.raises(Conflict):
        service.bureau_review(session, ADMIN, app.id, BureauReviewIn(approve=True))
    with pytest.raises(NotFound):
        service.org_review(session, officer(world["other"]), app.id, True, None)
    service.org_review(session, officer(world["org"]), app.id, True, "同意")
    service.bureau_review(session, ADMIN, app.id, BureauReviewIn(approve=True, rate_per_min=50))
    assert app.status == "approved" and app.next_report_due is not None
    # Only the applicant collects the key; the secret is shown once.
    with pytest.raises(Forbidden):
        service.collect_key(session, ADMIN, app.id)
    login(client, "dev1", PASSWORD)
    got = client.post(f"/api/v1/open/applications/{app.id}/key")
    assert got.status_code == 200, got.text
    key = got.json()["key"]
    assert got.json()["items"] == ["line_id", "driver"]
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {key}"}
    rows = client.get(f"/api/v1/open/datasets/{ds.id}/rows?limit=5", headers=headers).json()
    assert set(rows["records"][0]) == {"line_id", "driver"}  # only approved items
    assert all(r["driver"].endswith("**") for r in rows["records"])  # still masked
    # Asking for an item outside the approval is refused, by row API and by CKAN.
    bad = client.get(f"/api/v1/open/datasets/{ds.id}/rows?fields=stops", headers=headers)
    assert bad.status_code == 422
    ck = client.get(
        "/api/3/action/datastore_search",
        params={"resource_id": ds.name, "fields": "stops"},
        headers={"Authorization": key},
    )
    assert ck.status_code == 409 and ck.json()["error"]["__type"] == "Validation Error"
    ok = client.get(
        "/api/3/action/datastore_search",
        params={"resource_id": ds.name, "limit": 2},
        headers={"Authorization": key},
    ).json()["result"]
    assert [f["id"] for f in ok["fields"]] == ["_id", "line_id", "driver"]
    csv = client.get(f"/api/v1/open/datasets/{ds.id}/download", headers=headers)
    assert csv.content.decode("utf-8-sig").splitlines()[0] == '"线路编号","驾驶员姓名"'
    # The key works only for its dataset.
    other_res = bus_resource(session, world["org"], name="公交线路")
    other_ds = publish(session, None, world["org"], other_res, title="公交")
    assert (
        client.get(f"/api/v1/open/datasets/{other_ds.id}/rows", headers=headers).status_code == 403
    )
    # Overdue usage report: access stops until a report is filed.
    session.execute(
        update(OpenApplication)
        .where(OpenApplication.id == app.id)
        .values(next_report_due=service.local_today() - timedelta(days=1))
    )
    session.commit()
    late = client.get(f"/api/v1/open/datasets/{ds.id}/rows", headers=headers)
    assert late.status_code == 403 and late.json()["error"]["code"] == "report_overdue"
    login(client, "dev1", PASSWORD)
    assert (
        client.post(
            f"/api/v1/open/applications/{app.id}/reports", json={"content": "本季度用于模型训练"}
        ).status_code
        == 201
    )
    client.cookies.clear()
    assert client.get(f"/api/v1/open/datasets/{ds.id}/rows", headers=headers).status_code == 200
    # Abuse → the owner org revokes; the key dies at once.
    service.revoke_application(session, officer(world["org"]), app.id, "超范围使用")
    assert client.get(f"/api/v1/open/datasets/{ds.id}/rows", headers=headers).status_code == 401


def test_key_outside_its_period_is_refused(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    ds, user = world["ds"], world["user"]
    start = service.local_today() + timedelta(days=10)
    app = _apply(session, user, ds, period_start=start, period_end=start + timedelta(days=30))
    service.org_review(session, officer(world["org"]), app.id, True, None)
    service.bureau_review(session, ADMIN, app.id, BureauReviewIn(approve=True))
    _key, plaintext = service.collect_key(session, service.auth.principal_for_user(user), app.id)
    resp = client.get(
        f"/api/v1/open/datasets/{ds.id}/rows", headers={"Authorization": f"Bearer {plaintext}"}
    )
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "key_not_yet_valid"


def test_rejections_need_a_reason_and_end_the_flow(session: Session, world: dict[str, Any]) -> None:
    app = _apply(session, world["user"], world["ds"])
    with pytest.raises(ValidationFailed):
        service.org_review(session, officer(world["org"]), app.id, False, None)
    service.org_review(session, officer(world["org"]), app.id, False, "用途不明确")
    assert app.status == "rejected"
    with pytest.raises(Conflict):
        service.collect_key(session, service.auth.principal_for_user(world["user"]), app.id)
