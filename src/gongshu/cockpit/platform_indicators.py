"""Built-in platform indicators the cockpit can compute today.

Registered in ``pyproject.toml`` exactly as another domain registers its own::

    [project.entry-points."gongshu.indicators"]
    platform = "gongshu.cockpit.platform_indicators:PLATFORM"
    catalog = "gongshu.cockpit.platform_indicators:CATALOG"

``CATALOG`` belongs to the catalog domain and moves there when that domain wants to own
it (one module plus one entry-point line, see ``docs/cockpit.md``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from gongshu.auth.principal import Principal
from gongshu.cockpit.registry import IndicatorContext, IndicatorSpec

PLATFORM_TOPIC = "数据平台"
NOT_SHARED = "不予共享"


def records_total(ctx: IndicatorContext) -> pd.DataFrame:
    """Rows in every published warehouse table, as a snapshot for today.

    A stock: the history builds up one point per day as the indicator is refreshed.
    """
    wh = ctx.warehouse
    total = 0 if wh is None else sum(wh.count(name) for name in wh.list_tables())
    return pd.DataFrame({"period": [pd.Timestamp(ctx.until)], "value": [float(total)]})


def records_growth(ctx: IndicatorContext) -> pd.DataFrame:
    """Day-on-day change of ``platform.records_total`` (归集量增长)."""
    series = ctx.stored("platform.records_total")
    if len(series) < 2:
        return pd.DataFrame({"period": [], "value": []})
    diff = series.diff().dropna()
    return pd.DataFrame({"period": diff.index, "value": diff.to_numpy()})


def _local_day(published_at: Any, release_date: Any, ctx: IndicatorContext) -> pd.Timestamp:
    if published_at is not None:
        ts = pd.Timestamp(published_at)
        ts = ts.tz_convert("Asia/Shanghai").tz_localize(None) if ts.tzinfo else ts
        return ts.normalize()
    return pd.Timestamp(release_date or ctx.until)


def _published(ctx: IndicatorContext) -> pd.DataFrame:
    from gongshu.catalog import service as catalog
    from gongshu.orgs import service as orgs

    specs = catalog.published_specs(ctx.session)
    if not specs:
        return pd.DataFrame(columns=["day", "org", "shareable"])
    rows, _ = orgs.list_orgs(ctx.session, Principal.system(), limit=100_000)
    codes = {o.id: o.code for o in rows}
    frame = pd.DataFrame(
        {
            "day": [_local_day(s.published_at, s.release_date, ctx) for s in specs],
            "org": [codes.get(s.owner_org_id, "") for s in specs],
            "shareable": [s.share_type != NOT_SHARED for s in specs],
        }
    )
    return frame


def _cumulative(frame: pd.DataFrame, column: str, ctx: IndicatorContext) -> pd.DataFrame:
    """Daily running totals per org from the first publication up to ``ctx.until``."""
    if frame.empty:
        return pd.DataFrame({"period": [], "org": [], "value": []})
    days = pd.date_range(frame["day"].min(), pd.Timestamp(ctx.until), freq="D")
    daily = frame.groupby(["day", "org"])[column].sum().unstack("org", fill_value=0)
    running = daily.reindex(days, fill_value=0).cumsum()
    running.index.name = "period"
    out = running.stack().rename("value").reset_index()
    return out


def resources_catalogued(ctx: IndicatorContext) -> pd.DataFrame:
    frame = _published(ctx)
    frame["one"] = 1
    return _cumulative(frame, "one", ctx)


def shareable_share(ctx: IndicatorContext) -> pd.DataFrame:
    frame = _published(ctx)
    frame["one"] = 1
    frame["num"] = frame["shareable"].astype(int)
    den = _cumulative(frame, "one", ctx).rename(columns={"value": "den"})
    num = _cumulative(frame, "num", ctx).rename(columns={"value": "num"})
    if den.empty:
        return pd.DataFrame({"period": [], "org": [], "num": [], "den": []})
    return den.merge(num, on=["period", "org"])


PLATFORM = [
    IndicatorSpec(
        code="platform.records_total",
        name="归集数据总量",
        unit="条",
        topic=PLATFORM_TOPIC,
        owner_org="SJJ",
        description="数仓中全部已发布表的记录数之和（每日快照，随刷新逐日累积）。",
        rollup="last",
        compute=records_total,
        featured=True,
        snapshot=True,
    ),
    IndicatorSpec(
        code="platform.records_growth",
        name="归集量日增长",
        unit="条",
        topic=PLATFORM_TOPIC,
        owner_org="SJJ",
        description="归集数据总量较上一日快照的增加量。",
        compute=records_growth,
        extra={"depends_on": ["platform.records_total"]},
    ),
]

CATALOG = [
    IndicatorSpec(
        code="catalog.resources",
        name="已编目数据资源数",
        unit="个",
        topic=PLATFORM_TOPIC,
        owner_org="SJJ",
        description="已发布的目录数据资源累计数量，按提供部门细分。",
        dimensions=("org",),
        rollup="last",
        compute=resources_catalogued,
        featured=True,
    ),
    IndicatorSpec(
        code="catalog.shareable_share",
        name="可共享资源占比",
        unit="%",
        topic=PLATFORM_TOPIC,
        owner_org="SJJ",
        description="已发布资源中共享类型为无条件共享或有条件共享的比例。",
        dimensions=("org",),
        rollup="ratio",
        compute=shareable_share,
        target=80.0,
    ),
]
