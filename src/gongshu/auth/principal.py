"""Who is acting: a signed-in user, an API key, the system itself or nobody."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gongshu.errors import Forbidden, NotFound


class Role(StrEnum):
    admin = "admin"  # 数据局管理员
    officer = "officer"  # 部门数据专员
    consumer = "consumer"  # 调用方
    operator = "operator"  # 授权运营单位
    leader = "leader"  # 领导
    public = "public"  # 社会公众 / 开发者


ROLE_LABELS: dict[str, str] = {
    Role.admin: "数据局管理员",
    Role.officer: "部门数据专员",
    Role.consumer: "调用方",
    Role.operator: "授权运营单位",
    Role.leader: "领导",
    Role.public: "社会公众",
}

# Roles that see every org's objects (leaders read only).
CITYWIDE_READERS = frozenset({Role.admin, Role.leader})


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" | "key" | "system" | "anonymous"
    id: int | None
    name: str
    role: str
    org_id: int | None = None
    key_id: int | None = None

    @classmethod
    def system(cls, name: str = "system") -> Principal:
        return cls(kind="system", id=None, name=name, role=Role.admin)

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(kind="anonymous", id=None, name="anonymous", role=Role.public)

    @property
    def is_authenticated(self) -> bool:
        return self.kind != "anonymous"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin

    def can_read_org(self, org_id: int | None) -> bool:
        if self.role in CITYWIDE_READERS:
            return True
        return org_id is not None and org_id == self.org_id

    def can_write_org(self, org_id: int | None) -> bool:
        if self.role == Role.admin:
            return True
        return self.role == Role.officer and org_id is not None and org_id == self.org_id

    def ensure_read(self, org_id: int | None, what: str = "对象") -> None:
        # 404, not 403: an officer must not learn that another org's object exists.
        if not self.can_read_org(org_id):
            raise NotFound(f"{what}不存在或无权访问")

    def ensure_write(self, org_id: int | None, what: str = "对象") -> None:
        self.ensure_read(org_id, what)
        if not self.can_write_org(org_id):
            raise Forbidden(f"无权修改该{what}")

    def ensure_role(self, *roles: str) -> None:
        if self.role not in roles:
            raise Forbidden("当前角色无权执行此操作")
