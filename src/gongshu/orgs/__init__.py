"""Departments, regions and information systems (部门/单位、行政区划、信息系统)."""

from gongshu.plugins import Domain, NavItem

domain = Domain(
    name="orgs",
    title="部门与系统",
    order=20,
    models="gongshu.orgs.models",
    router="gongshu.orgs.router:router",
    pages="gongshu.orgs.pages:router",
    demo="gongshu.orgs.demo:build",
    demo_order=10,
    nav=[
        NavItem("部门/单位", "/orgs", roles=frozenset({"admin", "officer", "leader"})),
        NavItem("信息系统", "/systems", roles=frozenset({"admin", "officer", "leader"})),
    ],
)
