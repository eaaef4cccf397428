"""Data quality (数据质量): rules, checks and problems (发现→反馈→整改→评价).

Row-level rule kinds are vectorised Ibis expressions in :mod:`gongshu.quality.validators`;
:mod:`gongshu.quality.engine` compiles a resource's rules into a few queries;
:mod:`gongshu.quality.service` keeps rules, runs, scores and problems. Operators read
``docs/quality.md``.
"""

from gongshu.plugins import Domain, NavItem

STAFF = frozenset({"admin", "officer", "leader"})

domain = Domain(
    name="quality",
    title="数据质量",
    order=45,
    models="gongshu.quality.models",
    router="gongshu.quality.router:router",
    pages="gongshu.quality.pages:router",
    cli="gongshu.quality.cli:app",
    demo="gongshu.quality.demo:build",
    demo_order=35,
    nav=[
        NavItem("质量概览", "/quality", roles=STAFF),
        NavItem("数据问题", "/quality/problems"),
        NavItem("质量报告", "/quality/report", roles=STAFF),
    ],
    on_startup="gongshu.quality.runtime:startup",
    on_shutdown="gongshu.quality.runtime:shutdown",
)
