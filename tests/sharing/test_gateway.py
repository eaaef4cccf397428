"""The gateway enforces exactly what was granted, through every interface kind, and
logs every call."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongshu.audit import service as audit
from gongshu.auth import service as auth
from gongshu.auth.models import ApiKey
from gongshu.auth.principal import Principal
from gongshu.config import Settings
from gongshu.db import utcnow
from gongshu.sharing import service
from gongshu.sharing.models import Call, CallDaily, Grant
from gongshu.sharing.schemas import InterfaceIn, RowFilter, Terms
from tests.factories import make_key
from tests.sharing.helpers import (
    World,
    build_world,
    consumer_key,
    grant_person,
    publish_interface,
)

BAD_CHECK = "11010519491231002Y"


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _people(w: World, district: str | None = None) -> list[dict[str, Any]]:
    rows = w.persons.to_pylist()
    return [r for r in rows if district is None or r["xzqh"] == district]


def _flush(client: TestClient) -> None:
    client.portal.call(client.app.state.gateway.flush)  # type: ignore[attr-defined]


@pytest.fixture
def setup(client: TestClient, session: Session, settings: Settings) -> dict[str, Any]:
    w = build_world(session, settings)
    district = _people(w)[0]["xzqh"]
    grant = grant_person(
        session,
        w,
        Terms(
            items=["gmsfhm", "xm", "csrq", "xzqh"],
            row_filter=RowFilter(column="xzqh", values=[district]),
        ),
    )
    for kind in ("query", "verify", "batch", "export"):
        publish_interface(
            session, w, kind, **({"cursor_column": "csrq"} if kind == "export" else {})
        )
    key, plain = consumer_key(session, w)
    return {"w": w, "grant": grant, "key": key, "plain": plain, "district": district}


def test_query_returns_masked_granted_items_of_allowed_rows(
    client: TestClient, setup: dict[str, Any]
) -> None:
    w, plain, district = setup["w"], setup["plain"], setup["district"]
    inside = _people(w, district)[0]
    r = client.get("/gw/person-query", params={"gmsfhm": inside["gmsfhm"]}, headers=_h(plain))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == 1
    row = body["data"][0]
    assert set(row) == {"gmsfhm", "xm", "csrq", "xzqh"}  # never sjhm or zz
    assert row["gmsfhm"] == inside["gmsfhm"][:6] + "********" + inside["gmsfhm"][-4:]
    assert row["xm"] == inside["xm"][0] + "*" * (len(inside["xm"]) - 1)
    assert row["csrq"] == inside["csrq"].isoformat() and row["xzqh"] == district
    # X-API-Key works as well; a lower-case x in the ID is normalised.
    r2 = client.get(
        "/gw/person-query", params={"gmsfhm": inside["gmsfhm"]}, headers={"X-API-Key": plain}
    )
    assert r2.json() == body
    # A row outside the grant's row filter is not there for this consumer.
    outside = next(p for p in _people(w) if p["xzqh"] != district)
    r = client.get("/gw/person-query", params={"gmsfhm": outside["gmsfhm"]}, headers=_h(plain))
    assert r.status_code == 200 and r.json() == {"data": [], "count": 0}
    # Items beyond the grant are refused, not silently dropped.
    r = client.get(
        "/gw/person-query",
        params={"gmsfhm": inside["gmsfhm"], "fields": "xm,sjhm"},
        headers=_h(plain),
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "item_not_granted"
    r = client.get(
        "/gw/person-query", params={"gmsfhm": inside["gmsfhm"], "fields": "xm"}, headers=_h(plain)
    )
    assert list(r.json()["data"][0]) == ["xm"]


def test_a_repeated_field_is_masked_too(client: TestClient, setup: dict[str, Any]) -> None:
    """``fields=xm,xm`` once returned the second, unmasked copy of the name."""
    w, plain, district = setup["w"], setup["plain"], setup["district"]
    p = _people(w, district)[0]
    masked_name = p["xm"][0] + "*" * (len(p["xm"]) - 1)
    r = client.get(
        "/gw/person-query",
        params={"gmsfhm": p["gmsfhm"], "fields": "xm,gmsfhm,xm"},
        headers=_h(plain),
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"] == [
        {"xm": masked_name, "gmsfhm": p["gmsfhm"][:6] + "********" + p["gmsfhm"][-4:]}
    ]
    assert p["xm"] not in r.text
    r = client.post(
        "/gw/person-batch", json={"keys": [p["gmsfhm"]], "fields": ["xm", "xm"]}, headers=_h(plain)
    )
    assert r.json()["data"][p["gmsfhm"]] == [{"xm": masked_name}]
    r = client.get(
        "/gw/person-export", params={"fields": "xm,xm", "limit": "50"}, headers=_h(plain)
    )
    assert r.status_code == 200 and all("*" in row["xm"] for row in r.json()["data"])


def test_malformed_parameters_are_400_before_any_query(
    client: TestClient, setup: dict[str, Any]
) -> None:
    plain = setup["plain"]
    for value, code in [(BAD_CHECK, "bad_param"), ("12345", "bad_param"), ("", "missing_param")]:
        r = client.get("/gw/person-query", params={"gmsfhm": value}, headers=_h(plain))
        assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    r = client.get("/gw/person-query", headers=_h(plain))
    assert r.status_code == 400
    r = client.post("/gw/person-query", headers=_h(plain))
    assert r.status_code == 405
    r = client.get("/gw/nope", params={"gmsfhm": BAD_CHECK}, headers=_h(plain))
    assert r.status_code == 404 and r.json()["error"]["code"] == "interface_not_found"


def test_forged_revoked_and_expired_keys(
    client: TestClient, session: Session, setup: dict[str, Any]
) -> None:
    w, key, plain = setup["w"], setup["key"], setup["plain"]
    person = _people(w, setup["district"])[0]["gmsfhm"]
    calls = [
        ("get", "/gw/person-query", {"params": {"gmsfhm": person}}),
        ("get", "/gw/person-verify", {"params": {"gmsfhm": person, "xm": "张三"}}),
        ("post", "/gw/person-batch", {"json": {"keys": [person]}}),
        ("get", "/gw/person-export", {}),
    ]

    def codes(headers: dict[str, str]) -> set[tuple[int, str]]:
        out = set()
        for method, url, kw in calls:
            r = client.request(method, url, headers=headers, **kw)
            out.add((r.status_code, r.json().get("error", {}).get("code", "ok")))
        return out

    assert codes(_h(plain)) == {(200, "ok")}
    forged = plain[:-4] + ("AAAA" if not plain.endswith("AAAA") else "BBBB")
    assert codes(_h(forged)) == {(401, "invalid_key")}
    assert codes({}) == {(401, "missing_key")}
    assert codes(_h("not-a-key")) == {(401, "invalid_key")}
    # Expiry is checked against the clock on every call.
    k = session.get(ApiKey, key.id)
    assert k is not None
    k.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert codes(_h(plain)) == {(401, "expired_key")}
    k.expires_at = None
    session.commit()
    assert codes(_h(plain)) == {(200, "ok")}
    # Revocation through the auth service takes effect on the very next call.
    auth.revoke_api_key(session, Principal.system("test"), key.id)
    assert codes(_h(plain)) == {(401, "revoked_key")}


def test_revoked_expired_and_missing_grants(
    client: TestClient, session: Session, setup: dict[str, Any]
) -> None:
    w, plain, grant = setup["w"], setup["plain"], setup["grant"]
    person = _people(w, setup["district"])[0]["gmsfhm"]
    q = {"gmsfhm": person}
    assert client.get("/gw/person-query", params=q, headers=_h(plain)).status_code == 200
    # A resource the consumer holds no grant for (unconditional data is still granted
    # per demand): 403, through the gateway, whatever the key.
    service.create_interface(
        session,
        w.owner_officer,
        InterfaceIn(resource_id=w.enterprise.id, code="ent-query", name="企业查询"),
    )
    r = client.get("/gw/ent-query", params={"tyshxydm": "91330100MA27XL0E2T"}, headers=_h(plain))
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_granted"
    # Another org's key: not granted, though the key itself is valid.
    _, other_key = make_key(session, w.other, name="旁观局密钥")
    r = client.get("/gw/person-query", params=q, headers=_h(other_key))
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_granted"
    g = session.get(Grant, grant.id)
    assert g is not None
    g.valid_until = date.today() - timedelta(days=2)
    session.commit()
    r = client.get("/gw/person-query", params=q, headers=_h(plain))
    assert r.status_code == 403 and r.json()["error"]["code"] == "grant_expired"
    g.valid_until = date.today() + timedelta(days=30)
    session.commit()
    assert client.get("/gw/person-query", params=q, headers=_h(plain)).status_code == 200
    service.revoke_grant(session, w.owner_officer, grant.id, "用途已结束")
    for method, url, kw in [
        ("get", "/gw/person-query", {"params": q}),
        ("get", "/gw/person-verify", {"params": q | {"xm": "张三"}}),
        ("post", "/gw/person-batch", {"json": {"keys": [person]}}),
        ("get", "/gw/person-export", {}),
    ]:
        r = client.request(method, url, headers=_h(plain), **kw)
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_granted", url


def test_verify_returns_no_data(client: TestClient, setup: dict[str, Any]) -> None:
    w, plain = setup["w"], setup["plain"]
    p = _people(w, setup["district"])[0]
    r = client.get(
        "/gw/person-verify",
        params={"gmsfhm": p["gmsfhm"], "xm": p["xm"], "csrq": "1900-01-01"},
        headers=_h(plain),
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"match": {"xm": True, "csrq": False}, "all_match": False}
    assert p["xm"] not in r.text and p["gmsfhm"] not in r.text
    r = client.post(
        "/gw/person-verify",
        json={"key": {"gmsfhm": p["gmsfhm"]}, "claims": {"xm": p["xm"], "csrq": str(p["csrq"])}},
        headers=_h(plain),
    )
    assert r.json() == {"match": {"xm": True, "csrq": True}, "all_match": True}
    # Verifying an item that was not granted is refused like reading it.
    r = client.get(
        "/gw/person-verify", params={"gmsfhm": p["gmsfhm"], "sjhm": p["sjhm"]}, headers=_h(plain)
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "item_not_granted"
    # Rows outside the grant's filter verify as no match (their existence is not revealed).
    outside = next(x for x in _people(w) if x["xzqh"] != setup["district"])
    r = client.get(
        "/gw/person-verify",
        params={"gmsfhm": outside["gmsfhm"], "xm": outside["xm"]},
        headers=_h(plain),
    )
    assert r.json() == {"match": {"xm": False}, "all_match": False}


def test_batch(client: TestClient, setup: dict[str, Any]) -> None:
    w, plain, district = setup["w"], setup["plain"], setup["district"]
    inside = [p["gmsfhm"] for p in _people(w, district)[:3]]
    outside = next(p["gmsfhm"] for p in _people(w) if p["xzqh"] != district)
    r = client.post("/gw/person-batch", json={"keys": [*inside, outside]}, headers=_h(plain))
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(body["data"]) == sorted(inside) and body["missing"] == [outside]
    first = body["data"][inside[0]][0]
    assert first["gmsfhm"].count("*") == 8 and "sjhm" not in first
    r = client.post("/gw/person-batch", json={"keys": inside, "fields": ["zz"]}, headers=_h(plain))
    assert r.status_code == 403
    r = client.post("/gw/person-batch", json={"keys": [inside[0], BAD_CHECK]}, headers=_h(plain))
    assert r.status_code == 400 and "第 2 个" in r.json()["error"]["message"]
    r = client.post("/gw/person-batch", json={"keys": inside * 40}, headers=_h(plain))
    assert r.status_code == 400 and r.json()["error"]["code"] == "too_many_keys"
    r = client.post("/gw/person-batch", content=b"{oops", headers=_h(plain))
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json"


def test_export_pages_with_cursor(client: TestClient, setup: dict[str, Any]) -> None:
    w, plain, district = setup["w"], setup["plain"], setup["district"]
    expected = sorted(p["gmsfhm"] for p in _people(w, district))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "7"} | ({"cursor": cursor} if cursor else {})
        r = client.get("/gw/person-export", params=params, headers=_h(plain))
        assert r.status_code == 200, r.text
        body = r.json()
        for row in body["data"]:
            assert row["xzqh"] == district and "sjhm" not in row and "*" in row["gmsfhm"]
            seen.append(row["gmsfhm"])
        pages += 1
        cursor = body["next_cursor"]
        assert cursor is None or district not in cursor
        if not body["has_more"]:
            break
    assert len(seen) == len(expected) and pages == -(-len(expected) // 7)
    masked = sorted(x[:6] + "********" + x[-4:] for x in expected)
    assert sorted(seen) == masked
    bad = client.get("/gw/person-export", params={"cursor": "%%%"}, headers=_h(plain))
    assert bad.status_code == 400
    too_big = client.get("/gw/person-export", params={"limit": "100000"}, headers=_h(plain))
    assert too_big.status_code == 400


def test_quota_and_rate_limit(client: TestClient, session: Session, settings: Settings) -> None:
    w = build_world(session, settings)
    grant_person(session, w, Terms(daily_quota=3, rate_limit=1000))
    publish_interface(session, w, "query")
    _, plain = consumer_key(session, w)
    person = _people(w)[0]["gmsfhm"]
    statuses = [
        client.get("/gw/person-query", params={"gmsfhm": person}, headers=_h(plain)).status_code
        for _ in range(3)
    ]
    # A malformed call does not consume quota.
    bad = client.get("/gw/person-query", params={"gmsfhm": BAD_CHECK}, headers=_h(plain))
    r = client.get("/gw/person-query", params={"gmsfhm": person}, headers=_h(plain))
    assert statuses == [200, 200, 200] and bad.status_code == 400
    assert r.status_code == 429 and r.json()["error"]["code"] == "quota_exceeded"
    # The quota survives a restart: used calls are read back from the flushed log.
    _flush(client)
    client.app.state.gateway.reload()  # type: ignore[attr-defined]
    client.app.state.gateway.limits.used.clear()  # type: ignore[attr-defined]
    client.app.state.gateway.limits.day = None  # type: ignore[attr-defined]
    client.app.state.gateway.reload()  # type: ignore[attr-defined]
    r = client.get("/gw/person-query", params={"gmsfhm": person}, headers=_h(plain))
    assert r.status_code == 429


def test_rate_limit(client: TestClient, session: Session, settings: Settings) -> None:
    w = build_world(session, settings)
    grant_person(session, w, Terms(rate_limit=2))
    publish_interface(session, w, "query")
    _, plain = consumer_key(session, w)
    person = _people(w)[0]["gmsfhm"]
    codes = [
        client.get("/gw/person-query", params={"gmsfhm": person}, headers=_h(plain)).status_code
        for _ in range(6)
    ]
    assert codes[:2] == [200, 200] and 429 in codes[2:]
    r = client.get("/gw/person-query", params={"gmsfhm": person}, headers=_h(plain))
    if r.status_code == 429:
        assert r.json()["error"]["code"] == "rate_limited"


def test_every_call_is_logged_and_sealed_in_the_audit_chain(
    client: TestClient, session: Session, setup: dict[str, Any]
) -> None:
    w, plain = setup["w"], setup["plain"]
    person = _people(w, setup["district"])[0]["gmsfhm"]
    sent = 0
    for params, headers in [
        ({"gmsfhm": person}, _h(plain)),
        ({"gmsfhm": BAD_CHECK}, _h(plain)),
        ({"gmsfhm": person}, _h("gs_00000000_forged")),
        ({"gmsfhm": person}, {}),
    ]:
        client.get("/gw/person-query", params=params, headers=headers)
        sent += 1
    assert client.get("/gw/ping").json() == {"status": "ok"}  # the bare floor: not a call
    _flush(client)
    rows = list(session.scalars(select(Call).order_by(Call.id)))
    assert [(c.status, c.error_code) for c in rows] == [
        (200, None),
        (400, "bad_param"),
        (401, "invalid_key"),
        (401, "missing_key"),
    ]
    ok = rows[0]
    assert ok.key_id == setup["key"].id and ok.grant_id == setup["grant"].id
    assert ok.consumer_org_id == w.consumer.id and ok.owner_org_id == w.owner.id
    assert ok.rows == 1 and ok.bytes > 0 and ok.latency_ms > 0 and len(ok.params_digest) == 16
    assert person not in ok.params_digest
    daily = session.scalar(select(func.sum(CallDaily.calls)))
    assert daily == sent
    assert audit.verify(session).ok
    sealed = audit.search(session, action="sharing.gateway.calls")[0]
    assert sealed and sealed[0].detail and '"calls":4' in sealed[0].detail
