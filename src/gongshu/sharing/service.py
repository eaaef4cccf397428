"""Sharing rules: demands and their approval flow, grants, interfaces, backflow, calendar.

"以共享为原则、不共享为例外": 无条件共享 is granted at once; 有条件共享 is decided by the
owner org within ``owner_days`` working days and then confirmed by the bureau; 不予共享 is
refused with the catalog's legal basis. A refusal can be escalated to the bureau (协调).

Public reads for other domains (the cockpit): :func:`satisfaction`, and
``gongshu.sharing.stats.call_stats`` / ``kpis``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session

from gongshu.audit import service as audit
from gongshu.auth.principal import CITYWIDE_READERS, Principal, Role
from gongshu.catalog import service as catalog
from gongshu.catalog.schemas import ResourceSpec
from gongshu.db import utcnow
from gongshu.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gongshu.orgs import service as orgs
from gongshu.sharing import maskers
from gongshu.sharing.models import (
    PENDING,
    Backflow,
    BackflowStatus,
    BackflowVolume,
    Demand,
    DemandEvent,
    DemandStatus,
    Grant,
    Holiday,
    Interface,
)
from gongshu.sharing.schemas import (
    BackflowIn,
    DemandIn,
    HolidayIn,
    InterfaceIn,
    Terms,
    VolumeIn,
)
from gongshu.workdays import WorkCalendar

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
UNCONDITIONAL, CONDITIONAL, NO_SHARE = "无条件共享", "有条件共享", "不予共享"


class SharingSettings(BaseSettings):
    """Bureau-configurable sharing rules (``GONGSHU_SHARING_*``, see docs/sharing.md)."""

    model_config = SettingsConfigDict(env_prefix="GONGSHU_SHARING_", env_file=None, extra="ignore")

    owner_days: int = Field(10, description="有条件共享：数据提供部门答复时限（工作日）")
    bureau_days: int = Field(3, description="数据局确认时限（工作日）")
    coordination_days: int = Field(10, description="协调时限（工作日）")
    warn_days: int = Field(2, description="到期前多少个工作日开始预警")
    success_threshold: float = Field(0.99, description="接口调用成功率预警阈值")
    cache_poll_s: float = Field(1.0, description="网关缓存检查其他进程变更的间隔（秒）")
    flush_interval_s: float = Field(0.5, description="调用日志批量写入间隔（秒）")
    flush_max: int = Field(5000, description="调用日志单批最大条数")
    lookup_threads: int = Field(1, description="网关数仓查询线程数（1 个线程时合并批次最大）")
    serving: bool = Field(True, description="网关按键查询使用只读服务副本（数据目录 serving/）")


@lru_cache
def sharing_settings() -> SharingSettings:
    return SharingSettings()


def local_today() -> date:
    return datetime.now(LOCAL_TZ).date()


# ---- visibility --------------------------------------------------------------------


def can_see(actor: Principal, *org_ids: int | None) -> bool:
    """Requesting org, owner org (and assignee) and the bureau; everyone else gets 404."""
    if actor.role in CITYWIDE_READERS:
        return True
    return actor.org_id is not None and actor.org_id in org_ids


def _ensure_org_member(actor: Principal, org_id: int | None, what: str) -> None:
    """Officers and consumer accounts act for their own org; the admin for any."""
    if actor.is_admin:
        return
    if actor.org_id is None or actor.org_id != org_id:
        raise NotFound(f"{what}不存在或无权访问")
    if actor.role not in (Role.officer, Role.consumer):
        raise Forbidden("当前角色无权执行此操作")


def _scope(stmt: Select[Any], actor: Principal, *columns: Any) -> Select[Any]:
    if actor.role in CITYWIDE_READERS:
        return stmt
    if actor.org_id is None:
        return stmt.where(False)
    return stmt.where(or_(*(c == actor.org_id for c in columns)))


def _event(session: Session, demand: Demand, actor: Principal, action: str, comment: Any) -> None:
    session.add(
        DemandEvent(
            demand_id=demand.id,
            action=action,
            actor_name=actor.name,
            comment=None if comment is None else str(comment),
        )
    )
    audit.record(
        session,
        actor,
        f"sharing.demand.{action}",
        "share_demand",
        demand.id,
        detail={"status": demand.status, "comment": comment},
        org_id=actor.org_id,
    )


# ---- demands -----------------------------------------------------------------------


def get_demand(session: Session, actor: Principal, demand_id: int) -> Demand:
    demand = session.get(Demand, demand_id)
    if demand is None or not can_see(
        actor, demand.requester_org_id, demand.owner_org_id, demand.assigned_org_id
    ):
        raise NotFound("共享申请不存在或无权访问")
    return demand


def list_demands(
    session: Session,
    actor: Principal,
    *,
    status: str | None = None,
    role: str | None = None,  # "mine" (as requester) | "todo" (as owner) | None
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Demand], int]:
    stmt = _scope(
        select(Demand),
        actor,
        Demand.requester_org_id,
        Demand.owner_org_id,
        Demand.assigned_org_id,
    )
    if role == "mine" and actor.org_id is not None:
        stmt = stmt.where(Demand.requester_org_id == actor.org_id)
    elif role == "todo":
        if actor.is_admin:
            stmt = stmt.where(
                Demand.status.in_(
                    [DemandStatus.owner_approved, DemandStatus.escalated, DemandStatus.unmet]
                )
            )
        else:
            stmt = stmt.where(
                or_(
                    (Demand.owner_org_id == actor.org_id)
                    & (Demand.status == DemandStatus.submitted),
                    (Demand.assigned_org_id == actor.org_id)
                    & (Demand.status == DemandStatus.assigned),
                )
            )
    if status:
        stmt = stmt.where(Demand.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Demand.id.desc()).offset(offset).limit(limit))
    return list(rows), total


def demand_events(session: Session, actor: Principal, demand_id: int) -> list[DemandEvent]:
    get_demand(session, actor, demand_id)
    stmt = select(DemandEvent).where(DemandEvent.demand_id == demand_id)
    return list(session.scalars(stmt.order_by(DemandEvent.id)))


def _published_spec(session: Session, actor: Principal, resource_id: int) -> ResourceSpec:
    spec = catalog.get_spec(session, actor, resource_id)
    if spec.status != "published":
        raise ValidationFailed("只能申请已发布的数据资源", code="resource_not_published")
    return spec


def default_masking(spec: ResourceSpec, items: Sequence[str]) -> dict[str, str]:
    """The catalog's masking rule of every sensitive item (the owner may change it)."""
    out: dict[str, str] = {}
    for column in items:
        item = spec.item(column)
        if item is not None and item.is_sensitive and item.masking not in ("", "none"):
            out[column] = item.masking
    return out


