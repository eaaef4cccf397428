"""The indicator registry: how a domain adds its built-in platform indicators.

A domain ships one module with a list of :class:`IndicatorSpec` and one entry-point line::

    [project.entry-points."gongshu.indicators"]
    sharing = "gongshu.sharing.indicators:INDICATORS"

The entry point may name a list (or tuple) of specs or a single spec. The cockpit loads
the group through ``gongshu.plugins.Registry("indicators")``, upserts one
``Indicator`` row per spec (``kind="plugin"``, ``builtin=True``) on every refresh, and
calls ``spec.compute(ctx)`` to (re)compute it. Codes are global: prefix them with the
domain (``sharing.call_volume``).

``compute(ctx)`` returns an Ibis table (preferred: it runs on DuckDB and Spark) or a
pandas DataFrame with the columns

* ``period`` - date or timestamp of the period (day, month start or hour start, local
  time); finer periods are floored to the spec's granularity and rolled up;
* ``value`` - number; or, for ``rollup="ratio"``, ``num`` and ``den`` instead;
* optionally ``district`` (region code) and/or ``org`` (org code) when the spec lists
  them in ``dimensions``.

The cockpit derives the city total and every dimension breakdown with the spec's
``rollup``: ``sum`` (counts, amounts), ``mean`` (levels such as AQI), ``max``, ``last``
(stocks such as "resources catalogued": the value of the last sub-period) or ``ratio``
(``100 * sum(num) / sum(den)``, a percentage). Only rows with ``period >= ctx.since``
are kept (recomputation is incremental), so a compute function should filter on
``ctx.since`` itself when that makes it cheaper. Warehouse tables are read through
``ctx.table(name)``, which only opens tables listed in ``sources`` (the lineage shown in
the indicator library). Platform records (control-plane tables) are read through the
owning domain's ``service`` functions with ``ctx.session``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from gongshu.plugins import Registry

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd
    from sqlalchemy.orm import Session

    from gongshu.warehouse import Warehouse

TOPICS: dict[str, str] = {
    "home": "城市总览",
    "economy": "经济运行",
    "city": "城市管理",
    "eco": "生态环境",
    "traffic": "交通出行",
    "gov": "政务服务",
    "livelihood": "民生保障",
    "safety": "公共安全",
    "platform": "数据平台",
}
TOPIC_SLUGS: dict[str, str] = {v: k for k, v in TOPICS.items() if k != "home"}
GRANULARITIES = ("hour", "day", "month")
DIMENSIONS = ("district", "org")
ROLLUPS = ("sum", "mean", "max", "last", "ratio")


def _empty_series() -> pd.Series:
    import pandas

    return pandas.Series([], dtype=float)


class SourceNotDeclared(PermissionError):
    """A compute function asked for a warehouse table it did not declare."""


@dataclass
class IndicatorContext:
    """What a compute function gets."""

    session: Session
    warehouse: Warehouse | None
    since: date | None  # first period to compute; None = the whole history
    until: date  # last day to compute (inclusive), local date
    sources: tuple[str, ...] = ()
    stored_values: Callable[[str], pd.Series] | None = None

    def stored(self, code: str) -> pd.Series:
        """The stored city-wide series of another indicator (for derived indicators)."""
        if self.stored_values is None:
            return _empty_series()
        return self.stored_values(code)

    def table(self, name: str) -> ir.Table:
        if name not in self.sources:
            raise SourceNotDeclared(f"indicator reads undeclared table {name!r}")
        if self.warehouse is None:
            raise RuntimeError("no warehouse configured")
        return self.warehouse.table(name)

    def has_table(self, name: str) -> bool:
        return self.warehouse is not None and name in self.sources and self.warehouse.exists(name)


@dataclass(frozen=True)
class IndicatorSpec:
    """A built-in indicator as a domain registers it."""

    code: str
    name: str
    topic: str  # a value of TOPICS, e.g. "数据平台"
    compute: Callable[[IndicatorContext], ir.Table | pd.DataFrame]
    unit: str = ""
    owner_org: str | None = None  # org code, e.g. "SJJ"
    description: str = ""
    granularity: str = "day"
    dimensions: tuple[str, ...] = ()
    rollup: str = "sum"
    sources: tuple[str, ...] = ()  # warehouse tables read (lineage)
    higher_is_better: bool = True
    target: float | None = None
    upper: float | None = None
    lower: float | None = None
    rate_pct: float | None = None
    consecutive: int | None = None
    refresh: str = "15 6 * * *"  # cron, local time
    featured: bool = False
    # A snapshot reports only the state at ``ctx.until`` (e.g. today's total): its past
    # periods cannot be recomputed, so refreshes (even full ones) replace only the period
    # of ``until`` and keep the history the earlier refreshes stored.
    snapshot: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if self.topic not in TOPIC_SLUGS:
            raise ValueError(f"{self.code}: unknown topic {self.topic!r}")
        if self.granularity not in GRANULARITIES:
            raise ValueError(f"{self.code}: granularity must be one of {GRANULARITIES}")
        if self.rollup not in ROLLUPS:
            raise ValueError(f"{self.code}: rollup must be one of {ROLLUPS}")
        if not set(self.dimensions) <= set(DIMENSIONS):
            raise ValueError(f"{self.code}: dimensions must be among {DIMENSIONS}")


indicators: Registry[Any] = Registry("indicators")


def builtin_specs() -> dict[str, IndicatorSpec]:
    """Every registered spec by code (entry points may hold one spec or a list)."""
    out: dict[str, IndicatorSpec] = {}
    for _name, obj in indicators.items():
        items: Iterable[Any] = obj if isinstance(obj, list | tuple) else [obj]
        for spec in items:
            if not isinstance(spec, IndicatorSpec):
                continue
            spec.check()
            out[spec.code] = spec
    return out


def period_start(value: datetime | date, granularity: str) -> datetime:
    """The start of the period holding ``value``."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if granularity == "hour":
        return value.replace(minute=0, second=0, microsecond=0, tzinfo=None)
    if granularity == "month":
        return datetime(value.year, value.month, 1)
    return datetime(value.year, value.month, value.day)
