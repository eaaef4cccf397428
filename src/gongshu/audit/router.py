"""JSON API for the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gongshu.audit import service
from gongshu.auth.principal import Role
from gongshu.web.deps import ApiPrincipal, DbSession, PageParams

router = APIRouter(prefix="/api/v1/audit", tags=["审计日志"])


@router.get("", summary="审计记录查询")
def search(
    session: DbSession,
    principal: ApiPrincipal,
    paging: PageParams,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    object_type: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, object]:
    principal.ensure_role(Role.admin, Role.leader)
    rows, total = service.search(
        session,
        action=action,
        actor=actor,
        object_type=object_type,
        offset=paging.offset,
        limit=paging.size,
    )
    items = [
        {
            c: getattr(r, c)
            for c in (
                "seq",
                "ts",
                "actor_type",
                "actor_name",
                "org_id",
                "action",
                "object_type",
                "object_id",
                "outcome",
                "ip",
                "detail",
                "hash",
            )
        }
        for r in rows
    ]
    return {"total": total, "items": items}


@router.get("/verify", summary="校验审计链")
def verify(session: DbSession, principal: ApiPrincipal) -> dict[str, object]:
    principal.ensure_role(Role.admin)
    result = service.verify(session)
    return {
        "ok": result.ok,
        "checked": result.checked,
        "broken_seq": result.broken_seq,
        "message": result.message(),
    }
