"""示例市: load synthetic rows (``gongshu.demo.synth``) into the demo catalog's resources.

Each load goes through the real pipeline (transform, rejects, gate, atomic publish) as
the owning department's officer, so the demo city has loads, rejects and a ledger.
Generator rows carry a small share of dirty rows: those failing type checks (impossible
dates…) become rejects; the rest (bad check digits, cross-register mismatches) are
loaded for the quality domain to find. Sizes scale with ``gongshu demo --scale``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from gongshu.auth.models import User
from gongshu.auth.principal import Principal
from gongshu.demo import DemoContext
from gongshu.demo.synth import GENERATORS
from gongshu.ingest import catalog_port, service
from gongshu.ingest.readers import ArrowReader
from gongshu.ingest.settings import ingest_settings
from gongshu.ingest.transform import ColumnMap, default_normalize, suggest_mapping
from gongshu.warehouse import connect

PERSONS = 1_000_000
ENTERPRISES = 100_000


@dataclass(frozen=True)
class DemoLoad:
    resource: str  # catalog resource name
    generator: str
    rows: int
    columns: dict[str, str] = field(default_factory=dict)  # item column -> generator column
    options: dict[str, Any] = field(default_factory=dict)


DEMO_LOADS: tuple[DemoLoad, ...] = (
    DemoLoad(
        "人口基本信息", "persons", PERSONS, {"hjdz": "zz", "hjdqh": "hjdz_xzqh", "gxsj": "djrq"}
    ),
    DemoLoad(
        "法人基本信息",
        "enterprises",
        ENTERPRISES,
        {"sczlx": "", "djzt": ""},  # codes in the catalog, names in the generator
        {"persons_n": PERSONS},
    ),
    DemoLoad(
        "营业执照信息",
        "enterprises",
        ENTERPRISES,
        {"zzbh": "tyshxydm", "hzrq": "clrq", "yyqxz": ""},
        {"persons_n": PERSONS},
    ),
    DemoLoad(
        "社会保险参保信息",
        "social_security",
        300_000,
        {"xzlx": "", "cbzt": ""},  # codes in the catalog, names in the generator
        {"persons_n": PERSONS, "enterprises_n": ENTERPRISES},
    ),
    DemoLoad(
        "食品经营许可信息",
        "licences",
        30_000,
        {"xkzbh": "xkwsh", "yxqz": "yxqzhi"},
        {"enterprises_n": ENTERPRISES},
    ),
    DemoLoad(
        "12345热线工单信息",
        "hotline",
        200_000,
        {"ldsj": "slsj", "sqlx": "lb", "sqnr": "nr", "cbbm": "cbdw", "xzqhdm": "qy"},
    ),
    DemoLoad("空气质量监测信息", "air_quality", 12, {"jczdbm": "zdbm", "jczdmc": "zdmc"}),
    DemoLoad(
        "政务服务办件信息",
        "service_cases",
        200_000,
        {"sqrmc": "sqrxm", "sqrzjhm": "sqr_sfzh"},
        {"persons_n": PERSONS},
    ),
)


def _mapping(spec: Any, load: DemoLoad, columns: dict[str, str]) -> list[ColumnMap]:
    """Explicit pairs first, then same column name, then the Chinese labels."""
    labels = {label: col for col, label in columns.items()}
    guessed = {m.target: m.source for m in suggest_mapping(spec, list(labels))}
    out = []
    for item in spec.items:
        source = load.columns.get(item.column)
        if source == "":
            out.append(ColumnMap(item.column, None, default_normalize(item)))
            continue
        if source is None and item.column in columns:
            source = item.column
        if source is None and guessed.get(item.column):
            source = labels[guessed[item.column]]
        out.append(ColumnMap(item.column, source, default_normalize(item)))
    return out


def _officer(ctx: DemoContext, org_id: int) -> Principal:
    user = ctx.session.scalar(
        select(User).where(User.org_id == org_id, User.role == "officer").order_by(User.id)
    )
    if user is None:
        return Principal(kind="system", id=None, name="demo", role="admin")
    return Principal(kind="user", id=user.id, name=user.username, role="officer", org_id=org_id)


def build(ctx: DemoContext, loads: tuple[DemoLoad, ...] = DEMO_LOADS) -> None:
    specs = {s.name: s for s in catalog_port.published(ctx.session)}
    wh = connect(ctx.settings.warehouse_url)
    try:
        for load in loads:
            spec = specs.get(load.resource)
            gen = GENERATORS[load.generator]
            if spec is None:
                continue
            factor = ctx.scale * ingest_settings().demo_rows
            n = max(1, int(load.rows * factor))
            options = {k: max(1, int(v * factor)) for k, v in load.options.items()}
            mapping = _mapping(spec, load, gen.columns)
            batches = gen.generate(n, seed=ctx.seed, **options)
            actor = _officer(ctx, spec.owner_org_id)
            started = service.start_load(
                ctx.session,
                actor,
                spec,
                kind="demo",
                config={},
                mapping=[m.as_dict() for m in mapping],
                mode="full",
                file_name=f"synth:{load.generator}",
                max_reject_ratio=1.0,
            )
            done = service.execute_load(
                ctx.session,
                actor,
                started.id,
                wh=wh,
                settings=ctx.settings,
                reader=ArrowReader(list(gen.columns), batches, "demo"),
            )
            ctx.console.print(
                f"  归集 {spec.name}：{done.rows_accepted:,} 行入库，{done.rows_rejected:,} 行问题数据"
                + (f"（{done.error}）" if done.error else "")
            )
    finally:
        wh.close()
