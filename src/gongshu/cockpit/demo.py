"""示例市's cockpit: two years of city-operation tables, ~40 indicators, alerts, logs."""

from __future__ import annotations

import os
from datetime import timedelta

from gongshu.auth.principal import Principal
from gongshu.cockpit import demo_data, report, service
from gongshu.cockpit.models import Webhook
from gongshu.cockpit.schemas import IndicatorIn
from gongshu.demo import DemoContext
from gongshu.warehouse import shared

HISTORY_DAYS = 730
ALERT_WINDOW = 30  # days whose threshold crossings open alerts in the demo
ARCHIVE_DAYS = 7
# Forecasts in forked workers (a batch job, not the web server: see forecast_many).
WORKERS = min(2, os.cpu_count() or 1)


def build(ctx: DemoContext) -> None:
    end = ctx.shared.get("cockpit_end") or service.local_today() - timedelta(days=1)
    start = end - timedelta(days=HISTORY_DAYS - 1)
    wh = shared(ctx.settings.warehouse_url)
    # The ingest domain's demo loads the city's tables; create those still missing.
    if any(not wh.exists(name) for name in demo_data.TABLES):
        demo_data.load_days(wh, start, end)
    orgs = ctx.shared.get("orgs") or service.org_codes(ctx.session)
    system = Principal.system("demo")
    for spec in demo_data.CITY_INDICATORS:
        data = dict(spec)
        data["owner_org_id"] = orgs.get(data.pop("owner_org"))
        service.create_indicator(ctx.session, system, IndicatorIn(**data))
    ctx.session.add(
        Webhook(
            name="值班群机器人（示例，未启用）", url="http://127.0.0.1:9/robot/send", enabled=False
        )
    )
    ctx.session.commit()
    result = service.refresh(
        ctx.session, wh, until=end, window=ALERT_WINDOW, full=True, actor=system, workers=WORKERS
    )
    ctx.console.print(
        f"  指标 {result.computed} 项，预测 {result.forecasts} 项，预警 {result.alerts_opened} 条"
    )
    # The platform's own records (catalog, warehouse) start today: snapshot them as of today.
    builtins = [i.code for i in service.list_indicators(ctx.session, system) if i.builtin]
    service.refresh(
        ctx.session, wh, codes=builtins, until=service.local_today(), forecast=False, actor=system
    )
    for back in range(ARCHIVE_DAYS - 1, -1, -1):
        report.generate(ctx.session, end - timedelta(days=back), actor=system)
