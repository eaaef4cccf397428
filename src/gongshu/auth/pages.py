"""Pages: login, logout, users and API keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gongshu.auth import service
from gongshu.auth.principal import ROLE_LABELS, Role
from gongshu.auth.schemas import ApiKeyCreate, UserCreate, UserUpdate
from gongshu.errors import AppError
from gongshu.orgs import service as orgs
from gongshu.web.deps import DbSession, PagePrincipal, client_ip, csrf_token
from gongshu.web.forms import FormData, parse_form
from gongshu.web.templating import flash, render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # Only local paths: never redirect a freshly signed-in user to another site.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Any:
    return render(request, "auth/login.html", {"next": _safe_next(next)})


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, session: DbSession, form: FormData) -> Any:
    username = form.get("username", "").strip()
    target = _safe_next(form.get("next"))
    try:
        user = service.authenticate(session, username, form.get("password", ""), client_ip(request))
    except AppError as exc:
        return render(
            request,
            "auth/login.html",
            {"error": exc.message, "username": username, "next": target},
            status_code=exc.status_code,
        )
    request.session.clear()
    request.session.update({"uid": user.id, "nonce": user.session_nonce})
    csrf_token(request)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, form: FormData) -> Any:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, session: DbSession, principal: PagePrincipal) -> Any:
    users = service.list_users(session, principal)
    org_names = {o.id: o.name for o in orgs.list_orgs(session, principal, limit=10_000)[0]}
    return render(
        request,
        "auth/users.html",
        {"users": users, "org_names": org_names, "roles": ROLE_LABELS},
        principal=principal,
        breadcrumbs=[("用户管理", None)],
    )


@router.post("/users", response_class=HTMLResponse)
def create_user_page(
    request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    try:
        data = parse_form(UserCreate, form)
        user = service.create_user(session, principal, data)
    except AppError as exc:
        flash(request, exc.message, "error")
        return RedirectResponse("/users", status_code=303)
    flash(request, f"已创建用户 {user.username}")
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{user_id}/toggle", response_class=HTMLResponse)
def toggle_user(
    user_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    user = service.get_user(session, principal, user_id)
    service.update_user(session, principal, user_id, UserUpdate(is_active=not user.is_active))
    flash(request, f"已{'停用' if not user.is_active else '启用'}用户 {user.username}")
    return RedirectResponse("/users", status_code=303)


def _keys_view(
    request: Request, session: Any, principal: Any, created: dict[str, str] | None = None
) -> Any:
    keys = service.list_api_keys(session, principal)
    org_rows = orgs.list_orgs(session, principal, limit=10_000)[0]
    systems = orgs.list_systems(session, principal, limit=10_000)[0]
    return render(
        request,
        "auth/keys.html",
        {
            "keys": keys,
            "orgs": org_rows,
            "org_names": {o.id: o.name for o in org_rows},
            "systems": systems,
            "created": created,
            "roles": {r: ROLE_LABELS[r] for r in (Role.consumer, Role.operator)},
        },
        principal=principal,
        breadcrumbs=[("接口密钥", None)],
        status_code=201 if created else 200,
    )


@router.get("/keys", response_class=HTMLResponse)
def keys_page(request: Request, session: DbSession, principal: PagePrincipal) -> Any:
    return _keys_view(request, session, principal)


@router.post("/keys", response_class=HTMLResponse)
def create_key_page(
    request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    try:
        data = parse_form(ApiKeyCreate, form)
        key, plaintext = service.create_api_key(session, principal, data)
    except AppError as exc:
        flash(request, exc.message, "error")
        return RedirectResponse("/keys", status_code=303)
    # Shown once, in this response only; the platform keeps just its hash.
    return _keys_view(request, session, principal, {"name": key.name, "key": plaintext})


@router.post("/keys/{key_id}/revoke", response_class=HTMLResponse)
def revoke_key_page(
    key_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    key = service.revoke_api_key(session, principal, key_id)
    flash(request, f"已吊销密钥 {key.name}")
    return RedirectResponse("/keys", status_code=303)
