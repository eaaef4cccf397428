"""Quality indicators for the cockpit (驾驶舱指标).

Compute functions in the shape of the cockpit's indicator registry (``compute(ctx)`` with
``ctx.session`` and ``ctx.until``; a DataFrame with ``period``, ``value`` and, for the
``org`` dimension, ``org``). :func:`specs` wraps them as the cockpit's ``IndicatorSpec``
objects once the cockpit domain is installed; register them with one line::

    [project.entry-points."gongshu.indicators"]
    quality = "gongshu.quality.indicators:INDICATORS"
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from gongshu.auth.principal import Principal
from gongshu.quality import kinds as K
from gongshu.quality import service


def _orgs(ctx: Any) -> dict[int, str]:
    from gongshu.orgs import service as orgs

    rows, _ = orgs.list_orgs(ctx.session, Principal.system(), limit=100_000)
    return {o.id: o.code for o in rows}


def score(ctx: Any) -> pd.DataFrame:
    """质量综合得分 by org (the cockpit derives the city value with ``mean``)."""
    runs = service._latest_runs(ctx.session, Principal.system())
    codes = _orgs(ctx)
    by_org = service.org_scores(runs)
    return pd.DataFrame(
        {
            "period": [pd.Timestamp(ctx.until)] * len(by_org),
            "org": [codes.get(o, str(o)) for o in by_org],
            "value": list(by_org.values()),
        }
    )


def dimension(name: str) -> Any:
    def compute(ctx: Any) -> pd.DataFrame:
        runs = service._latest_runs(ctx.session, Principal.system())
        value = service.dimension_scores(runs).get(name)
        rows = [] if value is None else [value]
        return pd.DataFrame({"period": [pd.Timestamp(ctx.until)] * len(rows), "value": rows})

    compute.__name__ = f"dimension_{name}"
    return compute


def overdue_problems(ctx: Any) -> pd.DataFrame:
    """逾期未整改的数据问题数 by org."""
    problems, _ = service.list_problems(
        ctx.session, Principal.system(), overdue=True, limit=100_000
    )
    codes = _orgs(ctx)
    counts: dict[str, int] = {}
    for p in problems:
        code = codes.get(p.org_id, str(p.org_id))
        counts[code] = counts.get(code, 0) + 1
    return pd.DataFrame(
        {
            "period": [pd.Timestamp(ctx.until)] * len(counts),
            "org": list(counts),
            "value": [float(v) for v in counts.values()],
        }
    )


DIMENSION_CODES = {v: k for k, v in K.DIMENSIONS.items()}


def specs() -> list[Any]:
    """The indicators as cockpit ``IndicatorSpec`` objects (needs the cockpit domain)."""
    from gongshu.cockpit.registry import IndicatorSpec

    topic = "数据平台"
    out = [
        IndicatorSpec(
            code="quality.score",
            name="数据质量综合得分",
            topic=topic,
            compute=score,
            unit="分",
            owner_org="SJJ",
            dimensions=("org",),
            rollup="mean",
            target=90.0,
            lower=80.0,
            description="各资源最近一次质检得分，按数据量加权",
            snapshot=True,
        ),
        IndicatorSpec(
            code="quality.overdue_problems",
            name="逾期未整改数据问题",
            topic=topic,
            compute=overdue_problems,
            unit="个",
            owner_org="SJJ",
            dimensions=("org",),
            higher_is_better=False,
            upper=0.0,
            snapshot=True,
        ),
    ]
    for name, code in DIMENSION_CODES.items():
        out.append(
            IndicatorSpec(
                code=f"quality.dimension.{code}",
                name=f"数据质量{name}得分",
                topic=topic,
                compute=dimension(name),
                unit="分",
                owner_org="SJJ",
                rollup="mean",
                snapshot=True,
            )
        )
    return out


def __getattr__(name: str) -> Any:  # INDICATORS resolves lazily: the cockpit may be absent
    if name == "INDICATORS":
        return specs()
    raise AttributeError(name)