def create_demand(
    session: Session, actor: Principal, data: DemandIn, *, today: date | None = None
) -> Demand:
    actor.ensure_role(Role.admin, Role.officer, Role.consumer)
    if actor.org_id is None:
        raise ValidationFailed("申请人必须归属一个部门/单位", code="org_required")
    today = today or local_today()
    start = data.period_start or today
    end = data.period_end or start.replace(year=start.year + 1) - timedelta(days=1)
    if end < start:
        raise ValidationFailed("使用期限的结束日期不能早于开始日期", code="bad_period")
    if data.system_id is not None:
        system = orgs.get_system(session, actor, data.system_id)
        if system.org_id != actor.org_id:
            raise ValidationFailed("使用系统不属于本部门", code="system_org_mismatch")
    demand = Demand(
        requester_org_id=actor.org_id,
        system_id=data.system_id,
        items=list(dict.fromkeys(data.items)),
        purpose=data.purpose,
        basis=data.basis,
        scenario=data.scenario,
        expected_daily_calls=data.expected_daily_calls,
        period_start=start,
        period_end=end,
        created_by=actor.name,
    )
    if data.resource_id is None:
        if not data.wanted:
            raise ValidationFailed(
                "请选择数据资源，或在资源尚不存在时描述所需数据", code="resource_required"
            )
        demand.wanted = data.wanted
        demand.status = DemandStatus.unmet
        session.add(demand)
        session.flush()
        _event(session, demand, actor, "unmet", data.wanted)
        session.commit()
        return demand
    spec = _published_spec(session, actor, data.resource_id)
    if spec.owner_org_id == actor.org_id:
        raise ValidationFailed("本部门的数据无需申请共享", code="own_resource")
    _route(session, actor, demand, spec, today)
    session.commit()
    return demand


