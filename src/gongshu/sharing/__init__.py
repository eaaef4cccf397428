"""Data sharing (数据共享): demands and approvals, grants, interfaces, the share gateway
(``/gw/...``) with its call log, call statistics and data backflow (数据回流)."""

from gongshu.plugins import Domain, NavItem

STAFF = frozenset({"admin", "officer", "leader"})
ORG_USERS = frozenset({"admin", "officer", "consumer", "leader"})

domain = Domain(
    name="sharing",
    title="数据共享",
    order=50,
    models="gongshu.sharing.models",
    router="gongshu.sharing.router:router_all",
    pages="gongshu.sharing.pages:router",
    cli="gongshu.sharing.cli:app",
    demo="gongshu.sharing.demo:build",
    demo_order=60,
    nav=[
        NavItem("共享申请", "/sharing/demands", roles=ORG_USERS),
        NavItem("共享授权", "/sharing/grants", roles=ORG_USERS),
        NavItem("接口目录", "/sharing/interfaces", roles=ORG_USERS),
        NavItem("调用统计", "/sharing/stats", roles=ORG_USERS),
        NavItem("数据回流", "/sharing/backflows", roles=STAFF),
        NavItem("工作日历", "/sharing/calendar", roles=frozenset({"admin"})),
    ],
    on_startup="gongshu.sharing.gateway:startup",
    on_shutdown="gongshu.sharing.gateway:shutdown",
)
