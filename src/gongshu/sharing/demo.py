"""示例市: consumers, demands in every state, grants, interfaces, backflow and a year of
call history (millions of calls, as daily rollups) so the statistics pages have depth.

The person resource and its rows come from the catalog and ingest demos when they are
present (resource "人口基本信息" of GAJ); otherwise this part registers a small one and
loads synthetic persons itself.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from gongshu.auth.principal import Principal
from gongshu.catalog import service as catalog
from gongshu.catalog.schemas import ResourceIn, ResourceSpec
from gongshu.demo import DemoContext
from gongshu.orgs import service as orgs
from gongshu.sharing import service, synth
from gongshu.sharing.models import (
    LATENCY_BOUNDS_MS,
    N_BUCKETS,
    CallDaily,
    CallErrorDaily,
    Interface,
)
from gongshu.sharing.schemas import (
    BackflowIn,
    DemandIn,
    InterfaceIn,
    RowFilter,
    Terms,
    VolumeIn,
)
from gongshu.warehouse import release_shared, table_name_for
from gongshu.warehouse import shared as shared_warehouse
from gongshu.workdays import WorkCalendar

ADMIN = Principal(kind="user", id=None, name="admin", role="admin")
PERSON_ITEMS: list[dict[str, Any]] = [
    {"name": "公民身份号码", "column": "gmsfhm", "data_type": "字符串", "length": 18,
     "data_element": "公民身份号码", "is_sensitive": True, "is_key": True, "masking": "id_number"},
    {"name": "姓名", "column": "xm", "data_type": "字符串", "length": 50, "data_element": "姓名",
     "is_sensitive": True, "masking": "name"},
    {"name": "性别代码", "column": "xb", "data_type": "字符串", "length": 1},
    {"name": "出生日期", "column": "csrq", "data_type": "日期", "data_element": "出生日期"},
    {"name": "行政区划代码", "column": "xzqh", "data_type": "字符串", "length": 6},
    {"name": "手机号码", "column": "sjhm", "data_type": "字符串", "length": 11,
     "data_element": "手机号码", "is_sensitive": True, "masking": "phone"},
    {"name": "住址", "column": "zz", "data_type": "字符串", "length": 200, "is_sensitive": True,
     "masking": "address"},
]  # fmt: skip
ERROR_CODES = ["bad_param", "not_granted", "rate_limited", "quota_exceeded", "invalid_key",
               "warehouse_unavailable"]  # fmt: skip


def _officer(session: Session, code: str, org_id: int) -> Principal:
    name = f"{code.lower()}_officer"
    return Principal(kind="user", id=None, name=name, role="officer", org_id=org_id)


def _person_spec(ctx: DemoContext, gaj: int) -> ResourceSpec:
    s = ctx.session
    for spec in catalog.published_specs(s, org_id=gaj):
        if spec.name == "人口基本信息" and spec.item("gmsfhm") is not None:
            return spec
    officer = _officer(s, "GAJ", gaj)
    res = catalog.create_resource(
        s,
        officer,
        ResourceIn.model_validate(
            {
                "name": "人口基本信息",
                "summary": "全市户籍人口和常住人口的身份、户籍与住址等基本信息",
                "domain": "公共安全",
                "classification": "基础",
                "update_cycle": "每日",
                "share_type": "有条件共享",
                "share_condition": "用于政务服务身份核验、社会保障资格认定等法定职责",
                "share_methods": ["系统对接", "联机查询"],
                "open_type": "不予开放",
                "open_reason": "涉及个人隐私",
                "grade": "L3",
                "items": PERSON_ITEMS,
            }
        ),
    )
    catalog.submit_resource(s, officer, res.id)
    catalog.approve_resource(s, ADMIN, res.id, publish=True)
    return catalog.resource_spec(s, res.id)


# Catalog column → synthetic column with the same meaning.
ALIASES = {"hjdqh": "xzqh", "xzqhdm": "xzqh", "hjdz": "zz", "lxdh": "sjhm"}
ARROW_TYPES = {"日期": pa.date32(), "日期时间": pa.timestamp("us", tz="UTC"), "整数": pa.int64()}


def _conform(table: pa.Table, spec: ResourceSpec) -> pa.Table:
    """Synthetic persons shaped to the catalog's items (unknown items stay empty)."""
    cols = {}
    for item in spec.items:
        src = item.column if item.column in table.column_names else ALIASES.get(item.column)
        if src in table.column_names:
            cols[item.column] = table.column(src)
        else:
            cols[item.column] = pa.nulls(
                table.num_rows, ARROW_TYPES.get(item.data_type, pa.string())
            )
    return pa.table(cols)