def _route(
    session: Session, actor: Principal, demand: Demand, spec: ResourceSpec, today: date
) -> None:
    """Place a demand for an existing resource on its path by the resource's share type."""
    unknown = [c for c in demand.items if spec.item(c) is None]
    if unknown:
        raise ValidationFailed(f"数据项不存在：{'、'.join(unknown)}", code="unknown_items")
    demand.items = demand.items or spec.columns
    demand.resource_id = spec.id
    demand.owner_org_id = spec.owner_org_id
    demand.share_type = spec.share_type
    demand.status = DemandStatus.submitted
    if demand.id is None:
        session.add(demand)
        session.flush()
    if spec.share_type == UNCONDITIONAL:
        demand.status = DemandStatus.granted
        demand.decided_at = utcnow()
        _event(session, demand, actor, "submit", "无条件共享，自动授权")
        _grant_from(session, actor, demand, spec, Terms())
    elif spec.share_type == NO_SHARE:
        demand.status = DemandStatus.refused
        demand.decided_at = utcnow()
        demand.refusal_reason = f"该资源为不予共享资源。依据：{spec.share_basis or '未填写'}"
        _event(session, demand, actor, "submit", demand.refusal_reason)
    else:
        cal = WorkCalendar.load(session)
        demand.status = DemandStatus.submitted
        demand.due_date = cal.add_working_days(today, sharing_settings().owner_days)
        _event(session, demand, actor, "submit", f"有条件共享，请于 {demand.due_date} 前答复")


def check_terms(spec: ResourceSpec, demand: Demand, terms: Terms) -> dict[str, Any]:
    """Validate approval terms: never more than asked, only real items, known maskers."""
    if spec.share_type == NO_SHARE:
        raise ValidationFailed("不予共享的资源不能授权", code="no_share")
    items = list(dict.fromkeys(terms.items)) if terms.items is not None else list(demand.items)
    if not items:
        raise ValidationFailed("至少授权一个数据项", code="no_items")
    extra = [c for c in items if c not in demand.items]
    if extra:
        raise ValidationFailed(
            f"授权数据项超出申请范围：{'、'.join(extra)}", code="items_not_requested"
        )
    missing = [c for c in items if spec.item(c) is None]
    if missing:
        raise ValidationFailed(f"数据项不存在：{'、'.join(missing)}", code="unknown_items")
    masking: dict[str, str] = {}
    for column, rule in terms.masking.items():
        if column not in items:
            raise ValidationFailed(f"脱敏的数据项未被授权：{column}", code="mask_unknown_item")
        if rule not in maskers.names():
            raise ValidationFailed(f"未知的脱敏规则：{rule}", code="unknown_masker")
        masking[column] = rule
    # Sensitive items keep the catalog's masking unless the owner names a rule for them.
    for column, rule in default_masking(spec, items).items():
        masking.setdefault(column, rule)
    row_filter = None
    if terms.row_filter is not None:
        if spec.item(terms.row_filter.column) is None:
            raise ValidationFailed(
                f"行级过滤字段不存在：{terms.row_filter.column}", code="unknown_filter_column"
            )
        row_filter = terms.row_filter.model_dump()
    valid_until = terms.valid_until or demand.period_end
    if valid_until > demand.period_end:
        raise ValidationFailed("授权有效期不能超过申请的使用期限", code="validity_too_long")
    return {
        "items": items,
        "masking": {c: r for c, r in masking.items() if r != "none"},
        "row_filter": row_filter,
        "valid_until": valid_until.isoformat(),
        "daily_quota": terms.daily_quota,
        "rate_limit": terms.rate_limit,
    }


