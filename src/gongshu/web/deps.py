"""Request dependencies: the DB session, who is calling, CSRF and paging."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from gongshu.auth import service as auth
from gongshu.auth.principal import Principal
from gongshu.errors import AppError, Forbidden, Unauthorized

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LoginRequired(Exception):
    """Raised by page routes; turned into a redirect to the login page."""


def get_session(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_session)]


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key")


def session_user_principal(request: Request, session: Session) -> Principal | None:
    data = request.session
    uid, nonce = data.get("uid"), data.get("nonce")
    if not isinstance(uid, int) or not isinstance(nonce, str):
        return None
    user = auth.user_for_session(session, uid, nonce)
    if user is None:
        data.clear()
        return None
    return auth.principal_for_user(user)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, presented: str | None) -> None:
    expected = request.session.get("csrf")
    if not expected or not presented or not hmac.compare_digest(str(expected), presented):
        raise Forbidden("页面已过期或请求来源不可信，请刷新页面后重试", code="csrf")


def get_principal(request: Request, session: DbSession) -> Principal:
    """The caller of a JSON API route: an API key, or the signed-in user's cookie."""
    key = presented_key(request)
    if key:
        return auth.principal_for_key(auth.resolve_api_key(session, key))
    principal = session_user_principal(request, session)
    if principal is None:
        return Principal.anonymous()
    if request.method in UNSAFE_METHODS:
        # Cookie-authenticated writes need the page's CSRF token in a header.
        check_csrf(request, request.headers.get("x-csrf-token"))
    return principal


def api_principal(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_authenticated:
        raise Unauthorized("请先登录或提供接口密钥", code="unauthenticated")
    return principal


ApiPrincipal = Annotated[Principal, Depends(api_principal)]


def page_principal(request: Request, session: DbSession) -> Principal:
    principal = session_user_principal(request, session)
    if principal is None:
        raise LoginRequired
    return principal


PagePrincipal = Annotated[Principal, Depends(page_principal)]


async def verify_page_csrf(request: Request) -> None:
    if request.method in UNSAFE_METHODS:
        form = await request.form()
        token = form.get("csrf_token") or request.headers.get("x-csrf-token")
        check_csrf(request, token if isinstance(token, str) else None)


@dataclass
class Paging:
    page: int
    size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def paging(
    page: Annotated[int, Query(ge=1, le=100_000, description="页码")] = 1,
    size: Annotated[int, Query(ge=1, le=500, description="每页条数")] = 20,
) -> Paging:
    return Paging(page, size)


PageParams = Annotated[Paging, Depends(paging)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def error_message(exc: Exception) -> str:
    return exc.message if isinstance(exc, AppError) else "服务器内部错误，请联系管理员"
