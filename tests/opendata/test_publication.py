"""Publication rules: only openable resources, never L4, sensitive items masked or dropped,
bureau approval — by every route (service, JSON API, after a load, at read time)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gongshu.catalog import service as catalog
from gongshu.config import Settings
from gongshu.errors import ValidationFailed
from gongshu.opendata import hooks, service
from gongshu.opendata.rules import quality_score
from gongshu.warehouse import shared as warehouse
from gongshu.warehouse import table_name_for
from tests.catalog.helpers import resource_data
from tests.conftest import login
from tests.factories import PASSWORD, make_org, make_user
from tests.opendata.helpers import (
    ADMIN,
    BUS_ITEMS,
    bus_resource,
    bus_rows,
    load,
    officer,
    proposal,
    publish,
)


@pytest.fixture
def wh(settings: Settings) -> Any:
    return warehouse(settings.warehouse_url)


def test_unmasked_sensitive_item_is_refused_by_service_and_api(
    client: TestClient, session: Session
) -> None:
    org = make_org(session, "JTJ", name="交通局")
    res = bus_resource(session, org)
    with pytest.raises(ValidationFailed, match="敏感数据项“驾驶员身份证号”必须脱敏"):
        service.propose_dataset(
            session,
            officer(org),
            proposal(res, items=[{"column": "line_id"}, {"column": "driver_id"}]),
        )
    make_user(session, "jt_officer", org=org)
    login(client, "jt_officer", PASSWORD)
    body = proposal(res).model_dump(mode="json")
    body["items"].append({"column": "driver_id", "masking": "none"})
    resp = client.post("/api/v1/open/manage/datasets", json=body)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "not_openable"
    # Unknown masking rule is refused too (never fail open).
    body["items"][-1]["masking"] = "rot13"
    assert client.post("/api/v1/open/manage/datasets", json=body).status_code == 422
    # Dropping it, or masking it, is accepted.
    body["items"][-1]["masking"] = "id_number"
    ok = client.post("/api/v1/open/manage/datasets", json=body)
    assert ok.status_code == 201, ok.text
    ds_id = ok.json()["id"]
    # Editing a proposal back to unmasked is refused as well.
    body["items"][-1]["masking"] = "none"
    assert client.put(f"/api/v1/open/manage/datasets/{ds_id}", json=body).status_code == 422


def test_l4_and_closed_resources_cannot_be_published(session: Session) -> None:
    org = make_org(session, "GAJ", name="公安局")
    l4 = catalog.create_resource(
        session,
        officer(org),
        resource_data(owner_org_id=org.id, grade="L4", open_type="不予开放", open_reason="敏感"),
    )
    catalog.submit_resource(session, officer(org), l4.id)
    catalog.approve_resource(session, ADMIN, l4.id, publish=True)
    with pytest.raises(ValidationFailed) as exc:
        service.propose_dataset(
            session, officer(org), proposal(l4, items=[{"column": "csrq"}], title="人口")
        )
    assert "L4" in exc.value.message and "不予开放" in exc.value.message
    # A resource that is not published in the catalog cannot be opened either.
    draft = catalog.create_resource(
        session,
        officer(org),
        resource_data(
            owner_org_id=org.id, name="户籍统计", open_type="无条件开放", grade="L1", items=[]
        ).model_copy(update={"items": resource_data().items[2:]}),
    )
    with pytest.raises(ValidationFailed, match="尚未发布"):
        service.propose_dataset(session, officer(org), proposal(draft, items=[{"column": "csrq"}]))


def test_only_the_bureau_approves_and_other_orgs_cannot_propose(session: Session) -> None:
    org = make_org(session, "JTJ", name="交通局")
    other = make_org(session, "WJW", name="卫健委")
    res = bus_resource(session, org)
    from gongshu.errors import Forbidden, NotFound

    with pytest.raises((Forbidden, NotFound)):
        service.propose_dataset(session, officer(other), proposal(res))
    ds = service.propose_dataset(session, officer(org), proposal(res))
    with pytest.raises(Forbidden):
        service.review_dataset(session, officer(org), ds.id, approve=True)
    assert ds.status == "proposed"
    with pytest.raises(ValidationFailed):
        service.review_dataset(session, ADMIN, ds.id, approve=False)  # comment required
    service.review_dataset(session, ADMIN, ds.id, approve=True)
    assert ds.status == "published"


def test_regraded_resource_is_suspended_on_read_and_after_load(
    client: TestClient, session: Session, wh: Any
) -> None:
    """The catalog later re-grades the resource L4 / closes it: no route serves it any more."""
    org = make_org(session, "JTJ", name="交通局")
    res = bus_resource(session, org)
    load(wh, res.code, bus_rows(50))
    ds = publish(session, wh, org, res)
    assert client.get(f"/api/v1/open/datasets/{ds.id}/download?format=csv").status_code == 200
    # Revise the catalog entry to L4 / 不予开放 through the catalog's own workflow.
    data = catalog.to_input(session, catalog.get_resource(session, ADMIN, res.id))
    data = type(data).model_validate(
        data.model_dump() | {"grade": "L4", "open_type": "不予开放", "open_reason": "涉密"}
    )
    catalog.update_resource(session, officer(org), res.id, data)
    catalog.submit_resource(session, officer(org), res.id)
    catalog.approve_resource(session, ADMIN, res.id, publish=True)
    # The next read suspends it; nothing is served by any route.
    resp = client.get(f"/api/v1/open/datasets/{ds.id}/download?format=csv")
    assert resp.status_code == 404
    session.expire_all()
    assert service.get_managed(session, ADMIN, ds.id).status == "suspended"
    for url in (
        f"/api/3/action/datastore_search?resource_id={ds.name}",
        f"/api/3/action/package_show?id={ds.name}",
        f"/open/datasets/{ds.id}",
    ):
        assert client.get(url).status_code == 404, url
    found = client.get("/api/3/action/package_search", params={"q": "公交"}).json()
    assert found["result"]["count"] == 0
    # A re-proposal is refused, so it cannot be re-published by that route either.
    with pytest.raises(ValidationFailed, match="L4"):
        service.propose_dataset(session, officer(org), proposal(res))


def test_post_load_hook_refreshes_and_suspends(session: Session, wh: Any) -> None:
    org = make_org(session, "JTJ", name="交通局")
    res = bus_resource(session, org)
    load(wh, res.code, bus_rows(10))
    ds = publish(session, wh, org, res, row_filter=[{"column": "stops", "op": "ge", "value": 0}])
    assert ds.row_count == 10
    load(wh, res.code, bus_rows(25), load_id=2)
    hooks.notify(
        session, hooks.LoadPublished(res.id, table_name_for(res.code), 2, 25), warehouse=wh
    )
    session.expire_all()
    ds = service.get_managed(session, ADMIN, ds.id)
    assert (ds.row_count, ds.last_load_id) == (25, 2)
    assert ds.data_updated_at is not None


def test_masking_applies_to_every_output(client: TestClient, session: Session, wh: Any) -> None:
    org = make_org(session, "JTJ", name="交通局")
    res = bus_resource(session, org)
    load(wh, res.code, bus_rows(30))
    items = [
        {"column": "line_id"},
        {"column": "driver", "masking": "name"},
        {"column": "driver_id", "masking": "id_number"},
    ]
    ds = publish(session, wh, org, res, items=items)
    csv = client.get(f"/api/v1/open/datasets/{ds.id}/download?format=csv").content.decode(
        "utf-8-sig"
    )
    assert "330102********" in csv and "19800101" not in csv
    assert '"张**",' in csv and '"张***",' in csv and "三" not in csv
    rows = client.get(
        "/api/3/action/datastore_search", params={"resource_id": ds.name, "limit": 5}
    ).json()["result"]["records"]
    assert all(r["driver_id"].endswith(r["driver_id"][-4:]) and "*" in r["driver_id"] for r in rows)
    # Filtering on a masked column matches masked values only (no probing of raw values).
    probe = client.get(
        "/api/3/action/datastore_search",
        params={"resource_id": ds.name, "filters": '{"driver_id": "330102198001010001"}'},
    ).json()["result"]
    assert probe["total"] == 0
    json_rows = client.get(f"/api/v1/open/datasets/{ds.id}/download?format=json").json()
    assert len(json_rows) == 30 and set(json_rows[0]) == {"line_id", "driver", "driver_id"}


def test_quality_score_formula() -> None:
    from datetime import timedelta

    from gongshu.db import utcnow

    items = [{"description": "x"}, {"description": ""}]
    full = quality_score(
        licence="CC-BY-4.0",
        update_cycle="每日",
        description="x" * 40,
        items=items,
        data_updated_at=utcnow() - timedelta(hours=3),
        has_data=True,
        contact="c",
        tags=["t"],
    )
    assert full.parts == {
        "licence": 15,
        "update_cycle": 10,
        "description": 15,
        "dictionary": 10,
        "timeliness": 20,
        "formats": 10,
        "contact_tags": 10,
    }
    assert (full.total, full.grade) == (90, "优")
    stale = quality_score(
        licence="",
        update_cycle="每日",
        description="",
        items=[],
        data_updated_at=utcnow() - timedelta(days=10),
        has_data=False,
        contact="",
        tags=[],
    )
    assert (stale.total, stale.grade) == (10, "差")
    assert BUS_ITEMS  # the fixture resource documents every item


def test_ingest_load_refreshes_published_dataset(
    session: Session, settings: Settings, wh: Any, tmp_path: Any
) -> None:
    """A real ingest load (ingest.service.ingest_file) calls the load_listeners hook."""
    from gongshu.ingest import service as ingest

    org = make_org(session, "JTJ", name="交通局")
    res = bus_resource(session, org)
    load(wh, res.code, bus_rows(10))
    ds = publish(session, wh, org, res)
    assert ds.row_count == 10
    rows = bus_rows(25).to_pandas()
    path = tmp_path / "bus.csv"
    rows.to_csv(path, index=False)
    done = ingest.ingest_file(
        session, officer(org), res.id, path, wh=wh, settings=settings, mode="full"
    )
    assert done.status == "succeeded", done.error
    session.expire_all()
    ds = service.get_managed(session, ADMIN, ds.id)
    assert (ds.row_count, ds.last_load_id) == (25, done.id)
