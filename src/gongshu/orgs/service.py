"""Orgs, regions and systems: creation, edits and org scoping."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from gongshu.audit import service as audit
from gongshu.auth.principal import Principal, Role
from gongshu.errors import Conflict, NotFound, ValidationFailed
from gongshu.orgs.models import Org, Region, System
from gongshu.orgs.regions import national_regions, province_prefixes, validate_region_code
from gongshu.orgs.schemas import OrgCreate, OrgUpdate, RegionCreate, SystemCreate, SystemUpdate

# Fields an officer may change on their own org; the rest is the bureau's.
OFFICER_ORG_FIELDS = {"contact_name", "contact_phone", "description", "short_name"}


def _scoped(stmt: Select[Any], actor: Principal, org_column: Any) -> Select[Any]:
    if actor.can_read_org(None):
        return stmt
    return stmt.where(org_column == actor.org_id)


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# ---- orgs --------------------------------------------------------------------------


def list_orgs(
    session: Session,
    actor: Principal,
    *,
    q: str | None = None,
    level: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Org], int]:
    stmt = _scoped(select(Org), actor, Org.id)
    if q:
        pattern = _like(q.strip())
        stmt = stmt.where(
            or_(Org.name.like(pattern, escape="\\"), Org.code.like(pattern, escape="\\"))
        )
    if level:
        stmt = stmt.where(Org.level == level)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    level_rank = case({"市本级": 0, "区县": 1, "乡镇": 2}, value=Org.level, else_=3)
    rows = session.scalars(stmt.order_by(level_rank, Org.code).offset(offset).limit(limit))
    return list(rows), total


def get_org(session: Session, actor: Principal, org_id: int) -> Org:
    org = session.get(Org, org_id)
    if org is None:
        raise NotFound("部门/单位不存在或无权访问")
    actor.ensure_read(org.id, "部门/单位")
    return org


def _check_unique(session: Session, code: str | None, name: str | None, own_id: int | None) -> None:
    if code is not None:
        clash = session.scalar(select(Org.id).where(Org.code == code))
        if clash is not None and clash != own_id:
            raise Conflict(f"部门编码“{code}”已被使用", code="duplicate_code", field="code")
    if name is not None:
        clash = session.scalar(select(Org.id).where(Org.name == name))
        if clash is not None and clash != own_id:
            raise Conflict(f"部门名称“{name}”已存在", code="duplicate_name", field="name")


def _check_parent(session: Session, parent_id: int | None, own_id: int | None) -> None:
    if parent_id is None:
        return
    if parent_id == own_id:
        raise ValidationFailed("上级单位不能是自己", code="bad_parent", field="parent_id")
    if session.get(Org, parent_id) is None:
        raise ValidationFailed("上级单位不存在", code="bad_parent", field="parent_id")


def create_org(session: Session, actor: Principal, data: OrgCreate) -> Org:
    actor.ensure_role(Role.admin)
    validate_region_code(session, data.region_code)
    _check_unique(session, data.code, data.name, None)
    _check_parent(session, data.parent_id, None)
    org = Org(**data.model_dump())
    session.add(org)
    session.flush()
    audit.record(
        session,
        actor,
        "org.create",
        "org",
        org.id,
        org_id=org.id,
        detail={"code": org.code, "name": org.name},
    )
    session.commit()
    return org


def update_org(session: Session, actor: Principal, org_id: int, data: OrgUpdate) -> Org:
    org = get_org(session, actor, org_id)
    actor.ensure_write(org.id, "部门/单位")
    changes = data.model_dump(exclude_unset=True)
    if not actor.is_admin and set(changes) - OFFICER_ORG_FIELDS:
        raise ValidationFailed(
            "部门专员只能修改联系人、联系电话、简称和说明", code="field_not_allowed"
        )
    for required in ("name", "level", "region_code"):
        if required in changes and changes[required] is None:
            raise ValidationFailed("名称、层级和行政区划不能为空", code="required", field=required)
    if changes.get("region_code"):
        validate_region_code(session, changes["region_code"])
    _check_unique(session, None, changes.get("name"), org.id)
    if "parent_id" in changes:
        _check_parent(session, changes["parent_id"], org.id)
    diff = {k: [getattr(org, k), v] for k, v in changes.items() if getattr(org, k) != v}
    for field, value in changes.items():
        setattr(org, field, value)
    audit.record(session, actor, "org.update", "org", org.id, org_id=org.id, detail=diff)
    session.commit()
    return org


# ---- regions -----------------------------------------------------------------------


def search_regions(session: Session, q: str | None = None, limit: int = 50) -> list[dict[str, str]]:
    local = {c: n for c, n in session.execute(select(Region.code, Region.name))}
    merged = national_regions() | local
    q = (q or "").strip()
    hits = [{"code": c, "name": n} for c, n in merged.items() if not q or c.startswith(q) or q in n]
    return sorted(hits, key=lambda r: r["code"])[:limit]


def add_region(session: Session, actor: Principal, data: RegionCreate) -> Region:
    actor.ensure_role(Role.admin)
    if data.code[:2] not in province_prefixes():
        raise ValidationFailed(
            f"行政区划代码 {data.code} 的省级代码（前两位）不存在", code="bad_region"
        )
    if data.code in national_regions() or session.get(Region, data.code) is not None:
        raise Conflict(f"行政区划代码 {data.code} 已存在", code="duplicate_region")
    region = Region(code=data.code, name=data.name)
    session.add(region)
    audit.record(session, actor, "region.create", "region", data.code, detail={"name": data.name})
    session.commit()
    return region


# ---- systems -----------------------------------------------------------------------


def list_systems(
    session: Session,
    actor: Principal,
    *,
    org_id: int | None = None,
    q: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[System], int]:
    stmt = _scoped(select(System), actor, System.org_id)
    if org_id is not None:
        stmt = stmt.where(System.org_id == org_id)
    if q:
        stmt = stmt.where(System.name.like(_like(q.strip()), escape="\\"))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(System.org_id, System.id).offset(offset).limit(limit))
    return list(rows), total


def get_system(session: Session, actor: Principal, system_id: int) -> System:
    system = session.get(System, system_id)
    if system is None:
        raise NotFound("信息系统不存在或无权访问")
    actor.ensure_read(system.org_id, "信息系统")
    return system


def create_system(session: Session, actor: Principal, data: SystemCreate) -> System:
    org_id = data.org_id if data.org_id is not None else actor.org_id
    if org_id is None:
        raise ValidationFailed("请选择信息系统所属部门", code="org_required", field="org_id")
    get_org(session, actor, org_id)
    actor.ensure_write(org_id, "部门/单位")
    if session.scalar(select(System.id).where(System.org_id == org_id, System.name == data.name)):
        raise Conflict(
            f"本部门已有名为“{data.name}”的信息系统", code="duplicate_name", field="name"
        )
    system = System(**(data.model_dump() | {"org_id": org_id}))
    session.add(system)
    session.flush()
    audit.record(
        session,
        actor,
        "system.create",
        "system",
        system.id,
        org_id=org_id,
        detail={"name": system.name},
    )
    session.commit()
    return system


def update_system(session: Session, actor: Principal, system_id: int, data: SystemUpdate) -> System:
    system = get_system(session, actor, system_id)
    actor.ensure_write(system.org_id, "信息系统")
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise ValidationFailed("系统名称不能为空", code="required", field="name")
    if changes.get("name") and changes["name"] != system.name:
        clash = session.scalar(
            select(System.id).where(System.org_id == system.org_id, System.name == changes["name"])
        )
        if clash:
            raise Conflict(f"本部门已有名为“{changes['name']}”的信息系统", code="duplicate_name")
    diff = {k: [getattr(system, k), v] for k, v in changes.items() if getattr(system, k) != v}
    for field, value in changes.items():
        setattr(system, field, value)
    audit.record(
        session, actor, "system.update", "system", system.id, org_id=system.org_id, detail=diff
    )
    session.commit()
    return system


def counts(session: Session, actor: Principal) -> dict[str, int]:
    orgs_total = list_orgs(session, actor, limit=0)[1]
    systems_total = list_systems(session, actor, limit=0)[1]
    return {"orgs": orgs_total, "systems": systems_total}
