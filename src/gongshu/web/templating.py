"""Jinja2 rendering for server-side pages, with the shell's shared context."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from gongshu import __version__
from gongshu.auth.principal import ROLE_LABELS, Principal
from gongshu.plugins import domains
from gongshu.web.deps import csrf_token

WEB_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))


def _local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo("Asia/Shanghai")).strftime(fmt)


templates.env.filters["local_time"] = _local_time
# Root-relative and versioned: works behind any proxy and busts caches on upgrade.
templates.env.globals["static"] = lambda path: f"/static/{path}?v={__version__}"
templates.env.globals["role_label"] = lambda role: ROLE_LABELS.get(role, role)


def flash(request: Request, message: str, kind: str = "success") -> None:
    request.session.setdefault("flash", []).append({"kind": kind, "message": message})


def nav_for(principal: Principal | None, path: str) -> list[dict[str, Any]]:
    if principal is None or not principal.is_authenticated:
        return []
    groups = []
    for domain in domains():
        items = [
            {"title": n.title, "href": n.href, "active": path.startswith(n.href)}
            for n in domain.nav
            if n.roles is None or principal.role in n.roles
        ]
        if items:
            groups.append({"title": domain.title, "items": items})
    return groups


def page_links(request: Request, page: int, size: int, total: int) -> dict[str, Any]:
    pages = max(1, math.ceil(total / size)) if size else 1
    params = dict(request.query_params)

    def url(p: int) -> str:
        return "?" + urlencode(params | {"page": p, "size": size})

    window = [p for p in range(max(1, page - 3), min(pages, page + 3) + 1)]
    return {
        "page": page,
        "pages": pages,
        "total": total,
        "prev": url(page - 1) if page > 1 else None,
        "next": url(page + 1) if page < pages else None,
        "window": [{"n": p, "url": url(p), "current": p == page} for p in window],
    }


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    principal: Principal | None = None,
    breadcrumbs: list[tuple[str, str | None]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    ctx = dict(context or {})
    ctx.update(
        principal=principal,
        nav=nav_for(principal, request.url.path),
        csrf_token=csrf_token(request),
        flashes=request.session.pop("flash", []),
        breadcrumbs=breadcrumbs or [],
    )
    return templates.TemplateResponse(request, template, ctx, status_code=status_code)
