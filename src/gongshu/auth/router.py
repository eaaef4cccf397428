"""JSON API for users and API keys."""

from __future__ import annotations

from fastapi import APIRouter, status

from gongshu.auth import service
from gongshu.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from gongshu.web.deps import ApiPrincipal, DbSession

router = APIRouter(prefix="/api/v1", tags=["用户与密钥"])


@router.get("/me", summary="当前调用者")
def me(principal: ApiPrincipal) -> dict[str, object]:
    return {
        "kind": principal.kind,
        "name": principal.name,
        "role": principal.role,
        "org_id": principal.org_id,
    }


@router.get("/users", response_model=list[UserOut], summary="用户列表")
def list_users(session: DbSession, principal: ApiPrincipal) -> list[object]:
    return list(service.list_users(session, principal))


@router.post(
    "/users", response_model=UserOut, status_code=status.HTTP_201_CREATED, summary="创建用户"
)
def create_user(body: UserCreate, session: DbSession, principal: ApiPrincipal) -> object:
    return service.create_user(session, principal, body)


@router.get("/users/{user_id}", response_model=UserOut, summary="用户详情")
def get_user(user_id: int, session: DbSession, principal: ApiPrincipal) -> object:
    return service.get_user(session, principal, user_id)


@router.patch("/users/{user_id}", response_model=UserOut, summary="修改用户")
def update_user(
    user_id: int, body: UserUpdate, session: DbSession, principal: ApiPrincipal
) -> object:
    return service.update_user(session, principal, user_id, body)


@router.get("/keys", response_model=list[ApiKeyOut], summary="接口密钥列表")
def list_keys(session: DbSession, principal: ApiPrincipal) -> list[object]:
    return list(service.list_api_keys(session, principal))


@router.post(
    "/keys",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    summary="创建接口密钥",
)
def create_key(body: ApiKeyCreate, session: DbSession, principal: ApiPrincipal) -> ApiKeyCreated:
    key, plaintext = service.create_api_key(session, principal, body)
    out = ApiKeyOut.model_validate(key, from_attributes=True)
    return ApiKeyCreated(**out.model_dump(), key=plaintext)


@router.get("/keys/{key_id}", response_model=ApiKeyOut, summary="密钥详情")
def get_key(key_id: int, session: DbSession, principal: ApiPrincipal) -> object:
    return service.get_api_key(session, principal, key_id)


@router.post("/keys/{key_id}/revoke", response_model=ApiKeyOut, summary="吊销密钥")
def revoke_key(key_id: int, session: DbSession, principal: ApiPrincipal) -> object:
    return service.revoke_api_key(session, principal, key_id)
