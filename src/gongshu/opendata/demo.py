"""示例市 open data: ~30 open datasets across domains, loaded into the warehouse, with
reuses, comments, ratings, data requests, a key list, a restricted application and a
month of download / API call history."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import select

from gongshu.auth.models import User
from gongshu.auth.principal import Principal
from gongshu.catalog import service as catalog
from gongshu.catalog.schemas import ResourceIn
from gongshu.demo import DemoContext
from gongshu.opendata import hooks, service
from gongshu.opendata.models import OpenCall, OpenDataset
from gongshu.opendata.schemas import (
    AnswerIn,
    ApplicationIn,
    BureauReviewIn,
    CommentIn,
    DatasetIn,
    KeyListEntryIn,
    RequestIn,
    ReuseIn,
)
from gongshu.warehouse import shared as warehouse
from gongshu.warehouse import table_name_for

DISTRICTS = ["城东区", "城西区", "江南区", "江北区", "湖滨区", "临江县"]
# column kinds: id | choice:<a,b> | int:<lo>:<hi> | float:<lo>:<hi> | date | district |
# name (sensitive, masked) | phone (sensitive, masked) | seqname:<prefix>
DATASETS: list[tuple[str, str, str, str, list[str], int, list[tuple[str, str, str]]]] = [
    (
        "JTJ",
        "交通运输",
        "公交线路信息",
        "全市公交线路编号、名称、起讫站点、站点数、票价与首末班时间，每日更新。",
        ["公交", "出行", "线路"],
        1200,
        [
            ("线路编号", "line_id", "id"),
            ("线路名称", "line_name", "seqname:路"),
            ("所属区县", "district", "district"),
            ("站点数", "stops", "int:5:60"),
            ("票价（元）", "fare", "float:1:4"),
            ("开通日期", "opened", "date"),
        ],
    ),
    (
        "JTJ",
        "交通运输",
        "公交站点信息",
        "公交站点名称、经纬度与途经线路数。",
        ["公交", "站点"],
        3000,
        [
            ("站点编号", "stop_id", "id"),
            ("站点名称", "stop_name", "seqname:站"),
            ("所属区县", "district", "district"),
            ("经度", "lng", "float:120.0:120.5"),
            ("纬度", "lat", "float:30.1:30.4"),
            ("途经线路数", "lines", "int:1:20"),
        ],
    ),
    (
        "JTJ",
        "交通运输",
        "公共自行车租赁点",
        "公共自行车租赁点位置与车桩数量。",
        ["公共自行车", "出行"],
        800,
        [
            ("租赁点编号", "point_id", "id"),
            ("租赁点名称", "point_name", "seqname:号租赁点"),
            ("所属区县", "district", "district"),
            ("车桩数", "docks", "int:10:60"),
        ],
    ),
    (
        "JTJ",
        "交通运输",
        "停车场泊位信息",
        "公共停车场名称、泊位数与收费标准。",
        ["停车", "泊位"],
        600,
        [
            ("停车场编号", "lot_id", "id"),
            ("停车场名称", "lot_name", "seqname:号停车场"),
            ("所属区县", "district", "district"),
            ("泊位数", "spaces", "int:20:800"),
            ("首小时收费（元）", "price", "float:0:10"),
        ],
    ),
    (
        "JTJ",
        "交通运输",
        "出租车运营统计",
        "按日统计的出租车运营车辆数、载客次数与里程。",
        ["出租车", "统计"],
        730,
        [
            ("序号", "seq", "id"),
            ("统计日期", "day", "date"),
            ("运营车辆数", "cars", "int:2000:4000"),
            ("载客次数", "trips", "int:30000:90000"),
            ("平均里程（公里）", "km", "float:5:12"),
        ],
    ),
    (
        "STHJJ",
        "资源环境",
        "空气质量日报",
        "各区县空气质量指数（AQI）与主要污染物浓度。",
        ["空气质量", "AQI", "环境"],
        2190,
        [
            ("序号", "seq", "id"),
            ("监测日期", "day", "date"),
            ("区县", "district", "district"),
            ("AQI", "aqi", "int:20:220"),
            ("PM2.5（μg/m³）", "pm25", "float:5:150"),
        ],
    ),
    (
        "STHJJ",
        "资源环境",
        "地表水水质监测",
        "主要河流断面水质类别与监测指标。",
        ["水质", "河流"],
        900,
        [
            ("序号", "seq", "id"),
            ("断面名称", "section", "seqname:号断面"),
            ("水质类别", "grade", "choice:Ⅰ类,Ⅱ类,Ⅲ类,Ⅳ类"),
            ("溶解氧（mg/L）", "do", "float:3:10"),
            ("监测日期", "day", "date"),
        ],
    ),
    (
        "STHJJ",
        "资源环境",
        "重点排污单位名录",
        "重点排污单位名称、行业与所在区县。",
        ["排污", "企业"],
        400,
        [
            ("序号", "seq", "id"),
            ("单位名称", "company", "seqname:号企业"),
            ("行业", "industry", "choice:化工,印染,电镀,造纸,食品"),
            ("所属区县", "district", "district"),
        ],
    ),
    (
        "CGJ",
        "资源环境",
        "垃圾分类投放点",
        "生活垃圾分类投放点位置与类型。",
        ["垃圾分类", "环境"],
        1500,
        [
            ("点位编号", "point_id", "id"),
            ("点位名称", "name", "seqname:号投放点"),
            ("所属区县", "district", "district"),
            ("类型", "kind", "choice:四分类,两分类,大件"),
        ],
    ),
    (
        "JYJ",
        "教育文化",
        "中小学校名录",
        "全市中小学校名称、学段、办学性质与地址区县。",
        ["学校", "教育"],
        420,
        [
            ("学校编号", "school_id", "id"),
            ("学校名称", "school", "seqname:号学校"),
            ("学段", "stage", "choice:小学,初中,高中,九年一贯制"),
            ("办学性质", "nature", "choice:公办,民办"),
            ("所属区县", "district", "district"),
            ("在校生数", "students", "int:200:3000"),
        ],
    ),
    (
        "JYJ",
        "教育文化",
        "幼儿园名录",
        "幼儿园名称、等级与招生规模。",
        ["幼儿园", "教育"],
        380,
        [
            ("编号", "kg_id", "id"),
            ("幼儿园名称", "name", "seqname:号幼儿园"),
            ("等级", "level", "choice:一级,二级,三级"),
            ("所属区县", "district", "district"),
            ("班级数", "classes", "int:3:20"),
        ],
    ),
    (
        "JYJ",
        "教育文化",
        "公共图书馆借阅统计",
        "各图书馆按月借阅量。",
        ["图书馆", "文化"],
        360,
        [
            ("序号", "seq", "id"),
            ("图书馆", "library", "seqname:号图书馆"),
            ("统计月份", "month", "date"),
            ("借阅册次", "loans", "int:1000:30000"),
        ],
    ),
    (
        "JYJ",
        "教育文化",
        "A级旅游景区名录",
        "A 级旅游景区名称、等级与开放时间。",
        ["旅游", "景区", "文旅"],
        120,
        [
            ("编号", "spot_id", "id"),
            ("景区名称", "name", "seqname:号景区"),
            ("等级", "level", "choice:5A,4A,3A,2A"),
            ("所属区县", "district", "district"),
            ("年接待人次（万）", "visitors", "float:1:500"),
        ],
    ),
    (
        "JYJ",
        "教育文化",
        "文化场馆名录",
        "博物馆、文化馆、美术馆等文化场馆。",
        ["文化", "场馆", "文旅"],
        150,
        [
            ("编号", "venue_id", "id"),
            ("场馆名称", "name", "seqname:号场馆"),
            ("类型", "kind", "choice:博物馆,文化馆,美术馆,剧院"),
            ("所属区县", "district", "district"),
        ],
    ),
    (
        "WJW",
        "医疗卫生",
        "医疗机构名录",
        "医院、社区卫生服务中心等医疗机构名称、等级与床位数。",
        ["医院", "医疗"],
        650,
        [
            ("机构编号", "org_id", "id"),
            ("机构名称", "name", "seqname:号医疗机构"),
            ("等级", "level", "choice:三级甲等,三级乙等,二级,一级,社区"),
            ("所属区县", "district", "district"),
            ("床位数", "beds", "int:0:2000"),
        ],
    ),
    (
        "WJW",
        "医疗卫生",
        "药店名录",
        "零售药店名称与医保定点情况。",
        ["药店", "医保"],
        900,
        [
            ("编号", "shop_id", "id"),
            ("药店名称", "name", "seqname:号药店"),
            ("医保定点", "insured", "choice:是,否"),
            ("所属区县", "district", "district"),
        ],
    ),
    (
        "WJW",
        "医疗卫生",
        "疫苗接种门诊",
        "预防接种门诊名称与服务时间。",
        ["疫苗", "接种"],
        160,
        [
            ("编号", "clinic_id", "id"),
            ("门诊名称", "name", "seqname:号接种门诊"),
            ("所属区县", "district", "district"),
            ("每周开诊天数", "days", "int:2:7"),
        ],
    ),
    (
        "SCJGJ",
        "经济建设",
        "市场主体登记信息",
        "新登记企业与个体工商户的名称、类型与登记日期（已脱敏）。",
        ["企业", "市场监管", "登记"],
        5000,
        [
            ("序号", "seq", "id"),
            ("主体名称", "name", "seqname:号商贸有限公司"),
            ("主体类型", "kind", "choice:有限责任公司,个体工商户,股份有限公司,农民专业合作社"),
            ("所属区县", "district", "district"),
            ("注册资本（万元）", "capital", "float:1:5000"),
            ("成立日期", "founded", "date"),
        ],
    ),
    (
        "SCJGJ",
        "经济建设",
        "食品经营许可信息",
        "食品经营许可证编号、主体与有效期。",
        ["食品", "许可", "市场监管"],
        2000,
        [
            ("序号", "seq", "id"),
            ("经营者名称", "name", "seqname:号餐饮店"),
            ("经营项目", "item", "choice:热食类,冷食类,预包装食品,糕点"),
            ("有效期至", "valid", "date"),
        ],
    ),
    (
        "SCJGJ",
        "经济建设",
        "产品质量抽检结果",
        "产品质量监督抽检结果。",
        ["抽检", "质量", "市场监管"],
        800,
        [
            ("序号", "seq", "id"),
            ("产品名称", "product", "choice:电线电缆,儿童玩具,服装,电动自行车,化妆品"),
            ("抽检结果", "result", "choice:合格,不合格"),
            ("抽检日期", "day", "date"),
        ],
    ),
    (
        "SJJ",
        "信用服务",
        "行政许可信用信息",
        "行政许可决定的双公示信息（自然人信息已脱敏）。",
        ["信用", "双公示", "许可"],
        3000,
        [
            ("序号", "seq", "id"),
            ("许可事项", "item", "choice:建设工程规划许可,食品经营许可,排污许可,道路运输许可"),
            ("相对人名称", "holder", "seqname:号公司"),
            ("法定代表人", "legal", "name"),
            ("决定日期", "day", "date"),
        ],
    ),
    (
        "SJJ",
        "信用服务",
        "行政处罚信用信息",
        "行政处罚决定的双公示信息。",
        ["信用", "双公示", "处罚"],
        1500,
        [
            ("序号", "seq", "id"),
            ("处罚事由", "reason", "choice:未按规定公示,超范围经营,虚假宣传,环境违法"),
            ("相对人名称", "holder", "seqname:号公司"),
            ("罚款金额（元）", "fine", "float:500:200000"),
            ("决定日期", "day", "date"),
        ],
    ),
    (
        "SJJ",
        "信用服务",
        "守信激励名单",
        "A 级纳税人等守信主体名单。",
        ["信用", "红名单"],
        600,
        [
            ("序号", "seq", "id"),
            ("主体名称", "name", "seqname:号集团"),
            ("名单类型", "kind", "choice:A级纳税人,守合同重信用,诚信示范"),
            ("认定年度", "year", "int:2019:2025"),
        ],
    ),
    (
        "RSJ",
        "社会保障",
        "人力资源服务机构",
        "经营性人力资源服务机构名录。",
        ["就业", "人力资源"],
        300,
        [
            ("编号", "agency_id", "id"),
            ("机构名称", "name", "seqname:号人力资源公司"),
            ("所属区县", "district", "district"),
        ],
    ),
    (
        "RSJ",
        "社会保障",
        "招聘岗位信息",
        "公共就业服务平台发布的招聘岗位。",
        ["就业", "招聘"],
        2500,
        [
            ("岗位编号", "job_id", "id"),
            ("岗位名称", "title", "choice:软件工程师,会计,护士,电工,销售,教师"),
            ("月薪下限（元）", "salary", "int:3000:20000"),
            ("所属区县", "district", "district"),
            ("发布日期", "day", "date"),
        ],
    ),
    (
        "MZJ",
        "社会救助",
        "养老服务机构",
        "养老院、日间照料中心名称与床位数。",
        ["养老", "民政"],
        280,
        [
            ("编号", "home_id", "id"),
            ("机构名称", "name", "seqname:号养老院"),
            ("床位数", "beds", "int:20:600"),
            ("所属区县", "district", "district"),
        ],
    ),
    (
        "ZRZYJ",
        "城建住房",
        "国有建设用地供应",
        "国有建设用地出让与划拨结果。",
        ["土地", "出让"],
        500,
        [
            ("地块编号", "parcel_id", "id"),
            ("用途", "use", "choice:住宅,商业,工业,公共设施"),
            ("面积（平方米）", "area", "float:1000:200000"),
            ("成交价（万元）", "price", "float:100:500000"),
            ("成交日期", "day", "date"),
        ],
    ),
    (
        "GJJ",
        "城建住房",
        "公积金缴存统计",
        "按月公积金缴存人数与金额。",
        ["公积金", "统计"],
        120,
        [
            ("序号", "seq", "id"),
            ("统计月份", "month", "date"),
            ("缴存人数", "people", "int:500000:900000"),
            ("缴存额（亿元）", "amount", "float:5:20"),
        ],
    ),
    (
        "GAJ",
        "公共安全",
        "机动车保有量统计",
        "按月机动车保有量与新注册量。",
        ["机动车", "交通"],
        120,
        [
            ("序号", "seq", "id"),
            ("统计月份", "month", "date"),
            ("保有量（万辆）", "total", "float:200:400"),
            ("新注册（辆）", "new", "int:5000:30000"),
        ],
    ),
    (
        "ZWFWB",
        "经济建设",
        "政务服务事项办件统计",
        "各部门政务服务事项按月办件量与好评率。",
        ["政务服务", "办件"],
        720,
        [
            ("序号", "seq", "id"),
            ("部门", "dept", "choice:市场监管,公安,人社,民政,自然资源,交通"),
            ("统计月份", "month", "date"),
            ("办件量", "cases", "int:100:20000"),
            ("好评率", "rate", "float:0.9:1"),
        ],
    ),
]
RESTRICTED = (
    "WJW",
    "医疗卫生",
    "医疗机构门诊量明细",
    "各医疗机构按日门诊量与联系电话，受限开放（须申请）。",
    ["医疗", "门诊"],
    1000,
    [
        ("序号", "seq", "id"),
        ("机构名称", "name", "seqname:号医疗机构"),
        ("日期", "day", "date"),
        ("门诊人次", "visits", "int:50:5000"),
        ("联系电话", "phone", "phone"),
    ],
)
TYPES = {"id": "整数", "int": "整数", "float": "小数", "date": "日期"}


def _item(name: str, column: str, kind: str, pos: int) -> dict[str, Any]:
    head = kind.split(":")[0]
    sensitive = head in ("name", "phone")
    return {
        "name": name,
        "column": column,
        "data_type": TYPES.get(head, "字符串"),
        "length": 100
        if TYPES.get(head, "字符串") == "字符串"
        else (12 if head == "float" else None),
        "is_key": head == "id",
        "is_sensitive": sensitive,
        "masking": head if sensitive else "none",
        "description": f"{name}（{'敏感，开放时脱敏' if sensitive else '开放'}）",
    }


def _column(kind: str, n: int, rng: np.random.Generator) -> pa.Array:
    head, _, arg = kind.partition(":")
    if head == "id":
        return pa.array(np.arange(1, n + 1, dtype=np.int64))
    if head == "int":
        lo, hi = (int(x) for x in arg.split(":"))
        return pa.array(rng.integers(lo, hi + 1, n).astype(np.int64))
    if head == "float":
        lo, hi = (float(x) for x in arg.split(":"))
        return pa.array(np.round(rng.uniform(lo, hi, n), 2))
    if head == "date":
        days = rng.integers(0, 1500, n)
        return pa.array(np.datetime64("2021-01-01") + days).cast(pa.date32())
    if head == "district":
        return pa.array(np.array(DISTRICTS)[rng.integers(0, len(DISTRICTS), n)])
    if head == "choice":
        options = np.array(arg.split(","))
        return pa.array(options[rng.integers(0, len(options), n)])
    if head == "seqname":
        return pa.array([f"示例{i}{arg}" for i in range(1, n + 1)])
    if head == "name":
        surnames = np.array(list("王李张刘陈杨黄赵吴周"))
        return pa.array([f"{s}某某" for s in surnames[rng.integers(0, 10, n)]])
    if head == "phone":
        return pa.array([f"13{int(x):09d}" for x in rng.integers(0, 10**9, n)])
    raise ValueError(kind)


def build(ctx: DemoContext) -> None:
    session = ctx.session
    orgs: dict[str, int] = ctx.shared["orgs"]
    admin_id = session.scalar(select(User.id).where(User.username == "admin"))
    admin = Principal(kind="user", id=admin_id, name="admin", role="admin")
    wh = warehouse(ctx.settings.warehouse_url)
    specs = [*DATASETS, RESTRICTED]
    entries = []
    for org_code, domain, name, summary, tags, _n, cols in specs:
        restricted = name == RESTRICTED[2]
        entries.append(
            catalog.NewResource(
                ResourceIn.model_validate(
                    {
                        "name": name,
                        "summary": summary,
                        "domain": domain,
                        "classification": "部门",
                        "update_cycle": "每月" if "统计" in name else "每日",
                        "share_type": "无条件共享",
                        "share_methods": ["下载", "调用在线服务"],
                        "open_type": "受限开放" if restricted else "无条件开放",
                        "open_reason": "含机构联系电话，须申请" if restricted else None,
                        "grade": "L2" if restricted else "L1",
                        "keywords": ",".join(tags),
                        "items": [_item(*c, i) for i, c in enumerate(cols)],
                    }
                ),
                owner_org_id=orgs[org_code],
            )
        )
    ids = catalog.bulk_create(session, admin, entries, publish=True, action="import")
    session.commit()
    rng = ctx.rng("opendata")
    datasets: list[OpenDataset] = []
    for rid, (org_code, _d, name, summary, tags, n, cols) in zip(ids, specs, strict=True):
        spec = catalog.resource_spec(session, rid)
        n = max(50, int(n * ctx.scale))
        nrng = np.random.default_rng(rng.randrange(1 << 30))
        table = pa.table({c: _column(kind, n, nrng) for _label, c, kind in cols})
        with wh.begin_load(table_name_for(spec.code), 1, table.schema) as stage:
            stage.append(table)
            stage.publish("full")
        officer = Principal(
            kind="user",
            id=None,
            name=f"{org_code.lower()}_officer",
            role="officer",
            org_id=orgs[org_code],
        )
        proposal = DatasetIn.model_validate(
            {
                "resource_id": rid,
                "title": name,
                "description": summary,
                "tags": tags,
                "items": [{"column": i.column, "masking": i.masking} for i in spec.items],
                "licence": "CC-BY-4.0" if rng.random() < 0.8 else "gov-open",
                "contact": f"{org_code} 数据专员 0571-8{rng.randrange(1000000, 9999999)}"
                if rng.random() < 0.85
                else "",
            }
        )
        ds = service.propose_dataset(session, officer, proposal)
        ds = service.review_dataset(session, admin, ds.id, approve=True, wh=wh)
        # ingest → open data: the post-publish hook refreshes counts and timeliness
        hooks.notify(
            session, hooks.LoadPublished(rid, table_name_for(spec.code), 1, n), warehouse=wh
        )
        datasets.append(ds)
    # one proposal left for the bureau to review
    _community(ctx, datasets, admin, orgs, rng)


def _community(
    ctx: DemoContext,
    datasets: list[OpenDataset],
    admin: Principal,
    orgs: dict[str, int],
    rng: random.Random,
) -> None:
    session = ctx.session
    citizen = session.scalar(select(User).where(User.username == "citizen"))
    by_title = {d.title: d for d in datasets}
    cit = Principal(kind="user", id=citizen.id, name="citizen", role="public") if citizen else admin
    reuses = [
        ("示例公交通", "应用", "实时公交线路与站点查询小程序", ["公交线路信息", "公交站点信息"]),
        ("蓝天地图", "可视化", "各区县空气质量日历热力图", ["空气质量日报"]),
        ("学区通", "网站", "学校与幼儿园分布查询", ["中小学校名录", "幼儿园名录"]),
        ("企业信用速查", "应用", "双公示信息聚合查询", ["行政许可信用信息", "行政处罚信用信息"]),
        ("示例市营商环境报告", "研究报告", "基于市场主体登记数据的年度分析", ["市场主体登记信息"]),
    ]
    for title, kind, desc, names in reuses:
        service.submit_reuse(
            session,
            admin,
            ReuseIn(
                title=title,
                kind=kind,
                description=desc,
                author="示例市开发者社区",
                dataset_ids=[by_title[n].id for n in names],
            ),
        )
    for i, ds in enumerate(datasets[:12]):
        c = service.add_comment(
            session,
            cit,
            ds.id,
            CommentIn(
                kind="question" if i % 2 else "comment",
                body="数据很实用，能否增加按小时的数据？"
                if i % 2
                else "感谢开放，已用于出行规划。",
            ),
        )
        if i % 4 == 1:
            officer = Principal(
                kind="user", id=None, name="officer", role="officer", org_id=ds.org_id
            )
            service.reply_comment(session, officer, c.id, "感谢建议，已列入下一期开放计划。")
        service.rate(session, cit, ds.id, 3 + (i % 3))
    year = service.local_today().year
    promises = [
        ("公交线路信息", "JTJ", 3),
        ("空气质量日报", "STHJJ", 4),
        ("中小学校名录", "JYJ", 5),
        ("医疗机构名录", "WJW", 6),
        ("市场主体登记信息", "SCJGJ", 6),
    ]
    for title, org, month in promises:
        ds = by_title[title]
        service.add_key_list_entry(
            session,
            admin,
            KeyListEntryIn(
                year=year,
                org_id=orgs[org],
                title=title,
                domain=ds.domain,
                resource_id=ds.resource_id,
                due_date=date(year, month, 30),
            ),
        )
    for title, org, due in [
        ("网约车运营数据", "JTJ", date(year, 12, 31)),
        ("噪声监测数据", "STHJJ", date(year, 12, 31)),
        ("养老服务补贴发放统计", "MZJ", date(year, 1, 31)),
    ]:
        service.add_key_list_entry(
            session,
            admin,
            KeyListEntryIn(
                year=year, org_id=orgs[org], title=title, domain="社会保障", due_date=due
            ),
        )
    r1 = service.submit_request(
        session,
        cit,
        RequestIn(
            title="实时公交到站数据",
            description="希望开放公交车辆实时位置，用于到站提醒。",
            requester="王先生",
            org_id=orgs["JTJ"],
        ),
    )
    service.answer_request(
        session,
        admin,
        r1.id,
        AnswerIn(
            answer="已开放公交线路与站点数据，实时位置数据计划年内开放。",
            outcome="planned",
            dataset_id=by_title["公交线路信息"].id,
        ),
    )
    service.submit_request(
        session,
        cit,
        RequestIn(title="充电桩分布数据", description="用于新能源车充电导航。", requester="李女士"),
    )
    restricted = by_title[RESTRICTED[2]]
    if citizen is not None:
        app = service.apply(
            session,
            cit,
            ApplicationIn(
                dataset_id=restricted.id,
                applicant="示例科技有限公司",
                applicant_type="企业",
                credit_code="91330100MA27XL7T4T",
                purpose="就医分流研究",
                scenario="门诊量预测",
                security_commitment="仅用于研究，不对外提供。",
                items=["seq", "name", "day", "visits"],
                period_start=service.local_today(),
                period_end=service.local_today() + timedelta(days=365),
            ),
        )
        officer = Principal(
            kind="user", id=None, name="wjw_officer", role="officer", org_id=orgs["WJW"]
        )
        service.org_review(session, officer, app.id, True, "同意")
        service.bureau_review(session, admin, app.id, BureauReviewIn(approve=True, comment="同意"))
    # a month of usage history for the statistics pages and the cockpit
    today = service.local_today()
    calls = []
    for day in range(30):
        d = today - timedelta(days=day)
        for ds in datasets:
            for kind in ("download", "api"):
                for _ in range(rng.randrange(0, 4)):
                    calls.append(
                        OpenCall(
                            ts=datetime.combine(d, datetime.min.time(), UTC),
                            day=d,
                            dataset_id=ds.id,
                            kind=kind,
                            status=200,
                            ok=True,
                            rows=100,
                            fmt="csv" if kind == "download" else None,
                        )
                    )
    session.add_all(calls)
    for ds in datasets:
        ds.downloads = sum(1 for c in calls if c.dataset_id == ds.id and c.kind == "download")
        ds.api_calls = sum(1 for c in calls if c.dataset_id == ds.id and c.kind == "api")
    session.commit()
