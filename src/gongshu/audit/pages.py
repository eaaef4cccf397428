"""Pages: the audit log and its verification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from gongshu.audit import service
from gongshu.auth.principal import Role
from gongshu.web.deps import DbSession, PageParams, PagePrincipal
from gongshu.web.templating import page_links, render

router = APIRouter(include_in_schema=False)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    paging: PageParams,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    verify: bool = False,
) -> Any:
    principal.ensure_role(Role.admin, Role.leader)
    rows, total = service.search(
        session, action=action, actor=actor, offset=paging.offset, limit=paging.size
    )
    result = service.verify(session) if verify and principal.is_admin else None
    return render(
        request,
        "audit/list.html",
        {
            "records": rows,
            "action": action or "",
            "actor": actor or "",
            "result": result,
            "pager": page_links(request, paging.page, paging.size, total),
        },
        principal=principal,
        breadcrumbs=[("审计日志", None)],
    )