def _grant_from(
    session: Session,
    actor: Principal,
    demand: Demand,
    spec: ResourceSpec,
    terms: Terms | dict[str, Any],
) -> Grant:
    checked = terms if isinstance(terms, dict) else check_terms(spec, demand, terms)
    grant = Grant(
        demand_id=demand.id,
        consumer_org_id=demand.requester_org_id,
        system_id=demand.system_id,
        resource_id=spec.id,
        owner_org_id=spec.owner_org_id,
        items=checked["items"],
        masking=checked["masking"],
        row_filter=checked["row_filter"],
        valid_from=demand.period_start,
        valid_until=date.fromisoformat(checked["valid_until"]),
        daily_quota=checked["daily_quota"],
        rate_limit=checked["rate_limit"],
        status="active",
        created_by=actor.name,
    )
    session.add(grant)
    session.flush()
    audit.record(
        session,
        actor,
        "sharing.grant.create",
        "share_grant",
        grant.id,
        detail={"demand": demand.id, "items": grant.items, "masking": grant.masking},
        org_id=spec.owner_org_id,
    )
    return grant


def _require(demand: Demand, *statuses: str) -> None:
    if demand.status not in statuses:
        raise Conflict("该申请当前状态不允许此操作", code="bad_status")


def _mark_late(demand: Demand, today: date) -> None:
    if demand.due_date is not None and today > demand.due_date:
        demand.late = True


def owner_decide(
    session: Session,
    actor: Principal,
    demand_id: int,
    *,
    approve: bool,
    reason: str | None = None,
    terms: Terms | None = None,
    today: date | None = None,
) -> Demand:
    demand = get_demand(session, actor, demand_id)
    actor.ensure_write(demand.owner_org_id, "共享申请")
    _require(demand, DemandStatus.submitted)
    today = today or local_today()
    _mark_late(demand, today)
    if not approve:
        _refuse(session, actor, demand, reason, "owner_refuse")
        return demand
    assert demand.resource_id is not None
    spec = catalog.resource_spec(session, demand.resource_id)
    demand.terms = check_terms(spec, demand, terms or Terms())
    demand.status = DemandStatus.owner_approved
    demand.due_date = WorkCalendar.load(session).add_working_days(
        today, sharing_settings().bureau_days
    )
    _event(session, demand, actor, "owner_approve", reason)
    session.commit()
    return demand


def _refuse(
    session: Session, actor: Principal, demand: Demand, reason: str | None, action: str
) -> None:
    if not reason or not reason.strip():
        raise ValidationFailed("不同意共享必须说明理由", code="reason_required")
    demand.status = DemandStatus.refused
    demand.refusal_reason = reason.strip()
    demand.decided_at = utcnow()
    _event(session, demand, actor, action, reason)
    session.commit()


def bureau_confirm(
    session: Session,
    actor: Principal,
    demand_id: int,
    *,
    approve: bool,
    reason: str | None = None,
    today: date | None = None,
) -> Demand:
    actor.ensure_role(Role.admin)
    demand = get_demand(session, actor, demand_id)
    _require(demand, DemandStatus.owner_approved)
    _mark_late(demand, today or local_today())
    if not approve:
        _refuse(session, actor, demand, reason, "bureau_refuse")
        return demand
    assert demand.resource_id is not None and demand.terms is not None
    spec = catalog.resource_spec(session, demand.resource_id)
    _grant_from(session, actor, demand, spec, demand.terms)
    demand.status = DemandStatus.granted
    demand.decided_at = utcnow()
    _event(session, demand, actor, "bureau_confirm", reason)
    session.commit()
    return demand


def withdraw(session: Session, actor: Principal, demand_id: int) -> Demand:
    demand = get_demand(session, actor, demand_id)
    _ensure_org_member(actor, demand.requester_org_id, "共享申请")
    _require(demand, *PENDING, DemandStatus.unmet, DemandStatus.assigned)
    demand.status = DemandStatus.withdrawn
    demand.decided_at = utcnow()
    _event(session, demand, actor, "withdraw", None)
    session.commit()
    return demand


def escalate(
    session: Session, actor: Principal, demand_id: int, reason: str, *, today: date | None = None
) -> Demand:
    demand = get_demand(session, actor, demand_id)
    _ensure_org_member(actor, demand.requester_org_id, "共享申请")
    _require(demand, DemandStatus.refused)
    if demand.escalation_reason:
        raise Conflict("该申请已协调过，协调结论为最终结论", code="already_escalated")
    demand.status = DemandStatus.escalated
    demand.escalation_reason = reason
    demand.late = False
    demand.due_date = WorkCalendar.load(session).add_working_days(
        today or local_today(), sharing_settings().coordination_days
    )
    _event(session, demand, actor, "escalate", reason)
    session.commit()
    return demand


