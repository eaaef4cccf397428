"""JSON API for orgs, regions and information systems."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from gongshu.orgs import service
from gongshu.orgs.schemas import (
    OrgCreate,
    OrgOut,
    OrgUpdate,
    RegionCreate,
    RegionOut,
    SystemCreate,
    SystemOut,
    SystemUpdate,
)
from gongshu.web.deps import ApiPrincipal, DbSession, PageParams

router = APIRouter(prefix="/api/v1", tags=["部门与系统"])


@router.get("/orgs", summary="部门/单位列表")
def list_orgs(
    session: DbSession,
    principal: ApiPrincipal,
    paging: PageParams,
    q: Annotated[str | None, Query(max_length=100, description="按名称或编码搜索")] = None,
    level: Annotated[str | None, Query(max_length=8)] = None,
) -> dict[str, object]:
    rows, total = service.list_orgs(
        session, principal, q=q, level=level, offset=paging.offset, limit=paging.size
    )
    return {"total": total, "items": [OrgOut.model_validate(r) for r in rows]}


@router.post(
    "/orgs", response_model=OrgOut, status_code=status.HTTP_201_CREATED, summary="新建部门/单位"
)
def create_org(body: OrgCreate, session: DbSession, principal: ApiPrincipal) -> object:
    return service.create_org(session, principal, body)


@router.get("/orgs/{org_id}", response_model=OrgOut, summary="部门/单位详情")
def get_org(org_id: int, session: DbSession, principal: ApiPrincipal) -> object:
    return service.get_org(session, principal, org_id)


@router.patch("/orgs/{org_id}", response_model=OrgOut, summary="修改部门/单位")
def update_org(org_id: int, body: OrgUpdate, session: DbSession, principal: ApiPrincipal) -> object:
    return service.update_org(session, principal, org_id, body)


@router.get("/regions", response_model=list[RegionOut], summary="行政区划代码查询")
def search_regions(
    session: DbSession,
    principal: ApiPrincipal,
    q: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, str]]:
    return service.search_regions(session, q, limit)


@router.post(
    "/regions",
    response_model=RegionOut,
    status_code=status.HTTP_201_CREATED,
    summary="补充行政区划代码",
)
def add_region(body: RegionCreate, session: DbSession, principal: ApiPrincipal) -> object:
    region = service.add_region(session, principal, body)
    return {"code": region.code, "name": region.name}


@router.get("/systems", summary="信息系统列表")
def list_systems(
    session: DbSession,
    principal: ApiPrincipal,
    paging: PageParams,
    org_id: int | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, object]:
    rows, total = service.list_systems(
        session, principal, org_id=org_id, q=q, offset=paging.offset, limit=paging.size
    )
    return {"total": total, "items": [SystemOut.model_validate(r) for r in rows]}


@router.post(
    "/systems",
    response_model=SystemOut,
    status_code=status.HTTP_201_CREATED,
    summary="登记信息系统",
)
def create_system(body: SystemCreate, session: DbSession, principal: ApiPrincipal) -> object:
    return service.create_system(session, principal, body)


@router.get("/systems/{system_id}", response_model=SystemOut, summary="信息系统详情")
def get_system(system_id: int, session: DbSession, principal: ApiPrincipal) -> object:
    return service.get_system(session, principal, system_id)


@router.patch("/systems/{system_id}", response_model=SystemOut, summary="修改信息系统")
def update_system(
    system_id: int, body: SystemUpdate, session: DbSession, principal: ApiPrincipal
) -> object:
    return service.update_system(session, principal, system_id, body)
