"""Sharing test data through the real services: orgs, users, published resources,
a warehouse table of synthetic persons, interfaces, demands, grants and keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa
from sqlalchemy.orm import Session

from gongshu.auth.principal import Principal
from gongshu.catalog import service as catalog
from gongshu.catalog.schemas import ResourceSpec
from gongshu.config import Settings
from gongshu.sharing import service, synth
from gongshu.sharing.schemas import DemandIn, InterfaceIn, Terms
from gongshu.warehouse import shared as shared_warehouse
from gongshu.warehouse import table_name_for
from tests.catalog.helpers import ADMIN, make_resource, officer
from tests.factories import make_key, make_org, make_system, make_user

PERSON_ITEMS = [
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
    {
        "name": "姓名",
        "column": "xm",
        "data_type": "字符串",
        "length": 50,
        "data_element": "姓名",
        "is_sensitive": True,
        "masking": "name",
    },
    {"name": "性别", "column": "xb", "data_type": "字符串", "length": 1},
    {"name": "出生日期", "column": "csrq", "data_type": "日期"},
    {"name": "行政区划", "column": "xzqh", "data_type": "字符串", "length": 6},
    {
        "name": "手机号码",
        "column": "sjhm",
        "data_type": "字符串",
        "length": 11,
        "data_element": "手机号码",
        "is_sensitive": True,
        "masking": "phone",
    },
    {"name": "住址", "column": "zz", "data_type": "字符串", "length": 200},
]
ENTERPRISE_ITEMS = [
    {
        "name": "统一社会信用代码",
        "column": "tyshxydm",
        "data_type": "字符串",
        "length": 18,
        "data_element": "统一社会信用代码",
        "is_key": True,
    },
    {"name": "企业名称", "column": "qymc", "data_type": "字符串", "length": 100},
]


@dataclass
class World:
    owner: Any
    consumer: Any
    other: Any
    consumer_system: Any
    person: ResourceSpec
    enterprise: ResourceSpec
    secret: ResourceSpec
    persons: pa.Table
    owner_officer: Principal
    consumer_officer: Principal
    other_officer: Principal
    admin: Principal = ADMIN
    extra: dict[str, Any] = field(default_factory=dict)


def consumer_principal(org: Any, name: str = "consumer") -> Principal:
    return Principal(kind="user", id=None, name=name, role="consumer", org_id=org.id)


def build_world(session: Session, settings: Settings | None = None, rows: int = 300) -> World:
    owner = make_org(session, "OWN", name="示例公安局")
    consumer = make_org(session, "CON", name="示例政务办")
    other = make_org(session, "OTH", name="示例旁观局")
    system = make_system(session, consumer, "一网通办系统")
    person = make_resource(session, owner, publish=True, name="人口基本信息", items=PERSON_ITEMS)
    enterprise = make_resource(
        session,
        owner,
        publish=True,
        name="企业登记信息",
        share_type="无条件共享",
        share_condition=None,
        grade="L1",
        items=ENTERPRISE_ITEMS,
    )
    secret = make_resource(
        session,
        owner,
        publish=True,
        name="侦查案件信息",
        share_type="不予共享",
        share_condition=None,
        share_basis="《中华人民共和国刑事诉讼法》第一百五十二条",
        share_methods=[],
        grade="L4",
        items=[
            {
                "name": "案件编号",
                "column": "ajbh",
                "data_type": "字符串",
                "length": 30,
                "is_key": True,
            }
        ],
    )
    persons = synth.persons(rows, seed=7)
    if settings is not None:
        wh = shared_warehouse(settings.warehouse_url)
        spec = catalog.resource_spec(session, person.id)
        wh.put_table(table_name_for(spec.code), persons)
    return World(
        owner=owner,
        consumer=consumer,
        other=other,
        consumer_system=system,
        person=catalog.resource_spec(session, person.id),
        enterprise=catalog.resource_spec(session, enterprise.id),
        secret=catalog.resource_spec(session, secret.id),
        persons=persons,
        owner_officer=officer(owner, "own_officer"),
        consumer_officer=officer(consumer, "con_officer"),
        other_officer=officer(other, "oth_officer"),
    )


def demand_in(resource_id: int | None, **over: Any) -> DemandIn:
    data: dict[str, Any] = {
        "resource_id": resource_id,
        "items": ["gmsfhm", "xm", "csrq", "xzqh"],
        "purpose": "一网通办身份核验",
        "basis": "《浙江省公共数据条例》第二十九条",
        "scenario": "群众办事时核验身份信息",
        "expected_daily_calls": 5000,
    } | over
    return DemandIn.model_validate(data)


def grant_person(
    session: Session,
    w: World,
    terms: Terms | None = None,
    items: list[str] | None = None,
    today: date | None = None,
) -> Any:
    """File a demand for the person resource and approve it through owner + bureau."""
    d = service.create_demand(
        session,
        w.consumer_officer,
        demand_in(w.person.id, **({"items": items} if items else {})),
        today=today,
    )
    service.owner_decide(session, w.owner_officer, d.id, approve=True, terms=terms, today=today)
    service.bureau_confirm(session, w.admin, d.id, approve=True, today=today)
    grants, _ = service.list_grants(session, w.admin, resource_id=w.person.id)
    return next(g for g in grants if g.demand_id == d.id)


def publish_interface(session: Session, w: World, kind: str = "query", **over: Any) -> Any:
    data = {
        "resource_id": w.person.id,
        "code": f"person-{kind}",
        "name": f"人口{kind}",
        "kind": kind,
    } | over
    return service.create_interface(session, w.owner_officer, InterfaceIn.model_validate(data))


def consumer_key(session: Session, w: World, **fields: Any) -> tuple[Any, str]:
    return make_key(session, w.consumer, name="政务办密钥", **fields)


__all__ = ["build_world", "consumer_principal", "make_user"]