def coordinate(
    session: Session,
    actor: Principal,
    demand_id: int,
    *,
    approve: bool,
    reason: str | None = None,
    terms: Terms | None = None,
    today: date | None = None,
) -> Demand:
    """The bureau's coordination result: uphold the refusal or grant (协调通过)."""
    actor.ensure_role(Role.admin)
    demand = get_demand(session, actor, demand_id)
    _require(demand, DemandStatus.escalated)
    _mark_late(demand, today or local_today())
    if not approve:
        _refuse(session, actor, demand, reason, "coordinate_uphold")
        return demand
    assert demand.resource_id is not None
    spec = catalog.resource_spec(session, demand.resource_id)
    _grant_from(session, actor, demand, spec, terms or Terms())
    demand.status = DemandStatus.granted
    demand.decided_at = utcnow()
    _event(session, demand, actor, "coordinate_grant", reason)
    session.commit()
    return demand


def assign_unmet(
    session: Session, actor: Principal, demand_id: int, org_id: int, comment: str | None = None
) -> Demand:
    actor.ensure_role(Role.admin)
    demand = get_demand(session, actor, demand_id)
    _require(demand, DemandStatus.unmet, DemandStatus.assigned)
    org = orgs.get_org(session, actor, org_id)
    demand.assigned_org_id = org.id
    demand.status = DemandStatus.assigned
    _event(session, demand, actor, "assign", comment or org.name)
    session.commit()
    return demand


def link_resource(
    session: Session,
    actor: Principal,
    demand_id: int,
    resource_id: int,
    *,
    today: date | None = None,
) -> Demand:
    """An unmet demand whose resource now exists enters the normal flow."""
    demand = get_demand(session, actor, demand_id)
    _require(demand, DemandStatus.unmet, DemandStatus.assigned)
    if not (actor.is_admin or (actor.org_id and actor.org_id == demand.assigned_org_id)):
        _ensure_org_member(actor, demand.requester_org_id, "共享申请")
    spec = _published_spec(session, actor, resource_id)
    if spec.owner_org_id == demand.requester_org_id:
        raise ValidationFailed("本部门的数据无需申请共享", code="own_resource")
    _event(session, demand, actor, "link", spec.code)
    _route(session, actor, demand, spec, today or local_today())
    session.commit()
    return demand


def is_overdue(demand: Demand, today: date | None = None) -> bool:
    return (
        demand.status in PENDING
        and demand.due_date is not None
        and (today or local_today()) > demand.due_date
    )


@dataclass
class DeadlineWarning:
    demand: Demand
    overdue: bool
    working_days_left: int


def deadline_warnings(
    session: Session, actor: Principal, *, today: date | None = None
) -> list[DeadlineWarning]:
    """Pending demands past or within ``warn_days`` working days of their deadline."""
    today = today or local_today()
    cal = WorkCalendar.load(session)
    horizon = cal.add_working_days(today, sharing_settings().warn_days)
    stmt = _scope(select(Demand), actor, Demand.requester_org_id, Demand.owner_org_id).where(
        Demand.status.in_(list(PENDING)), Demand.due_date <= horizon
    )
    out = []
    for d in session.scalars(stmt.order_by(Demand.due_date)):
        assert d.due_date is not None
        out.append(
            DeadlineWarning(d, today > d.due_date, cal.working_days_between(today, d.due_date))
        )
    return out


