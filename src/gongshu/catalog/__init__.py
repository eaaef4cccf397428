"""The public data resource catalog (公共数据资源目录): resources, items, workflow,
releases, search, Excel/CSV/DCAT import and export."""

from gongshu.plugins import Domain, NavItem

STAFF = frozenset({"admin", "officer", "leader"})

domain = Domain(
    name="catalog",
    title="资源目录",
    order=30,
    models="gongshu.catalog.models",
    router="gongshu.catalog.router:router",
    pages="gongshu.catalog.pages:router",
    cli="gongshu.catalog.cli:app",
    demo="gongshu.catalog.demo:build",
    demo_order=30,
    nav=[
        NavItem("资源目录", "/catalog/resources", roles=STAFF),
        NavItem("审核队列", "/catalog/review", roles=frozenset({"admin"})),
        NavItem("目录版本", "/catalog/releases", roles=STAFF),
        NavItem("导入导出", "/catalog/import", roles=frozenset({"admin", "officer"})),
    ],
)
