"""Releases freeze the published catalog; two releases compare by code."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gongshu.catalog import releases, service
from gongshu.catalog.schemas import ReleaseCreate
from gongshu.errors import Conflict, Forbidden
from tests.catalog.helpers import ADMIN, make_resource, officer
from tests.conftest import login
from tests.factories import PASSWORD, make_org, make_user


def test_release_counts_and_compare(session: Session) -> None:
    gaj = make_org(session, "GAJ", name="示例市公安局")
    mzj = make_org(session, "MZJ", name="示例市民政局")
    with pytest.raises(Conflict):
        releases.create_release(session, ADMIN, ReleaseCreate(name="空版"))
    pop = make_resource(session, gaj, publish=True)
    marry = make_resource(
        session,
        mzj,
        publish=True,
        name="婚姻登记信息",
        share_type="不予共享",
        share_condition=None,
        share_basis="《婚姻登记条例》",
        share_methods=[],
        grade="L4",
    )
    gone = make_resource(session, mzj, publish=True, name="社会组织登记信息", domain="机构团体")
    make_resource(session, gaj, name="草稿不入版本")
    with pytest.raises(Forbidden):
        releases.create_release(session, officer(gaj), ReleaseCreate(name="2025版"))
    r1 = releases.create_release(session, ADMIN, ReleaseCreate(name="2025版"))
    assert (r1.resource_count, r1.item_count) == (3, 9)
    assert r1.stats["by_org"] == {"示例市民政局": 2, "示例市公安局": 1}
    assert r1.stats["by_share_type"] == {"有条件共享": 2, "不予共享": 1}
    assert r1.stats["by_open_type"] == {"不予开放": 3}
    assert r1.stats["by_domain"]["机构团体"] == 1
    with pytest.raises(Conflict):
        releases.create_release(session, ADMIN, ReleaseCreate(name="2025版"))

    # Changes after the release: one revised, one retired, one added.
    data = service.to_input(session, pop).model_copy(update={"summary": "新摘要"})
    service.update_resource(session, officer(gaj), pop.id, data)
    service.submit_resource(session, officer(gaj), pop.id)
    service.approve_resource(session, ADMIN, pop.id)
    service.retire_resource(session, ADMIN, gone.id, "停止维护")
    new = make_resource(session, gaj, publish=True, name="居住证办理信息")
    r2 = releases.create_release(session, ADMIN, ReleaseCreate(name="2026版"))
    # The old edition is frozen: it still shows the old summary.
    old_entry = next(
        e for e in releases.release_entries(session, ADMIN, r1.id) if e.code == pop.code
    )
    assert old_entry.data["summary"] != "新摘要" and old_entry.revision == 1

    c = releases.compare_releases(session, ADMIN, r1.id, r2.id)
    assert [a["code"] for a in c.added] == [new.code]
    assert [a["code"] for a in c.removed] == [gone.code]
    assert [ch["code"] for ch in c.changed] == [pop.code]
    assert c.changed[0]["diff"]["fields"]["summary"][1] == "新摘要"
    assert c.unchanged == 1 and marry.code not in {ch["code"] for ch in c.changed}


def test_release_pages(client: TestClient, session: Session) -> None:
    gaj = make_org(session, "GAJ", name="示例市公安局")
    make_user(session, "boss", role="admin")
    make_user(session, "gaj_off", org=gaj)
    make_resource(session, gaj, publish=True)
    login(client, "boss", PASSWORD)
    resp = client.post(
        "/catalog/releases",
        data={"csrf_token": client.headers["X-CSRF-Token"], "name": "2026版"},
        follow_redirects=False,
    )
    assert resp.status_code == 303
    rid = int(resp.headers["location"].rsplit("/", 1)[1])
    page = client.get(f"/catalog/releases/{rid}")
    assert page.status_code == 200 and "data-chart" in page.text and "示例市公安局" in page.text
    api = client.get("/api/v1/catalog/releases").json()
    assert api[0]["stats"]["by_share_type"] == {"有条件共享": 1}
    client.cookies.clear()
    login(client, "gaj_off", PASSWORD)
    assert client.get(f"/catalog/releases/{rid}").status_code == 200  # editions are city-wide
    assert client.post("/api/v1/catalog/releases", json={"name": "x"}).status_code == 403