def satisfaction(
    session: Session,
    actor: Principal | None = None,
    *,
    since: date | None = None,
    until: date | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """共享满足率 = satisfied / (satisfied + refused + overdue).

    Over demands for existing resources submitted in ``[since, until]`` (local dates).
    satisfied: granted (also late or after coordination); refused: refused with the
    decision final or not yet escalated; overdue: still pending past its deadline.
    Pending demands within their deadline, withdrawn and unmet demands do not count.
    Returned overall, per requesting org (``by_requester``) and per owner org (``by_owner``).
    """
    today = today or local_today()
    stmt = select(
        Demand.requester_org_id, Demand.owner_org_id, Demand.status, Demand.due_date
    ).where(Demand.resource_id.is_not(None))
    if actor is not None:
        stmt = _scope(stmt, actor, Demand.requester_org_id, Demand.owner_org_id)
    if since is not None:
        stmt = stmt.where(Demand.created_at >= _local_start(since))
    if until is not None:
        stmt = stmt.where(Demand.created_at < _local_start(until + timedelta(days=1)))

    def blank() -> dict[str, Any]:
        return {"satisfied": 0, "refused": 0, "overdue": 0, "pending": 0, "rate": None}

    overall = blank()
    by_req: dict[int, dict[str, Any]] = {}
    by_owner: dict[int, dict[str, Any]] = {}
    for req, owner, status, due in session.execute(stmt).all():
        if status == DemandStatus.granted:
            key = "satisfied"
        elif status == DemandStatus.refused:
            key = "refused"
        elif status in PENDING:
            key = "overdue" if due is not None and today > due else "pending"
        else:
            continue
        for bucket in (
            overall,
            by_req.setdefault(req, blank()),
            by_owner.setdefault(owner, blank()),
        ):
            bucket[key] += 1
    for bucket in [overall, *by_req.values(), *by_owner.values()]:
        denom = bucket["satisfied"] + bucket["refused"] + bucket["overdue"]
        bucket["rate"] = bucket["satisfied"] / denom if denom else None
    return {"overall": overall, "by_requester": by_req, "by_owner": by_owner}


def _local_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)


# ---- grants ------------------------------------------------------------------------


def get_grant(session: Session, actor: Principal, grant_id: int) -> Grant:
    grant = session.get(Grant, grant_id)
    if grant is None or not can_see(actor, grant.consumer_org_id, grant.owner_org_id):
        raise NotFound("共享授权不存在或无权访问")
    return grant


def list_grants(
    session: Session,
    actor: Principal,
    *,
    consumer_org_id: int | None = None,
    owner_org_id: int | None = None,
    resource_id: int | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Grant], int]:
    stmt = _scope(select(Grant), actor, Grant.consumer_org_id, Grant.owner_org_id)
    if consumer_org_id is not None:
        stmt = stmt.where(Grant.consumer_org_id == consumer_org_id)
    if owner_org_id is not None:
        stmt = stmt.where(Grant.owner_org_id == owner_org_id)
    if resource_id is not None:
        stmt = stmt.where(Grant.resource_id == resource_id)
    if status:
        stmt = stmt.where(Grant.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Grant.id.desc()).offset(offset).limit(limit))
    return list(rows), total


def revoke_grant(session: Session, actor: Principal, grant_id: int, reason: str) -> Grant:
    """Revocation takes effect on the next gateway call (see gongshu.sharing.gateway)."""
    grant = get_grant(session, actor, grant_id)
    actor.ensure_write(grant.owner_org_id, "共享授权")
    if grant.status != "active":
        raise Conflict("该授权已撤销", code="already_revoked")
    grant.status = "revoked"
    grant.revoked_at = utcnow()
    grant.revoke_reason = reason
    audit.record(
        session,
        actor,
        "sharing.grant.revoke",
        "share_grant",
        grant.id,
        detail={"reason": reason},
        org_id=grant.owner_org_id,
    )
    session.commit()
    return grant


# ---- interfaces --------------------------------------------------------------------


def get_interface(session: Session, actor: Principal, interface_id: int) -> Interface:
    iface = session.get(Interface, interface_id)
    if iface is None or not _can_see_interface(session, actor, iface):
        raise NotFound("接口不存在或无权访问")
    return iface


def _can_see_interface(session: Session, actor: Principal, iface: Interface) -> bool:
    if can_see(actor, iface.owner_org_id):
        return True
    if actor.org_id is None:
        return False
    has_grant = session.scalar(
        select(func.count())
        .select_from(Grant)
        .where(Grant.resource_id == iface.resource_id, Grant.consumer_org_id == actor.org_id)
    )
    return bool(has_grant)


def list_interfaces(
    session: Session,
    actor: Principal,
    *,
    resource_id: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Interface], int]:
    stmt = select(Interface)
    if actor.role not in CITYWIDE_READERS:
        granted = select(Grant.resource_id).where(Grant.consumer_org_id == actor.org_id)
        stmt = stmt.where(
            or_(Interface.owner_org_id == actor.org_id, Interface.resource_id.in_(granted))
        )
    if resource_id is not None:
        stmt = stmt.where(Interface.resource_id == resource_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Interface.id).offset(offset).limit(limit))
    return list(rows), total


