"""数据归集 (aggregation): moves each catalogued resource's rows into the warehouse.

Sources (files, server paths, SQL databases, HTTP APIs) and the IoT channel feed
staged, quality-gated, atomic loads; the ledger counts what arrived. Operators read
``docs/ingest.md``; other domains use :mod:`gongshu.ingest.service` (loads, ledger) and
:mod:`gongshu.ingest.gate` (the blocking-rule hook of the quality gate).
"""

from gongshu.plugins import Domain, NavItem

STAFF = frozenset({"admin", "officer", "leader"})

domain = Domain(
    name="ingest",
    title="数据归集",
    order=40,
    models="gongshu.ingest.models",
    router="gongshu.ingest.router:router",
    pages="gongshu.ingest.pages:router",
    cli="gongshu.ingest.cli:app",
    demo="gongshu.ingest.demo:build",
    demo_order=40,
    nav=[
        NavItem("归集台账", "/ingest", roles=STAFF),
        NavItem("归集来源", "/ingest/sources", roles=STAFF),
        NavItem("上传文件", "/ingest/upload", roles=frozenset({"admin", "officer"})),
        NavItem("物联设备", "/ingest/devices", roles=STAFF),
    ],
    on_startup="gongshu.ingest.runtime:startup",
    on_shutdown="gongshu.ingest.runtime:shutdown",
)
