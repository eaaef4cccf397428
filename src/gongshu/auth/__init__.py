"""Accounts, roles, login sessions and API keys (用户、角色与密钥)."""

from gongshu.plugins import Domain, NavItem

domain = Domain(
    name="auth",
    title="用户与密钥",
    order=10,
    models="gongshu.auth.models",
    router="gongshu.auth.router:router",
    pages="gongshu.auth.pages:router",
    cli="gongshu.auth.cli:app",
    demo="gongshu.auth.demo:build",
    demo_order=20,
    nav=[
        NavItem("用户管理", "/users", roles=frozenset({"admin"})),
        NavItem("接口密钥", "/keys", roles=frozenset({"admin", "officer"})),
    ],
)
