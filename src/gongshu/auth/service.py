"""Accounts, login and API keys: every rule about who may act lives here."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongshu.audit import service as audit
from gongshu.auth.models import ApiKey, User
from gongshu.auth.principal import Principal, Role
from gongshu.auth.schemas import ApiKeyCreate, UserCreate, UserUpdate
from gongshu.db import utcnow
from gongshu.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from gongshu.orgs import service as orgs

_hasher = PasswordHasher()
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
KEY_PREFIX = "gs"
# Writing last_used_at on every call would make each gateway call a write.
LAST_USED_RESOLUTION = timedelta(seconds=60)
ORG_ROLES = {Role.officer, Role.consumer, Role.operator}


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_policy(password: str) -> None:
    if len(password) < 8 or not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        raise ValidationFailed("密码至少 8 位，且须同时包含字母和数字", code="weak_password")


def _new_nonce() -> str:
    return secrets.token_hex(16)


def principal_for_user(user: User) -> Principal:
    return Principal(
        kind="user", id=user.id, name=user.username, role=user.role, org_id=user.org_id
    )


def principal_for_key(key: ApiKey) -> Principal:
    return Principal(
        kind="key",
        id=key.created_by,
        name=f"key:{key.prefix}",
        role=key.role,
        org_id=key.org_id,
        key_id=key.id,
    )


# ---- users -------------------------------------------------------------------------


def _check_role_org(session: Session, role: str, org_id: int | None) -> None:
    if role in ORG_ROLES and org_id is None:
        raise ValidationFailed("该角色必须归属一个部门/单位", code="org_required")
    if org_id is not None:
        orgs.get_org(session, Principal.system(), org_id)


def create_user(session: Session, actor: Principal, data: UserCreate) -> User:
    actor.ensure_role(Role.admin)
    check_password_policy(data.password)
    _check_role_org(session, data.role, data.org_id)
    if session.scalar(select(User.id).where(func.lower(User.username) == data.username.lower())):
        raise Conflict(f"用户名“{data.username}”已存在", code="duplicate_username")
    user = User(
        username=data.username,
        display_name=data.display_name,
        password_hash=hash_password(data.password),
        role=data.role,
        org_id=data.org_id,
        phone=data.phone,
        session_nonce=_new_nonce(),
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", "user", user.id, detail={"role": user.role})
    session.commit()
    return user


def get_user(session: Session, actor: Principal, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not (actor.is_admin or actor.id == user_id):
        raise NotFound("用户不存在或无权访问")
    return user


def list_users(session: Session, actor: Principal) -> list[User]:
    actor.ensure_role(Role.admin, Role.leader)
    return list(session.scalars(select(User).order_by(User.id)))


def update_user(session: Session, actor: Principal, user_id: int, data: UserUpdate) -> User:
    actor.ensure_role(Role.admin)
    user = get_user(session, actor, user_id)
    changes = data.model_dump(exclude_unset=True)
    if "password" in changes:
        check_password_policy(changes["password"])
        user.password_hash = hash_password(changes.pop("password"))
        user.session_nonce = _new_nonce()
    role = changes.get("role", user.role)
    org_id = changes.get("org_id", user.org_id)
    _check_role_org(session, role, org_id)
    for field, value in changes.items():
        setattr(user, field, value)
    if changes.get("is_active") is False:
        user.session_nonce = _new_nonce()
    audit.record(session, actor, "user.update", "user", user.id, detail=sorted(changes))
    session.commit()
    return user


def authenticate(session: Session, username: str, password: str, ip: str | None = None) -> User:
    """Check a login; failures are counted, audited and lock the account for a while."""
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    now = utcnow()
    failure = Unauthorized("用户名或密码错误", code="bad_credentials")
    if user is None or not user.is_active:
        _hasher_dummy_verify(password)
        audit.record(
            session, Principal.anonymous(), "auth.login", "user", username, outcome="denied", ip=ip
        )
        session.commit()
        raise failure
    if user.locked_until is not None and user.locked_until > now:
        raise Unauthorized("登录失败次数过多，账户已临时锁定，请 15 分钟后再试", code="locked")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
        audit.record(
            session,
            principal_for_user(user),
            "auth.login",
            "user",
            user.id,
            outcome="denied",
            ip=ip,
        )
        session.commit()
        raise failure from None
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record(session, principal_for_user(user), "auth.login", "user", user.id, ip=ip)
    session.commit()
    return user


def _hasher_dummy_verify(password: str) -> None:
    # Same cost for unknown users, so timing does not reveal which usernames exist.
    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher.verify(_DUMMY_HASH, password)


_DUMMY_HASH = _hasher.hash("gongshu-dummy-password-0")


def user_for_session(session: Session, user_id: int, nonce: str) -> User | None:
    user = session.get(User, user_id)
    if user is None or not user.is_active or not hmac.compare_digest(user.session_nonce, nonce):
        return None
    return user


# ---- API keys ----------------------------------------------------------------------


def _digest(secret: str) -> str:
    # Keys are 256-bit random: a fast hash is safe here, unlike for passwords.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(session: Session, actor: Principal, data: ApiKeyCreate) -> tuple[ApiKey, str]:
    actor.ensure_role(Role.admin, Role.officer)
    org_id = data.org_id if data.org_id is not None else actor.org_id
    if org_id is None:
        raise ValidationFailed("请指定密钥所属部门/单位", code="org_required")
    actor.ensure_write(org_id, "部门")
    if data.system_id is not None:
        system = orgs.get_system(session, actor, data.system_id)
        if system.org_id != org_id:
            raise ValidationFailed("信息系统不属于该部门", code="system_org_mismatch")
    if data.role not in (Role.consumer, Role.operator) and not actor.is_admin:
        raise ValidationFailed("部门只能创建调用方或运营方密钥", code="role_not_allowed")
    if data.expires_at is not None and data.expires_at <= utcnow():
        raise ValidationFailed("过期时间必须晚于当前时间", code="expired")
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    plaintext = f"{KEY_PREFIX}_{prefix}_{secret}"
    key = ApiKey(
        prefix=prefix,
        key_hash=_digest(plaintext),
        name=data.name,
        role=data.role,
        org_id=org_id,
        system_id=data.system_id,
        created_by=actor.id if actor.kind == "user" else None,
        expires_at=data.expires_at,
    )
    session.add(key)
    session.flush()
    audit.record(session, actor, "key.create", "api_key", key.id, org_id=org_id)
    session.commit()
    return key, plaintext


def list_api_keys(session: Session, actor: Principal) -> list[ApiKey]:
    actor.ensure_role(Role.admin, Role.officer, Role.leader)
    stmt = select(ApiKey).order_by(ApiKey.id.desc())
    if not actor.can_read_org(None):
        stmt = stmt.where(ApiKey.org_id == actor.org_id)
    return list(session.scalars(stmt))


def get_api_key(session: Session, actor: Principal, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or not actor.can_read_org(key.org_id):
        raise NotFound("密钥不存在或无权访问")
    return key


def revoke_api_key(session: Session, actor: Principal, key_id: int) -> ApiKey:
    key = get_api_key(session, actor, key_id)
    actor.ensure_write(key.org_id, "密钥")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(session, actor, "key.revoke", "api_key", key.id, org_id=key.org_id)
        session.commit()
    return key


def parse_key(presented: str) -> tuple[str, str] | None:
    parts = presented.strip().split("_")
    if len(parts) < 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 8:
        return None
    return parts[1], presented.strip()


def resolve_api_key(session: Session, presented: str, now: datetime | None = None) -> ApiKey:
    """The active key for a presented secret, or 401. Forged, revoked, expired all fail."""
    parsed = parse_key(presented)
    invalid = Unauthorized("接口密钥无效", code="invalid_key")
    if parsed is None:
        raise invalid
    prefix, full = parsed
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or not hmac.compare_digest(key.key_hash, _digest(full)):
        raise invalid
    now = now or utcnow()
    if key.revoked_at is not None:
        raise Unauthorized("接口密钥已吊销", code="revoked_key")
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthorized("接口密钥已过期", code="expired_key")
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        key.last_used_at = now
        session.commit()
    return key