def create_interface(session: Session, actor: Principal, data: InterfaceIn) -> Interface:
    from gongshu.sharing.kinds import interface_kinds

    spec = catalog.get_spec(session, actor, data.resource_id)
    actor.ensure_write(spec.owner_org_id, "数据资源")
    if spec.status != "published":
        raise ValidationFailed("只能为已发布的数据资源发布接口", code="resource_not_published")
    if spec.share_type == NO_SHARE:
        raise ValidationFailed("不予共享的资源不能发布共享接口", code="no_share")
    if data.kind not in interface_kinds.names():
        raise ValidationFailed(f"未知的接口类型：{data.kind}", code="unknown_kind")
    keys = data.key_columns or spec.key_columns
    if data.kind != "export" and not keys:
        raise ValidationFailed("请指定查询键数据项", code="key_required")
    bad = [
        c for c in [*keys, data.cursor_column or keys[0] if keys else ""] if c and not spec.item(c)
    ]
    if bad:
        raise ValidationFailed(f"数据项不存在：{'、'.join(bad)}", code="unknown_items")
    if session.scalar(select(Interface.id).where(Interface.code == data.code)):
        raise Conflict(f"接口编码“{data.code}”已存在", code="duplicate_code")
    iface = Interface(
        code=data.code,
        name=data.name,
        kind=data.kind,
        resource_id=spec.id,
        owner_org_id=spec.owner_org_id,
        key_columns=keys,
        batch_max=data.batch_max,
        page_size=data.page_size,
        cursor_column=data.cursor_column,
        description=data.description,
        status="online",
        created_by=actor.name,
    )
    session.add(iface)
    session.flush()
    audit.record(
        session,
        actor,
        "sharing.interface.create",
        "share_interface",
        iface.id,
        detail={"code": iface.code, "kind": iface.kind},
        org_id=spec.owner_org_id,
    )
    session.commit()
    return iface


def set_interface_status(
    session: Session, actor: Principal, interface_id: int, status: str
) -> Interface:
    iface = get_interface(session, actor, interface_id)
    actor.ensure_write(iface.owner_org_id, "接口")
    if status not in ("online", "offline"):
        raise ValidationFailed("状态只能是 online 或 offline", code="bad_status")
    iface.status = status
    audit.record(
        session,
        actor,
        f"sharing.interface.{status}",
        "share_interface",
        iface.id,
        org_id=iface.owner_org_id,
    )
    session.commit()
    return iface


# ---- backflow (数据回流) -------------------------------------------------------------


def get_backflow(session: Session, actor: Principal, backflow_id: int) -> Backflow:
    bf = session.get(Backflow, backflow_id)
    if bf is None or not can_see(actor, bf.requester_org_id):
        raise NotFound("回流申请不存在或无权访问")
    return bf


def list_backflows(
    session: Session, actor: Principal, *, offset: int = 0, limit: int = 50
) -> tuple[list[Backflow], int]:
    stmt = _scope(select(Backflow), actor, Backflow.requester_org_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Backflow.id.desc()).offset(offset).limit(limit))
    return list(rows), total


def create_backflow(session: Session, actor: Principal, data: BackflowIn) -> Backflow:
    actor.ensure_role(Role.admin, Role.officer)
    if actor.org_id is None:
        raise ValidationFailed("申请人必须归属一个部门/单位", code="org_required")
    bf = Backflow(
        requester_org_id=actor.org_id,
        status=BackflowStatus.submitted,
        created_by=actor.name,
        **data.model_dump(),
    )
    session.add(bf)
    session.flush()
    audit.record(session, actor, "sharing.backflow.create", "share_backflow", bf.id)
    session.commit()
    return bf


