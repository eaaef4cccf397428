"""Draft → submitted → reviewed → published → retired; revisions, history and audit."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongshu.audit import service as audit
from gongshu.audit.models import AuditRecord
from gongshu.catalog import service
from gongshu.catalog.schemas import ItemIn
from gongshu.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests.catalog.helpers import ADMIN, make_resource, officer, resource_data
from tests.conftest import login
from tests.factories import PASSWORD, make_org, make_user


@pytest.fixture
def orgs(session: Session) -> tuple[Any, Any]:
    return make_org(session, "GAJ", name="示例市公安局"), make_org(
        session, "MZJ", name="示例市民政局"
    )


def test_full_workflow_with_revision_and_history(session: Session, orgs: tuple[Any, Any]) -> None:
    gaj, _ = orgs
    off = officer(gaj)
    res = make_resource(session, gaj)
    service.submit_resource(session, off, res.id, "请审核")
    assert res.status == "submitted"
    with pytest.raises(Conflict):  # locked while under review
        service.update_resource(session, off, res.id, resource_data(summary="改"))
    with pytest.raises(Forbidden):  # officers do not review
        service.approve_resource(session, off, res.id)
    service.return_resource(session, ADMIN, res.id, "摘要过于简单")
    assert res.status == "draft" and res.review_comment == "摘要过于简单"
    with pytest.raises(ValidationFailed):
        service.return_resource(session, ADMIN, res.id, "")
    service.update_resource(session, off, res.id, resource_data(summary="全市人口基本信息，含户籍"))
    service.submit_resource(session, off, res.id)
    service.approve_resource(session, ADMIN, res.id, "同意")
    assert res.status == "reviewed" and res.revision == 0
    service.publish_resource(session, ADMIN, res.id)
    assert res.status == "published" and res.revision == 1 and res.release_date
    item_ids = {i.column: i.id for i in res.items}

    # Published resources are immutable except through a revision.
    data = service.to_input(session, res)
    new_items = [
        *data.items,
        ItemIn(name="联系电话", column="lxdh", length=20, is_sensitive=True, masking="phone"),
    ]
    service.update_resource(
        session,
        off,
        res.id,
        data.model_copy(update={"summary": "修订后的摘要", "items": new_items}),
    )
    session.expire_all()
    assert service.resource_spec(session, res.id).summary == "全市人口基本信息，含户籍"
    assert service.pending_revision(session, res.id) is not None
    service.submit_resource(session, off, res.id)
    with pytest.raises(Conflict):
        service.update_resource(session, off, res.id, data)
    service.approve_resource(session, ADMIN, res.id, "同意修订")
    spec = service.resource_spec(session, res.id)
    assert spec.revision == 2 and spec.summary == "修订后的摘要"
    assert spec.columns == ["xm", "gmsfhm", "csrq", "lxdh"]
    # Kept columns keep their item ids (other domains may hold them).
    assert {i.column: i.id for i in spec.items if i.column != "lxdh"} == item_ids
    assert service.pending_revision(session, res.id) is None

    # Field-level diff between published revisions and in the history.
    d = service.compare_revisions(session, ADMIN, res.id, 1, 2)
    assert d["fields"]["summary"] == ["全市人口基本信息，含户籍", "修订后的摘要"]
    assert d["items"]["added"] == ["联系电话（lxdh）"]
    actions = [h.action for h in service.history(session, ADMIN, res.id)]
    assert actions == [
        "revise_publish",
        "revise_submit",
        "revise",
        "publish",
        "approve",
        "submit",
        "update",
        "return",
        "submit",
        "create",
    ]
    rows = service.diff_rows(service.history(session, ADMIN, res.id)[0].diff)
    assert ("资源摘要", "全市人口基本信息，含户籍", "修订后的摘要") in rows

    # Every change is audited, and the chain is intact.
    logged = session.scalars(
        select(AuditRecord.action).where(AuditRecord.object_type == "catalog_resource")
    ).all()
    assert logged.count("catalog.submit") == 2 and "catalog.revise_publish" in logged
    assert audit.verify(session).ok

    with pytest.raises(ValidationFailed):
        service.retire_resource(session, ADMIN, res.id, None)
    service.retire_resource(session, ADMIN, res.id, "系统下线")
    assert res.status == "retired"
    with pytest.raises(Conflict):
        service.update_resource(session, off, res.id, data)


def test_officer_scope(session: Session, orgs: tuple[Any, Any]) -> None:
    gaj, mzj = orgs
    draft = make_resource(session, gaj, name="草稿资源")
    published = make_resource(session, gaj, name="已发布资源", publish=True)
    other = officer(mzj)
    with pytest.raises(NotFound):
        service.get_resource(session, other, draft.id)
    # 目录公开: the published catalog is readable city-wide, but not writable.
    assert service.get_resource(session, other, published.id).id == published.id
    with pytest.raises(Forbidden):
        service.update_resource(session, other, published.id, resource_data())
    with pytest.raises(NotFound):
        service.create_resource(session, other, resource_data(owner_org_id=gaj.id))
    public = service.Principal(kind="user", id=None, name="p", role="public")
    with pytest.raises(NotFound):
        service.get_resource(session, public, published.id)


def test_discard_and_delete(session: Session, orgs: tuple[Any, Any]) -> None:
    gaj, _ = orgs
    off = officer(gaj)
    res = make_resource(session, gaj, publish=True)
    service.update_resource(session, off, res.id, resource_data(summary="想改"))
    service.discard_revision(session, off, res.id)
    assert service.pending_revision(session, res.id) is None
    with pytest.raises(Conflict):
        service.delete_resource(session, off, res.id)


def test_specs_for_other_domains(session: Session, orgs: tuple[Any, Any]) -> None:
    gaj, _ = orgs
    res = make_resource(session, gaj, publish=True)
    make_resource(session, gaj, name="草稿资源")
    specs = service.published_specs(session)
    assert [s.code for s in specs] == [res.code]
    spec = service.resource_spec_by_code(session, res.code)
    assert spec.key_columns == ["gmsfhm"] and spec.sensitive_columns == ["xm", "gmsfhm"]
    item = spec.item("gmsfhm")
    assert item and item.data_element == "公民身份号码" and item.masking == "id_number"
    with pytest.raises(PydanticValidationError):  # frozen views
        spec.name = "x"  # type: ignore[misc]
    assert service.consumers_of(session, res.id) == []


def test_api_workflow(client: TestClient, session: Session, orgs: tuple[Any, Any]) -> None:
    gaj, _ = orgs
    make_user(session, "gaj_off", org=gaj)
    make_user(session, "boss", role="admin")
    login(client, "gaj_off", PASSWORD)
    body = resource_data().model_dump(mode="json") | {"owner_org_id": None}
    created = client.post("/api/v1/catalog/resources", json=body)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    assert created.json()["owner_org_id"] == gaj.id
    bad = client.post(
        "/api/v1/catalog/resources",
        json=body | {"name": "另一个", "grade": "L4", "open_type": "受限开放"},
    )
    assert bad.status_code == 422 and "L4" in bad.json()["error"]["message"]
    assert (
        bad.json()["error"]["problems"][0]["field"] == "open_type"
        or bad.json()["error"]["problems"]
    )
    check = client.post("/api/v1/catalog/validate", json=body | {"share_condition": None})
    assert check.json()["ok"] is False
    assert client.post(f"/api/v1/catalog/resources/{rid}/submit", json={}).status_code == 200
    assert client.post(f"/api/v1/catalog/resources/{rid}/approve", json={}).status_code == 403
    client.cookies.clear()
    login(client, "boss", PASSWORD)
    approved = client.post(f"/api/v1/catalog/resources/{rid}/approve", json={"publish": True})
    assert approved.json()["status"] == "published"
    hist = client.get(f"/api/v1/catalog/resources/{rid}/history").json()
    assert hist[0]["action"] == "publish" and hist[-1]["action_label"] == "新建"
    found = client.get("/api/v1/catalog/resources", params={"q": "人口"}).json()
    assert found["total"] == 1 and found["facets"]["share_type"][0]["value"] == "有条件共享"
