"""JSON API for sharing (``/api/v1/sharing``) and the share gateway route (``/gw/...``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from starlette.routing import Route

from gongshu.auth.principal import Role
from gongshu.catalog import service as catalog
from gongshu.sharing import service, stats
from gongshu.sharing.gateway import gateway_app
from gongshu.sharing.kinds import openapi_document
from gongshu.sharing.schemas import (
    AssignIn,
    BackflowIn,
    BackflowOut,
    DecisionIn,
    DemandIn,
    DemandOut,
    GrantOut,
    HolidayIn,
    InterfaceIn,
    InterfaceOut,
    LinkIn,
    ReasonIn,
    SourceIn,
    StatusIn,
    VolumeIn,
)
from gongshu.web.deps import ApiPrincipal, DbSession, PageParams

router = APIRouter(prefix="/api/v1/sharing", tags=["数据共享"])
# The gateway authenticates by API key only (no cookie session, no CSRF): a plain ASGI
# route outside FastAPI's dependency machinery, so the hot path stays lean.
gateway_router = APIRouter()
gateway_router.routes.append(Route("/gw/{path:path}", gateway_app, include_in_schema=False))
router_all = APIRouter()

Day = Annotated[date | None, Query(description="日期（本地）")]


def _demand(d: Any) -> dict[str, Any]:
    return DemandOut.model_validate(d).model_dump(mode="json") | {"overdue": service.is_overdue(d)}


# ---- demands -----------------------------------------------------------------------


@router.get("/demands", summary="共享申请列表")
def list_demands(
    session: DbSession,
    principal: ApiPrincipal,
    paging: PageParams,
    status_: Annotated[str | None, Query(alias="status", max_length=16)] = None,
    role: Annotated[str | None, Query(pattern="^(mine|todo)$")] = None,
) -> dict[str, Any]:
    rows, total = service.list_demands(
        session, principal, status=status_, role=role, offset=paging.offset, limit=paging.size
    )
    return {"total": total, "items": [_demand(d) for d in rows]}


@router.post("/demands", status_code=status.HTTP_201_CREATED, summary="提交共享申请")
def create_demand(body: DemandIn, session: DbSession, principal: ApiPrincipal) -> dict[str, Any]:
    return _demand(service.create_demand(session, principal, body))


@router.get("/demands/{demand_id}", summary="共享申请详情")
def get_demand(demand_id: int, session: DbSession, principal: ApiPrincipal) -> dict[str, Any]:
    demand = service.get_demand(session, principal, demand_id)
    events = service.demand_events(session, principal, demand_id)
    return _demand(demand) | {
        "events": [
            {"action": e.action, "actor": e.actor_name, "comment": e.comment, "at": e.at}
            for e in events
        ]
    }


@router.post("/demands/{demand_id}/decide", summary="数据提供部门审批（有条件共享）")
def decide(
    demand_id: int, body: DecisionIn, session: DbSession, principal: ApiPrincipal
) -> dict[str, Any]:
    return _demand(
        service.owner_decide(
            session,
            principal,
            demand_id,
            approve=body.approve,
            reason=body.reason,
            terms=body.terms,
        )
    )


@router.post("/demands/{demand_id}/confirm", summary="数据局确认")
def confirm(
    demand_id: int, body: DecisionIn, session: DbSession, principal: ApiPrincipal
) -> dict[str, Any]:
    return _demand(
        service.bureau_confirm(
            session, principal, demand_id, approve=body.approve, reason=body.reason
        )
    )


@router.post("/demands/{demand_id}/withdraw", summary="撤回申请")
def withdraw(demand_id: int, session: DbSession, principal: ApiPrincipal) -> dict[str, Any]:
    return _demand(service.withdraw(session, principal, demand_id))


@router.post("/demands/{demand_id}/escalate", summary="申请协调（对不同意共享提出异议）")
def escalate(
    demand_id: int, body: ReasonIn, session: DbSession, principal: ApiPrincipal
) -> dict[str, Any]:
    return _demand(service.escalate(session, principal, demand_id, body.reason))


@router.post("/demands/{demand_id}/coordinate", summary="数据局协调结论")
def coordinate(
    demand_id: int, body: DecisionIn, session: DbSession, principal: ApiPrincipal
) -> dict[str, Any]:
    return _demand(
        service.coordinate(
            session,
            principal,
            demand_id,
            approve=body.approve,
            reason=body.reason,
            terms=body.terms,
        )
    )


@router.post("/demands/{demand_id}/assign", summary="需求清单交办给部门")
def assign(
    demand_id: int, body: AssignIn, session: DbSession, principal: ApiPrincipal
) -> dict[str, Any]:
    return _demand(service.assign_unmet(session, principal, demand_id, body.org_id, body.comment))


@router.post("/demands/{demand_id}/link", summary="需求清单关联新发布的资源")
def link(
    demand_id: int, body: LinkIn, session: DbSession, principal: ApiPrincipal
) -> dict[str, Any]:
    return _demand(service.link_resource(session, principal, demand_id, body.resource_id))


@router.get("/warnings", summary="到期与超期预警")
def warnings(session: DbSession, principal: ApiPrincipal) -> list[dict[str, Any]]:
    return [
        {
            "demand_id": w.demand.id,
            "due_date": w.demand.due_date,
            "status": w.demand.status,
            "overdue": w.overdue,
            "working_days_left": w.working_days_left,
        }
        for w in service.deadline_warnings(session, principal)
    ]


@router.get("/satisfaction", summary="共享满足率")
def satisfaction(
    session: DbSession, principal: ApiPrincipal, since: Day = None, until: Day = None
) -> dict[str, Any]:
    return service.satisfaction(session, principal, since=since, until=until)


# ---- grants ------------------------------------------------------------------------


@router.get("/grants", summary="共享授权列表（按调用方或资源）")
def list_grants(
    session: DbSession,
    principal: ApiPrincipal,
    paging: PageParams,
    consumer_org_id: int | None = None,
    owner_org_id: int | None = None,
    resource_id: int | None = None,
    status_: Annotated[str | None, Query(alias="status", max_length=12)] = None,
) -> dict[str, Any]:
    rows, total = service.list_grants(
        session,
        principal,
        consumer_org_id=consumer_org_id,
        owner_org_id=owner_org_id,
        resource_id=resource_id,
        status=status_,
        offset=paging.offset,
        limit=paging.size,
    )
    return {"total": total, "items": [GrantOut.model_validate(g) for g in rows]}


@router.get("/grants/{grant_id}", response_model=GrantOut, summary="共享授权详情")
def get_grant(grant_id: int, session: DbSession, principal: ApiPrincipal) -> object:
    return service.get_grant(session, principal, grant_id)


@router.post(
    "/grants/{grant_id}/revoke", response_model=GrantOut, summary="撤销授权（下一次调用即生效）"
)
def revoke_grant(
    grant_id: int, body: ReasonIn, session: DbSession, principal: ApiPrincipal
) -> object:
    return service.revoke_grant(session, principal, grant_id, body.reason)


# ---- interfaces --------------------------------------------------------------------


@router.get("/interfaces", summary="接口目录")
def list_interfaces(
    session: DbSession, principal: ApiPrincipal, paging: PageParams, resource_id: int | None = None
) -> dict[str, Any]:
    rows, total = service.list_interfaces(
        session, principal, resource_id=resource_id, offset=paging.offset, limit=paging.size
    )
    return {"total": total, "items": [InterfaceOut.model_validate(i) for i in rows]}


@router.post(
    "/interfaces",
    response_model=InterfaceOut,
    status_code=status.HTTP_201_CREATED,
    summary="发布接口",
)
def create_interface(body: InterfaceIn, session: DbSession, principal: ApiPrincipal) -> object:
    return service.create_interface(session, principal, body)


@router.get("/interfaces/{interface_id}", response_model=InterfaceOut, summary="接口详情")
def get_interface(interface_id: int, session: DbSession, principal: ApiPrincipal) -> object:
    return service.get_interface(session, principal, interface_id)


@router.get("/interfaces/{interface_id}/openapi.json", summary="接口的 OpenAPI 描述")
def interface_openapi(
    interface_id: int, request: Request, session: DbSession, principal: ApiPrincipal
) -> dict[str, Any]:
    iface = service.get_interface(session, principal, interface_id)
    spec = catalog.resource_spec(session, iface.resource_id)
    return openapi_document(iface, spec, str(request.base_url).rstrip("/") or "/")


@router.post(
    "/interfaces/{interface_id}/status", response_model=InterfaceOut, summary="上线/下线接口"
)
def interface_status(
    interface_id: int, body: StatusIn, session: DbSession, principal: ApiPrincipal
) -> object:
    return service.set_interface_status(session, principal, interface_id, body.status)


# ---- statistics --------------------------------------------------------------------


@router.get("/stats", summary="调用统计：调用量、成功率、时延、错误")
def call_stats(
    session: DbSession,
    principal: ApiPrincipal,
    since: Day = None,
    until: Day = None,
    interface_id: int | None = None,
    consumer_org_id: int | None = None,
) -> dict[str, Any]:
    return stats.call_stats(
        session,
        principal,
        since=since,
        until=until,
        interface_id=interface_id,
        consumer_org_id=consumer_org_id,
    )


@router.get("/kpis", summary="驾驶舱指标：调用量、调用成功率、共享满足率、回流量")
def kpis(
    session: DbSession, principal: ApiPrincipal, since: Day = None, until: Day = None
) -> dict[str, Any]:
    principal.ensure_role(Role.admin, Role.leader)
    return stats.kpis(session, since=since, until=until)


# ---- backflow ----------------------------------------------------------------------


@router.get("/backflows", summary="数据回流申请列表")
def list_backflows(
    session: DbSession, principal: ApiPrincipal, paging: PageParams
) -> dict[str, Any]:
    rows, total = service.list_backflows(
        session, principal, offset=paging.offset, limit=paging.size
    )
    return {"total": total, "items": [BackflowOut.model_validate(b) for b in rows]}


@router.post(
    "/backflows",
    response_model=BackflowOut,
    status_code=status.HTTP_201_CREATED,
    summary="申请数据回流",
)
def create_backflow(body: BackflowIn, session: DbSession, principal: ApiPrincipal) -> object:
    return service.create_backflow(session, principal, body)


@router.get("/backflows/{backflow_id}", response_model=BackflowOut, summary="回流申请详情")
def get_backflow(backflow_id: int, session: DbSession, principal: ApiPrincipal) -> object:
    return service.get_backflow(session, principal, backflow_id)


@router.post("/backflows/{backflow_id}/decide", response_model=BackflowOut, summary="审批回流申请")
def decide_backflow(
    backflow_id: int, body: DecisionIn, session: DbSession, principal: ApiPrincipal
) -> object:
    return service.decide_backflow(
        session, principal, backflow_id, approve=body.approve, comment=body.reason
    )


@router.post("/backflows/{backflow_id}/source", response_model=BackflowOut, summary="关联归集来源")
def link_source(
    backflow_id: int, body: SourceIn, session: DbSession, principal: ApiPrincipal
) -> object:
    return service.link_backflow_source(session, principal, backflow_id, body.source_ref)


@router.post("/backflows/{backflow_id}/volumes", summary="上报回流数据量（由归集任务调用）")
def report_volume(
    backflow_id: int, body: VolumeIn, session: DbSession, principal: ApiPrincipal
) -> dict[str, Any]:
    row = service.report_backflow_volume(session, principal, backflow_id, body)
    return {"day": row.day, "rows": row.rows, "bytes": row.bytes}


@router.get("/backflow-volumes", summary="回流数据量（与共享调用分开统计）")
def backflow_volumes(
    session: DbSession, principal: ApiPrincipal, since: Day = None
) -> dict[str, Any]:
    return service.backflow_volumes(session, principal, since=since)


# ---- calendar ----------------------------------------------------------------------


@router.get("/holidays", summary="工作日历调整表")
def list_holidays(session: DbSession, principal: ApiPrincipal) -> list[dict[str, Any]]:
    return [
        {"day": h.day, "is_workday": h.is_workday, "note": h.note}
        for h in service.list_holidays(session, principal)
    ]


@router.post("/holidays", summary="设置某日是否为工作日")
def set_holiday(body: HolidayIn, session: DbSession, principal: ApiPrincipal) -> dict[str, Any]:
    h = service.set_holiday(session, principal, body)
    return {"day": h.day, "is_workday": h.is_workday, "note": h.note}


router_all.include_router(gateway_router)
router_all.include_router(router)