def decide_backflow(
    session: Session,
    actor: Principal,
    backflow_id: int,
    *,
    approve: bool,
    comment: str | None = None,
) -> Backflow:
    actor.ensure_role(Role.admin)
    bf = get_backflow(session, actor, backflow_id)
    if bf.status != BackflowStatus.submitted:
        raise Conflict("该回流申请当前状态不允许审批", code="bad_status")
    if not approve and not comment:
        raise ValidationFailed("不同意时必须说明理由", code="reason_required")
    bf.status = BackflowStatus.approved if approve else BackflowStatus.refused
    bf.decision_comment = comment
    bf.decided_at = utcnow()
    audit.record(
        session,
        actor,
        f"sharing.backflow.{'approve' if approve else 'refuse'}",
        "share_backflow",
        bf.id,
        org_id=bf.requester_org_id,
    )
    session.commit()
    return bf


def link_backflow_source(
    session: Session, actor: Principal, backflow_id: int, source_ref: str
) -> Backflow:
    """Attach the ingest ``Source`` that pulls the data (link point to the ingest domain)."""
    actor.ensure_role(Role.admin)
    bf = get_backflow(session, actor, backflow_id)
    if bf.status not in (BackflowStatus.approved, BackflowStatus.active):
        raise Conflict("回流申请须先审批通过", code="bad_status")
    bf.source_ref = source_ref
    bf.status = BackflowStatus.active
    audit.record(
        session, actor, "sharing.backflow.link", "share_backflow", bf.id, detail=source_ref
    )
    session.commit()
    return bf


def report_backflow_volume(
    session: Session, actor: Principal, backflow_id: int, data: VolumeIn
) -> BackflowVolume:
    """Add a day's pulled rows (called by the ingest run of the linked Source)."""
    actor.ensure_role(Role.admin)
    bf = get_backflow(session, actor, backflow_id)
    if bf.status not in (BackflowStatus.approved, BackflowStatus.active):
        raise Conflict("回流申请未审批通过", code="bad_status")
    row = session.scalar(
        select(BackflowVolume).where(
            BackflowVolume.backflow_id == bf.id, BackflowVolume.day == data.day
        )
    )
    if row is None:
        row = BackflowVolume(backflow_id=bf.id, day=data.day, rows=0, bytes=0)
        session.add(row)
    row.rows += data.rows
    row.bytes += data.bytes
    audit.record(
        session,
        actor,
        "sharing.backflow.volume",
        "share_backflow",
        bf.id,
        detail={"day": data.day.isoformat(), "rows": data.rows},
    )
    session.commit()
    return row


def backflow_volumes(
    session: Session, actor: Principal, *, since: date | None = None
) -> dict[str, Any]:
    """Backflow volume, reported separately from sharing calls: total and per request."""
    stmt = (
        select(Backflow.id, func.sum(BackflowVolume.rows), func.sum(BackflowVolume.bytes))
        .join(BackflowVolume, BackflowVolume.backflow_id == Backflow.id)
        .group_by(Backflow.id)
    )
    stmt = _scope(stmt, actor, Backflow.requester_org_id)
    if since is not None:
        stmt = stmt.where(BackflowVolume.day >= since)
    per = {bid: {"rows": int(r or 0), "bytes": int(b or 0)} for bid, r, b in session.execute(stmt)}
    return {
        "rows": sum(v["rows"] for v in per.values()),
        "bytes": sum(v["bytes"] for v in per.values()),
        "by_backflow": per,
    }


# ---- calendar ----------------------------------------------------------------------


def list_holidays(session: Session, actor: Principal) -> list[Holiday]:
    actor.ensure_role(Role.admin, Role.leader)
    return list(session.scalars(select(Holiday).order_by(Holiday.day)))


def set_holiday(session: Session, actor: Principal, data: HolidayIn) -> Holiday:
    actor.ensure_role(Role.admin)
    row = session.get(Holiday, data.day)
    if row is None:
        row = Holiday(day=data.day, created_by=actor.name, is_workday=data.is_workday)
        session.add(row)
    row.is_workday = data.is_workday
    row.note = data.note
    audit.record(
        session,
        actor,
        "sharing.calendar.set",
        "share_holiday",
        data.day.isoformat(),
        detail={"workday": data.is_workday, "note": data.note},
    )
    session.commit()
    return row


def delete_holiday(session: Session, actor: Principal, day: date) -> None:
    actor.ensure_role(Role.admin)
    session.execute(delete(Holiday).where(Holiday.day == day))
    audit.record(session, actor, "sharing.calendar.delete", "share_holiday", day.isoformat())
    session.commit()
