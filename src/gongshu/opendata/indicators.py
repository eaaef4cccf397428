"""Open-data indicators for the cockpit (驾驶舱指标): datasets opened, downloads, API calls.

Registered with one entry-point line (see ``gongshu.cockpit.registry``)::

    [project.entry-points."gongshu.indicators"]
    opendata = "gongshu.opendata.indicators:INDICATORS"

Downloads and calls come from the call log (``open_call``, one row per successful or
failed request, with its local calendar day); only successful ones count, as on the
portal's statistics page. The org dimension is the dataset's owner org.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import func, select

from gongshu.auth.principal import Principal
from gongshu.opendata.models import OpenCall, OpenDataset

TOPIC = "数据平台"


def _org_codes(ctx: Any) -> dict[int, str]:
    from gongshu.orgs import service as orgs

    rows, _ = orgs.list_orgs(ctx.session, Principal.system(), limit=100_000)
    return {o.id: o.code for o in rows}


def _local_day(ts: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(ts)
    if stamp.tzinfo is None:  # stored as UTC without zone (SQLite)
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert("Asia/Shanghai").tz_localize(None).normalize()


def datasets_opened(ctx: Any) -> pd.DataFrame:
    """已开放数据集: running count of published datasets per day and org (a stock)."""
    rows = ctx.session.execute(
        select(OpenDataset.published_at, OpenDataset.org_id).where(
            OpenDataset.status == "published", OpenDataset.published_at.is_not(None)
        )
    ).all()
    if not rows:
        return pd.DataFrame({"period": [], "org": [], "value": []})
    codes = _org_codes(ctx)
    frame = pd.DataFrame(
        {"day": [_local_day(r[0]) for r in rows], "org": [codes.get(r[1], "") for r in rows]}
    )
    until = pd.Timestamp(ctx.until)
    frame = frame[frame["day"] <= until]
    if frame.empty:
        return pd.DataFrame({"period": [], "org": [], "value": []})
    days = pd.date_range(frame["day"].min(), until, freq="D")
    daily = frame.groupby(["day", "org"]).size().unstack("org", fill_value=0)
    running = daily.reindex(days, fill_value=0).cumsum()
    running.index.name = "period"
    return running.stack().rename("value").astype(float).reset_index()


def _calls(ctx: Any, downloads: bool) -> pd.DataFrame:
    kind = OpenCall.kind == "download" if downloads else OpenCall.kind != "download"
    stmt = (
        select(OpenCall.day, OpenDataset.org_id, func.count())
        .join(OpenDataset, OpenDataset.id == OpenCall.dataset_id)
        .where(OpenCall.ok.is_(True), kind, OpenCall.day <= ctx.until)
    )
    if ctx.since is not None:
        stmt = stmt.where(OpenCall.day >= ctx.since)
    rows = ctx.session.execute(stmt.group_by(OpenCall.day, OpenDataset.org_id)).all()
    codes = _org_codes(ctx)
    return pd.DataFrame(
        {
            "period": pd.to_datetime([r[0] for r in rows]),
            "org": [codes.get(r[1], "") for r in rows],
            "value": [float(r[2]) for r in rows],
        }
    )


def downloads(ctx: Any) -> pd.DataFrame:
    """开放数据下载量 per day and owner org."""
    return _calls(ctx, downloads=True)


def api_calls(ctx: Any) -> pd.DataFrame:
    """开放接口调用量 (row API and CKAN datastore) per day and owner org."""
    return _calls(ctx, downloads=False)


def specs() -> list[Any]:
    """The indicators as cockpit ``IndicatorSpec`` objects (needs the cockpit domain)."""
    from gongshu.cockpit.registry import IndicatorSpec

    common: dict[str, Any] = {"topic": TOPIC, "owner_org": "SJJ", "dimensions": ("org",)}
    return [
        IndicatorSpec(
            code="opendata.datasets_opened",
            name="已开放数据集",
            unit="个",
            compute=datasets_opened,
            rollup="last",
            description="开放门户上处于已发布状态的数据集数（按发布日累计，按数源部门）。",
            featured=True,
            **common,
        ),
        IndicatorSpec(
            code="opendata.downloads",
            name="开放数据下载量",
            unit="次",
            compute=downloads,
            description="开放门户数据文件（CSV/XLSX/JSON/Parquet）的成功下载次数，按日。",
            **common,
        ),
        IndicatorSpec(
            code="opendata.api_calls",
            name="开放接口调用量",
            unit="次",
            compute=api_calls,
            description="开放数据行接口与 CKAN datastore 接口的成功调用次数，按日。",
            **common,
        ),
    ]


def __getattr__(name: str) -> Any:  # INDICATORS resolves lazily: the cockpit may be absent
    if name == "INDICATORS":
        return specs()
    raise AttributeError(name)
