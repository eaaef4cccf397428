"""Sharing indicators for the cockpit (驾驶舱指标): calls, success rate, demands.

Registered with one entry-point line (see ``gongshu.cockpit.registry``)::

    [project.entry-points."gongshu.indicators"]
    sharing = "gongshu.sharing.indicators:INDICATORS"

Calls are read from the daily rollup (``share_call_daily``), so the series is exact per
day and incremental (only days from ``ctx.since``). Demand figures are stocks: a snapshot
per refresh day, building their history one point a day like ``platform.records_total``.
The org dimension is the *owner* org (数源部门): the bureau judges providers on their
interfaces' success rate and on how they answer demands.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import func, select

from gongshu.auth.principal import Principal
from gongshu.sharing import service
from gongshu.sharing.models import PENDING, CallDaily, Demand

TOPIC = "数据平台"


def _org_codes(ctx: Any) -> dict[int, str]:
    from gongshu.orgs import service as orgs

    rows, _ = orgs.list_orgs(ctx.session, Principal.system(), limit=100_000)
    return {o.id: o.code for o in rows}


def _calls_by_day(ctx: Any) -> pd.DataFrame:
    stmt = select(
        CallDaily.day,
        CallDaily.owner_org_id,
        func.sum(CallDaily.calls),
        func.sum(CallDaily.ok),
    ).where(CallDaily.day <= ctx.until)
    if ctx.since is not None:
        stmt = stmt.where(CallDaily.day >= ctx.since)
    rows = ctx.session.execute(stmt.group_by(CallDaily.day, CallDaily.owner_org_id)).all()
    codes = _org_codes(ctx)
    return pd.DataFrame(
        {
            "period": pd.to_datetime([r[0] for r in rows]),
            # 0 = unknown owner (a forged key named no interface): counted city-wide only.
            "org": [codes.get(r[1], "") for r in rows],
            "calls": [float(r[2] or 0) for r in rows],
            "ok": [float(r[3] or 0) for r in rows],
        }
    )


def call_volume(ctx: Any) -> pd.DataFrame:
    """共享接口调用量 per day and owner org."""
    frame = _calls_by_day(ctx)
    return frame.rename(columns={"calls": "value"})[["period", "org", "value"]]


def call_success_rate(ctx: Any) -> pd.DataFrame:
    """调用成功率 (%) per day: answered calls ÷ all calls, by owner org."""
    frame = _calls_by_day(ctx)
    return frame.rename(columns={"ok": "num", "calls": "den"})[["period", "org", "num", "den"]]


def satisfaction_rate(ctx: Any) -> pd.DataFrame:
    """共享满足率 (%) as of ``ctx.until``: satisfied ÷ (satisfied + refused + overdue)."""
    sat = service.satisfaction(ctx.session, None, today=ctx.until)["by_owner"]
    codes = _org_codes(ctx)
    rows = [
        (codes.get(org_id, ""), s["satisfied"], s["satisfied"] + s["refused"] + s["overdue"])
        for org_id, s in sat.items()
    ]
    rows = [r for r in rows if r[2]]
    return pd.DataFrame(
        {
            "period": [pd.Timestamp(ctx.until)] * len(rows),
            "org": [r[0] for r in rows],
            "num": [float(r[1]) for r in rows],
            "den": [float(r[2]) for r in rows],
        }
    )


def overdue_demands(ctx: Any) -> pd.DataFrame:
    """逾期未办结的共享申请 as of ``ctx.until``, by the owner org that must decide."""
    rows = ctx.session.execute(
        select(Demand.owner_org_id, func.count())
        .where(
            Demand.status.in_(PENDING),
            Demand.due_date.is_not(None),
            Demand.due_date < ctx.until,
        )
        .group_by(Demand.owner_org_id)
    ).all()
    codes = _org_codes(ctx)
    return pd.DataFrame(
        {
            "period": [pd.Timestamp(ctx.until)] * len(rows),
            "org": [codes.get(r[0], "") for r in rows],
            "value": [float(r[1]) for r in rows],
        }
    )


def specs() -> list[Any]:
    """The indicators as cockpit ``IndicatorSpec`` objects (needs the cockpit domain)."""
    from gongshu.cockpit.registry import IndicatorSpec

    common: dict[str, Any] = {"topic": TOPIC, "owner_org": "SJJ", "dimensions": ("org",)}
    return [
        IndicatorSpec(
            code="sharing.call_volume",
            name="共享接口调用量",
            unit="次",
            compute=call_volume,
            description="经共享网关的接口调用次数（按数源部门、按日，来自调用日志日汇总）。",
            featured=True,
            **common,
        ),
        IndicatorSpec(
            code="sharing.call_success_rate",
            name="共享调用成功率",
            unit="%",
            compute=call_success_rate,
            rollup="ratio",
            target=99.0,
            lower=99.0,
            description="成功应答的调用（HTTP 2xx）占全部调用的百分比；4xx、5xx 计为失败。",
            **common,
        ),
        IndicatorSpec(
            code="sharing.satisfaction_rate",
            name="共享需求满足率",
            unit="%",
            compute=satisfaction_rate,
            rollup="ratio",
            target=95.0,
            lower=90.0,
            description="满足 ÷（满足 + 拒绝 + 逾期未办）；按数源部门，每日快照。",
            **common,
            snapshot=True,
        ),
        IndicatorSpec(
            code="sharing.overdue_demands",
            name="逾期共享申请",
            unit="个",
            compute=overdue_demands,
            rollup="last",
            higher_is_better=False,
            upper=0.0,
            description="超过办理时限（工作日计）仍未办结的共享申请数，每日快照。",
            **common,
            snapshot=True,
        ),
    ]


def __getattr__(name: str) -> Any:  # INDICATORS resolves lazily: the cockpit may be absent
    if name == "INDICATORS":
        return specs()
    raise AttributeError(name)
