"""Login sessions, password hashing, lockout, CSRF and API keys."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongshu.audit.models import AuditRecord
from gongshu.auth import service as auth
from gongshu.auth.models import ApiKey, User
from gongshu.auth.schemas import UserUpdate
from gongshu.db import utcnow
from tests.conftest import login
from tests.factories import PASSWORD, SYSTEM, make_key, make_org, make_system, make_user


def test_passwords_are_argon2_hashed(session: Session) -> None:
    user = make_user(session, "hashme", role="admin")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_login_logout_and_wrong_password(client: TestClient, session: Session) -> None:
    make_user(session, "alice", role="admin")
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
    bad = client.post("/login", data={"username": "alice", "password": "nope", "csrf_token": "x"})
    assert bad.status_code == 403  # no valid CSRF token from the login page
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    wrong = client.post(
        "/login", data={"username": "alice", "password": "wrong1234", "csrf_token": token}
    )
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    login(client, "alice", PASSWORD)
    home = client.get("/")
    assert home.status_code == 200 and "工作台" in home.text
    csrf = client.headers["X-CSRF-Token"]
    client.post("/logout", data={"csrf_token": csrf})
    assert client.get("/", follow_redirects=False).status_code == 303
    outcomes = session.scalars(
        select(AuditRecord.outcome).where(AuditRecord.action == "auth.login")
    ).all()
    assert "denied" in outcomes and "ok" in outcomes


def test_lockout_after_repeated_failures(session: Session) -> None:
    make_user(session, "bob", role="admin")
    for _ in range(auth.MAX_FAILED_LOGINS):
        try:
            auth.authenticate(session, "bob", "wrong-password1")
        except Exception as exc:
            assert "用户名或密码错误" in str(exc)
    try:
        auth.authenticate(session, "bob", PASSWORD)
    except Exception as exc:
        assert "锁定" in str(exc)
    else:
        raise AssertionError("account should be locked")


def test_password_change_kills_sessions(client: TestClient, session: Session) -> None:
    user = make_user(session, "carol", role="admin")
    login(client, "carol", PASSWORD)
    assert client.get("/").status_code == 200
    auth.update_user(session, SYSTEM, user.id, UserUpdate(password="NewPassw0rd"))
    assert client.get("/", follow_redirects=False).status_code == 303


def test_cookie_writes_need_csrf_header(client: TestClient, session: Session) -> None:
    make_user(session, "dave", role="admin")
    login(client, "dave", PASSWORD)
    del client.headers["X-CSRF-Token"]
    body = {"code": "CSRF", "name": "跨站", "level": "市本级", "region_code": "330100"}
    resp = client.post("/api/v1/orgs", json=body)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "csrf"


def test_api_key_shown_once_and_stored_hashed(client: TestClient, session: Session) -> None:
    org = make_org(session, "KEYORG")
    system = make_system(session, org)
    make_user(session, "keyadmin", role="admin")
    login(client, "keyadmin", PASSWORD)
    resp = client.post(
        "/api/v1/keys", json={"name": "调用", "org_id": org.id, "system_id": system.id}
    )
    assert resp.status_code == 201, resp.text
    plaintext = resp.json()["key"]
    assert plaintext.startswith("gs_")
    stored = session.scalar(select(ApiKey).where(ApiKey.id == resp.json()["id"]))
    assert stored is not None and plaintext not in stored.key_hash and len(stored.key_hash) == 64
    again = client.get(f"/api/v1/keys/{stored.id}").json()
    assert "key" not in again and again["prefix"] == stored.prefix


def test_api_key_auth_forged_revoked_expired(app, session: Session) -> None:  # type: ignore[no-untyped-def]
    org = make_org(session, "APIORG")
    key, plaintext = make_key(session, org)
    with TestClient(app) as c:
        me = c.get("/api/v1/me", headers={"Authorization": f"Bearer {plaintext}"})
        assert me.status_code == 200 and me.json()["org_id"] == org.id
        assert me.json()["role"] == "consumer"
        session.expire_all()
        assert session.get(ApiKey, key.id).last_used_at is not None  # type: ignore[union-attr]
        forged = plaintext[:-4] + ("AAAA" if not plaintext.endswith("AAAA") else "BBBB")
        for bad in (forged, "gs_deadbeef_xyz", "not-a-key", ""):
            resp = c.get("/api/v1/me", headers={"X-API-Key": bad})
            assert resp.status_code == 401, bad
            assert resp.json()["error"]["message"] in ("接口密钥无效", "请先登录或提供接口密钥")
        auth.revoke_api_key(session, SYSTEM, key.id)
        revoked = c.get("/api/v1/me", headers={"X-API-Key": plaintext})
        assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "revoked_key"
        old, old_plain = make_key(session, org, name="过期")
        old.expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
        expired = c.get("/api/v1/me", headers={"X-API-Key": old_plain})
        assert expired.status_code == 401 and expired.json()["error"]["code"] == "expired_key"


def test_api_key_cannot_manage_users(app, session: Session) -> None:  # type: ignore[no-untyped-def]
    org = make_org(session, "K2")
    _, plaintext = make_key(session, org)
    with TestClient(app) as c:
        resp = c.get("/api/v1/users", headers={"X-API-Key": plaintext})
        assert resp.status_code == 403
        create = c.post(
            "/api/v1/users",
            headers={"X-API-Key": plaintext},
            json={
                "username": "xone1",
                "display_name": "x",
                "password": "abc12345",
                "role": "admin",
            },
        )
        assert create.status_code == 403
    assert session.scalar(select(User).where(User.username == "xone1")) is None


def test_weak_password_rejected(client: TestClient, session: Session) -> None:
    make_user(session, "eve", role="admin")
    login(client, "eve", PASSWORD)
    resp = client.post(
        "/api/v1/users",
        json={"username": "weak", "display_name": "弱", "password": "abcdefgh", "role": "leader"},
    )
    assert resp.status_code == 422 and "字母和数字" in resp.json()["error"]["message"]
    officer_without_org = client.post(
        "/api/v1/users",
        json={"username": "o1", "display_name": "专员", "password": "abcd1234", "role": "officer"},
    )
    assert officer_without_org.status_code == 422
