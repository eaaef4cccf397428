"""Tamper-evident audit log (审计日志): every write and data access, hash-chained."""

from gongshu.plugins import Domain, NavItem

domain = Domain(
    name="audit",
    title="审计日志",
    order=90,
    models="gongshu.audit.models",
    router="gongshu.audit.router:router",
    pages="gongshu.audit.pages:router",
    cli="gongshu.audit.cli:app",
    nav=[NavItem("审计日志", "/audit", roles=frozenset({"admin", "leader"}))],
)
