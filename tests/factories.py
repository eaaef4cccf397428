"""Test data made through the real services (no mocks, no raw inserts)."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from gongshu.auth import service as auth
from gongshu.auth.models import ApiKey, User
from gongshu.auth.principal import Principal, Role
from gongshu.auth.schemas import ApiKeyCreate, UserCreate
from gongshu.orgs import service as orgs
from gongshu.orgs.models import Org, System
from gongshu.orgs.schemas import OrgCreate, SystemCreate

SYSTEM = Principal.system("test")
PASSWORD = "Passw0rd-test"
_seq = itertools.count(1)


def make_org(session: Session, code: str | None = None, **fields: object) -> Org:
    n = next(_seq)
    data = {
        "code": code or f"ORG{n}",
        "name": f"测试部门{code or n}",
        "level": "市本级",
        "region_code": "330100",
    } | fields
    return orgs.create_org(session, SYSTEM, OrgCreate.model_validate(data))


def make_system(session: Session, org: Org, name: str | None = None) -> System:
    return orgs.create_system(
        session, SYSTEM, SystemCreate(org_id=org.id, name=name or f"系统{next(_seq)}")
    )


def make_user(
    session: Session, username: str, role: str = Role.officer, org: Org | None = None
) -> User:
    return auth.create_user(
        session,
        SYSTEM,
        UserCreate(
            username=username,
            display_name=username,
            password=PASSWORD,
            role=Role(role),
            org_id=org.id if org else None,
        ),
    )


def make_key(
    session: Session, org: Org, name: str = "测试密钥", **fields: object
) -> tuple[ApiKey, str]:
    return auth.create_api_key(
        session, SYSTEM, ApiKeyCreate.model_validate({"name": name, "org_id": org.id} | fields)
    )
