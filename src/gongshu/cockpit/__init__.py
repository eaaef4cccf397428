"""City cockpit (城市大脑驾驶舱): indicators, warnings, forecasts, big screens, daily log."""

from gongshu.plugins import Domain, NavItem

READERS = frozenset({"admin", "leader", "officer"})

domain = Domain(
    name="cockpit",
    title="城市驾驶舱",
    order=80,
    models="gongshu.cockpit.models",
    router="gongshu.cockpit.router:router",
    pages="gongshu.cockpit.pages:router",
    cli="gongshu.cockpit.cli:app",
    demo="gongshu.cockpit.demo:build",
    demo_order=80,
    nav=[
        NavItem("驾驶舱大屏", "/cockpit/screen", roles=READERS),
        NavItem("指标库", "/cockpit/indicators", roles=READERS),
        NavItem("预警中心", "/cockpit/alerts", roles=READERS),
        NavItem("城市运行日志", "/cockpit/reports", roles=frozenset({"admin", "leader"})),
        NavItem("预警通知", "/cockpit/webhooks", roles=frozenset({"admin"})),
    ],
    on_startup="gongshu.cockpit.runtime:on_startup",
    on_shutdown="gongshu.cockpit.runtime:on_shutdown",
)
