"""Building catalog test data through the real service."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gongshu.auth.principal import Principal
from gongshu.catalog import service
from gongshu.catalog.models import Resource
from gongshu.catalog.schemas import ResourceIn
from gongshu.orgs.models import Org

ADMIN = Principal(kind="user", id=None, name="test-admin", role="admin")


def officer(org: Org, name: str = "officer") -> Principal:
    return Principal(kind="user", id=None, name=name, role="officer", org_id=org.id)


def items(*names: tuple[str, str]) -> list[dict[str, Any]]:
    return [
        {"name": n, "column": c, "data_type": "字符串", "length": 64, "is_key": i == 0}
        for i, (n, c) in enumerate(names)
    ]


PERSON_ITEMS = [
    {
        "name": "姓名",
        "column": "xm",
        "data_type": "字符串",
        "length": 50,
        "data_element": "姓名",
        "is_sensitive": True,
        "masking": "name",
    },
    {
        "name": "公民身份号码",
        "column": "gmsfhm",
        "data_type": "字符串",
        "length": 18,
        "data_element": "公民身份号码",
        "is_sensitive": True,
        "is_key": True,
        "masking": "id_number",
    },
    {"name": "出生日期", "column": "csrq", "data_type": "日期"},
]


def resource_data(**over: Any) -> ResourceIn:
    data: dict[str, Any] = {
        "name": "人口基本信息",
        "summary": "全市户籍人口与常住人口的基本信息",
        "domain": "公共安全",
        "classification": "基础",
        "format": "数据库",
        "update_cycle": "每日",
        "share_type": "有条件共享",
        "share_condition": "用于政务服务身份核验",
        "share_methods": ["系统对接", "联机查询"],
        "open_type": "不予开放",
        "open_reason": "涉及个人隐私",
        "grade": "L3",
        "items": PERSON_ITEMS,
    } | over
    return ResourceIn.model_validate(data)


def make_resource(
    session: Session,
    org: Org,
    *,
    publish: bool = False,
    actor: Principal | None = None,
    **over: Any,
) -> Resource:
    res = service.create_resource(
        session, actor or officer(org), resource_data(owner_org_id=org.id, **over)
    )
    if publish:
        service.submit_resource(session, actor or officer(org), res.id)
        service.approve_resource(session, ADMIN, res.id, publish=True)
    return res