def region_column(spec: ResourceSpec) -> str | None:
    return next((c for c in ("xzqh", "hjdqh", "xzqhdm") if spec.item(c)), None)


def _ensure_rows(ctx: DemoContext, spec: ResourceSpec) -> list[str]:
    wh = shared_warehouse(ctx.settings.warehouse_url)
    name = table_name_for(spec.code)
    if not wh.exists(name):
        rows = synth.persons(max(2000, int(20_000 * ctx.scale)), seed=ctx.seed)
        wh.put_table(name, _conform(rows, spec))
    t = wh.table(name)
    sample = wh.to_pyarrow(t.select("gmsfhm").limit(20)).column(0).to_pylist()
    release_shared(ctx.settings.warehouse_url)  # the server opens its own later
    return sample


def build(ctx: DemoContext) -> None:
    s = ctx.session
    o: dict[str, int] = ctx.shared["orgs"]
    person = _person_spec(ctx, o["GAJ"])
    ctx.shared["sharing_person_ids"] = _ensure_rows(ctx, person)
    gaj = _officer(s, "GAJ", o["GAJ"])
    today = service.local_today()

    # Interfaces of every kind on the person resource.
    ifaces = [
        service.create_interface(
            s,
            gaj,
            InterfaceIn(
                resource_id=person.id,
                code=code,
                name=name,
                kind=kind,
                cursor_column="csrq" if kind == "export" else None,
                description=desc,
            ),
        )
        for code, name, kind, desc in [
            ("rk-query", "人口基本信息查询", "query", "按公民身份号码查询人口基本信息"),
            ("rk-verify", "人口身份核验", "verify", "核验姓名、出生日期等是否与人口库一致"),
            ("rk-batch", "人口信息批量查询", "batch", "一次最多 100 个公民身份号码"),
            ("rk-export", "人口信息增量导出", "export", "按出生日期游标分页导出"),
        ]
    ]

    ask = {
        "purpose": "办事群众身份信息核验，减少材料提交",
        "basis": "《示例省公共数据条例》第二十九条；政务服务“一网通办”工作职责",
        "scenario": "群众在线申办事项时自动核验身份信息",
    }

    def demand(code: str, resource: int | None, items: list[str], **over: Any) -> Any:
        items = [c for c in items if person.item(c)] if resource == person.id else items
        actor = _officer(s, code, o[code])
        system = orgs.list_systems(s, ADMIN, org_id=o[code], limit=1)[0]
        when = over.pop("today", None)
        return service.create_demand(
            s,
            actor,
            DemandIn.model_validate(
                ask
                | {"resource_id": resource, "items": items}
                | ({"system_id": system[0].id} if system else {})
                | over
            ),
            today=when,
        )

    # Granted with masking (政务办 is the demo consumer: zwfw_app).
    d1 = demand("ZWFWB", person.id, ["gmsfhm", "xm", "xb", "csrq", "xzqh"])
    service.owner_decide(
        s, gaj, d1.id, approve=True, terms=Terms(daily_quota=200_000, rate_limit=200)
    )
    service.bureau_confirm(s, ADMIN, d1.id, approve=True)
    # Granted with a row filter: a district sees its own residents only.
    region = region_column(person)
    d2 = demand(
        "CDQ",
        person.id,
        ["gmsfhm", "xm", "csrq", "xzqh", "hjdqh", "zz", "hjdz"],
        purpose="基层网格人员核查",
    )
    service.owner_decide(
        s,
        gaj,
        d2.id,
        approve=True,
        terms=Terms(
            row_filter=RowFilter(column=region, values=["339902"]) if region else None,
            daily_quota=20_000,
        ),
    )
    service.bureau_confirm(s, ADMIN, d2.id, approve=True)
    d3 = demand("RSJ", person.id, ["gmsfhm", "xm", "csrq"], purpose="社会保险待遇资格认证")
    service.owner_decide(s, gaj, d3.id, approve=True, terms=Terms(masking={"xm": "name"}))
    service.bureau_confirm(s, ADMIN, d3.id, approve=True)
    # Waiting for the owner; one is past its deadline (overdue).
    demand("MZJ", person.id, ["gmsfhm", "xm"], purpose="低保对象家庭成员核对")
    late_start = today - timedelta(days=16)
    demand(
        "GJJ",
        person.id,
        ["gmsfhm", "xm", "sjhm", "lxdh"],
        purpose="公积金贷款审核",
        today=late_start,
    )
    # Refused, then escalated to the bureau.
    d5 = demand(
        "JYJ", person.id, ["gmsfhm", "xm", "zz", "hjdz", "sjhm"], purpose="入学报名信息核验"
    )
    service.owner_decide(
        s,
        gaj,
        d5.id,
        approve=False,
        reason="申请的手机号码、住址超出入学核验所需范围，请缩小数据项",
    )
    service.escalate(s, _officer(s, "JYJ", o["JYJ"]), d5.id, "入学材料审核需联系监护人，确有必要")
    # An unmet demand (需求清单), assigned to the health commission.
    d6 = demand("ZWFWB", None, [], wanted="新生儿出生医学证明电子证照信息，用于“出生一件事”联办")
    service.assign_unmet(s, ADMIN, d6.id, o["WJW"], "请市卫健委梳理并编目")

    # Backflow: two province datasets, one flowing with a quarter of volumes.
    zw = _officer(s, "ZWFWB", o["ZWFWB"])
    b1 = service.create_backflow(
        s,
        zw,
        BackflowIn(
            level="省级",
            upstream_code="330000-GA-RK-0001",
            upstream_name="省级人口综合库（示例市户籍与流动人口）",
            upstream_org="示例省公安厅",
            items="公民身份号码、姓名、户籍地址、流动人口居住登记",
            purpose="补全跨市流入人口信息，支撑政务服务就近办理",
        ),
    )
    service.decide_backflow(s, ADMIN, b1.id, approve=True, comment="同意回流，按日同步")
    service.link_backflow_source(s, ADMIN, b1.id, "ingest:source/backflow-rk")
    rng = np.random.default_rng(ctx.seed)
    for i in range(90):
        day = today - timedelta(days=90 - i)
        rows = int(rng.normal(12_000, 1_500))
        service.report_backflow_volume(
            s, ADMIN, b1.id, VolumeIn(day=day, rows=max(rows, 0), bytes=max(rows, 0) * 310)
        )
    service.create_backflow(
        s,
        _officer(s, "SCJGJ", o["SCJGJ"]),
        BackflowIn(
            level="国家级",
            upstream_code="GJ-SCJG-QY-0003",
            upstream_name="全国企业信用信息（本市登记企业）",
            upstream_org="国家市场监督管理总局",
            purpose="企业信用监管",
            delivery="文件",
        ),
    )

    grants = {g.consumer_org_id: g.id for g in service.list_grants(s, ADMIN, limit=100)[0]}
    generate_history(
        s,
        interfaces=[(i.id, i.owner_org_id) for i in ifaces],
        consumers=[(org, gid) for org, gid in grants.items()],
        days=365,
        calls_per_day=int(12_000 * ctx.scale),
        seed=ctx.seed,
        end=today - timedelta(days=1),
    )
    ctx.shared["sharing_interfaces"] = {i.code: i.id for i in ifaces}


