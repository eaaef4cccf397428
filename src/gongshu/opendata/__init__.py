"""Open data (开放域): governed publication, the public portal, the developer and CKAN
APIs, restricted open applications and open-data statistics."""

from gongshu.plugins import Domain, NavItem

domain = Domain(
    name="opendata",
    title="数据开放",
    order=60,
    models="gongshu.opendata.models",
    router="gongshu.opendata.router:router",
    pages="gongshu.opendata.pages:router",
    cli="gongshu.opendata.cli:app",
    demo="gongshu.opendata.demo:build",
    demo_order=60,
    nav=[
        NavItem("开放门户", "/open"),
        NavItem("开放管理", "/open/manage", roles=frozenset({"admin", "officer", "leader"})),
    ],
    on_startup="gongshu.opendata.ckan:startup",
)
