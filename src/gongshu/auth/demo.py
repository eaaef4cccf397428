"""示例市 accounts: one per role, plus an officer for every department."""

from __future__ import annotations

from gongshu.auth import service
from gongshu.auth.principal import Principal, Role
from gongshu.auth.schemas import UserCreate
from gongshu.demo import DEMO_ACCOUNTS, DemoContext
from gongshu.orgs.demo import DEPARTMENTS, DISTRICTS

OFFICER_PASSWORD = "Officer@2026"


def build(ctx: DemoContext) -> None:
    actor = Principal.system("demo")
    orgs: dict[str, int] = ctx.shared["orgs"]
    fixed = {
        "admin": (Role.admin, "SJJ", "数据局管理员"),
        "zwfw_app": (Role.consumer, "ZWFWB", "政务服务调用方"),
        "operator": (Role.operator, "SJJT", "授权运营专员"),
        "leader": (Role.leader, None, "市领导"),
        "citizen": (Role.public, None, "示例市民"),
    }
    passwords = {u: p for u, p, _ in DEMO_ACCOUNTS}
    for username, (role, org_code, display) in fixed.items():
        service.create_user(
            ctx.session,
            actor,
            UserCreate(
                username=username,
                display_name=display,
                password=passwords[username],
                role=role,
                org_id=orgs[org_code] if org_code else None,
            ),
        )
    for code, _name, short, _systems in DEPARTMENTS:
        service.create_user(
            ctx.session,
            actor,
            UserCreate(
                username=f"{code.lower()}_officer",
                display_name=f"{short}数据专员",
                password=OFFICER_PASSWORD,
                role=Role.officer,
                org_id=orgs[code],
            ),
        )
    for code, _region, name in DISTRICTS:
        service.create_user(
            ctx.session,
            actor,
            UserCreate(
                username=f"{code.lower()}_officer",
                display_name=f"{name}数据专员",
                password=OFFICER_PASSWORD,
                role=Role.officer,
                org_id=orgs[code],
            ),
        )
    ctx.accounts.extend(DEMO_ACCOUNTS)