def generate_history(
    session: Session,
    *,
    interfaces: list[tuple[int, int]],
    consumers: list[tuple[int, int]],
    days: int = 365,
    calls_per_day: int = 12_000,
    seed: int = 20260101,
    end: date | None = None,
) -> int:
    """A realistic call history as daily rollups (vectorised): weekday rhythm, holidays,
    growth over the year, a few bad days per interface. Returns the number of calls."""
    end = end or service.local_today() - timedelta(days=1)
    rng = np.random.default_rng(seed)
    cal = WorkCalendar.load(session)
    day_list = [end - timedelta(days=days - 1 - i) for i in range(days)]
    work = np.array([cal.is_workday(d) for d in day_list])
    growth = np.linspace(0.6, 1.2, days)
    # Interface × consumer weights: query dominates, export is rare.
    kind_weight = np.array([0.62, 0.25, 0.1, 0.03])[: len(interfaces)]
    cons_weight = rng.dirichlet(np.ones(len(consumers)) * 2)
    base = (
        calls_per_day
        * growth[:, None, None]
        * np.where(work, 1.0, 0.18)[:, None, None]
        * kind_weight[None, :, None]
        * cons_weight[None, None, :]
    )
    calls = rng.poisson(base).astype(np.int64)
    fail_p = np.full(calls.shape, 0.003)
    bad = rng.random(calls.shape[:2]) < 0.01  # an interface's bad day
    fail_p = np.where(bad[:, :, None], rng.uniform(0.02, 0.08, calls.shape), fail_p)
    fails = rng.binomial(calls, fail_p)
    client = rng.binomial(fails, 0.85)
    server = fails - client
    ok = calls - fails
    # Latency: lognormal around 6 ms, slower on bad days; binned into the rollup buckets.
    mu = np.where(bad[:, :, None], np.log(18.0), np.log(6.0))
    edges = np.array([0.0, *LATENCY_BOUNDS_MS, np.inf])
    from math import erf, sqrt

    sigma = 0.6
    z = (np.log(np.maximum(edges, 1e-9))[None, None, None, :] - mu[..., None]) / sigma
    cdf = 0.5 * (1 + np.vectorize(lambda x: erf(x / sqrt(2)))(z))
    probs = np.diff(cdf, axis=-1)
    probs = probs / probs.sum(axis=-1, keepdims=True)
    rows_per_call = np.array([1.0, 0.0, 35.0, 400.0])[: len(interfaces)]
    values = []
    errors = []
    n_total = 0
    for di, day in enumerate(day_list):
        for ii, (iface_id, owner) in enumerate(interfaces):
            for ci, (org, gid) in enumerate(consumers):
                n = int(calls[di, ii, ci])
                if n == 0:
                    continue
                n_total += n
                hist = rng.multinomial(n, probs[di, ii, 0])
                mids = np.array([0.5, 1.5, 3.5, 7.5, 15, 35, 75, 150, 350, 750, 3000, 8000])
                row = {
                    "day": day,
                    "interface_id": iface_id,
                    "consumer_org_id": org,
                    "grant_id": gid,
                    "owner_org_id": owner,
                    "calls": n,
                    "ok": int(ok[di, ii, ci]),
                    "client_errors": int(client[di, ii, ci]),
                    "server_errors": int(server[di, ii, ci]),
                    "rows": int(ok[di, ii, ci] * rows_per_call[ii]),
                    "bytes": int(ok[di, ii, ci] * (180 + rows_per_call[ii] * 160)),
                    "latency_sum_ms": float((hist * mids).sum()),
                } | {f"lat{b}": int(hist[b]) for b in range(N_BUCKETS)}
                values.append(row)
                if fails[di, ii, ci]:
                    split = rng.multinomial(
                        int(client[di, ii, ci]), [0.45, 0.15, 0.2, 0.1, 0.1, 0.0]
                    ) + np.array([0, 0, 0, 0, 0, int(server[di, ii, ci])])
                    for code, cnt in zip(ERROR_CODES, split, strict=True):
                        if cnt:
                            errors.append(
                                {
                                    "day": day,
                                    "interface_id": iface_id,
                                    "consumer_org_id": org,
                                    "owner_org_id": owner,
                                    "error_code": code,
                                    "count": int(cnt),
                                }
                            )
    for start in range(0, len(values), 2000):
        session.execute(insert(CallDaily), values[start : start + 2000])
    for start in range(0, len(errors), 2000):
        session.execute(insert(CallErrorDaily), errors[start : start + 2000])
    session.commit()
    return n_total


def interface_ids(session: Session) -> list[tuple[int, int]]:
    return [(i.id, i.owner_org_id) for i in session.scalars(select(Interface))]
