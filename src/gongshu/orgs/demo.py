"""示例市: regions, departments, districts and their information systems."""

from __future__ import annotations

from gongshu.auth.principal import Principal
from gongshu.demo import CITY_NAME, DemoContext
from gongshu.orgs import service
from gongshu.orgs.models import OrgLevel, SystemStatus
from gongshu.orgs.schemas import OrgCreate, RegionCreate, SystemCreate

CITY_CODE = "339900"
# GB/T 2260-style codes for a fictional city in province 33; added as local regions.
REGIONS = [
    (CITY_CODE, CITY_NAME),
    ("339901", "市辖区"),
    ("339902", "城东区"),
    ("339903", "城西区"),
    ("339904", "江南区"),
    ("339905", "江北区"),
    ("339906", "湖滨区"),
    ("339921", "临江县"),
]

# code, name, short name, systems (name, builder, on government cloud)
DEPARTMENTS: list[tuple[str, str, str, list[tuple[str, str, bool]]]] = [
    (
        "SJJ",
        "示例市数据局",
        "市数据局",
        [
            ("一体化智能化公共数据平台", "示例市大数据集团", True),
            ("城市大脑驾驶舱", "示例市大数据集团", True),
        ],
    ),
    (
        "GAJ",
        "示例市公安局",
        "市公安局",
        [
            ("人口信息管理系统", "公安部第一研究所", False),
            ("治安综合管理系统", "某科技有限公司", False),
        ],
    ),
    (
        "SCJGJ",
        "示例市市场监督管理局",
        "市市场监管局",
        [
            ("企业登记注册系统", "某信息技术有限公司", True),
            ("行政执法办案系统", "某软件股份有限公司", True),
        ],
    ),
    (
        "RSJ",
        "示例市人力资源和社会保障局",
        "市人力社保局",
        [
            ("社会保险信息系统", "某社保软件有限公司", True),
            ("就业创业服务系统", "某信息技术有限公司", True),
        ],
    ),
    (
        "ZRZYJ",
        "示例市自然资源和规划局",
        "市自然资源局",
        [
            ("不动产登记信息系统", "某地理信息有限公司", True),
        ],
    ),
    (
        "MZJ",
        "示例市民政局",
        "市民政局",
        [
            ("婚姻登记管理系统", "民政部信息中心", False),
            ("社会救助信息系统", "某软件有限公司", True),
        ],
    ),
    (
        "GJJ",
        "示例市住房公积金管理中心",
        "市公积金中心",
        [
            ("住房公积金业务系统", "某金融科技有限公司", False),
        ],
    ),
    (
        "STHJJ",
        "示例市生态环境局",
        "市生态环境局",
        [
            ("空气质量自动监测系统", "某环境科技有限公司", True),
            ("污染源在线监控系统", "某环境科技有限公司", True),
        ],
    ),
    (
        "JTJ",
        "示例市交通运输局",
        "市交通运输局",
        [
            ("公交一卡通清算系统", "示例市公交集团", False),
            ("出租汽车监管平台", "某交通科技有限公司", True),
        ],
    ),
    (
        "WJW",
        "示例市卫生健康委员会",
        "市卫健委",
        [
            ("全民健康信息平台", "某医疗信息有限公司", True),
        ],
    ),
    (
        "JYJ",
        "示例市教育局",
        "市教育局",
        [
            ("中小学学籍管理系统", "某教育科技有限公司", True),
        ],
    ),
    (
        "ZWFWB",
        "示例市政务服务管理办公室",
        "市政务办",
        [
            ("12345政务服务便民热线系统", "某呼叫中心有限公司", True),
            ("一网通办政务服务平台", "某数字政府有限公司", True),
        ],
    ),
    (
        "CGJ",
        "示例市城市管理局",
        "市城管局",
        [
            ("数字城管系统", "某城市科技有限公司", True),
        ],
    ),
    (
        "SJJT",
        "示例市大数据集团有限公司",
        "大数据集团",
        [
            ("公共数据授权运营平台", "示例市大数据集团", True),
        ],
    ),
]

DISTRICTS = [
    ("CDQ", "339902", "城东区"),
    ("CXQ", "339903", "城西区"),
    ("JNQ", "339904", "江南区"),
    ("JBQ", "339905", "江北区"),
    ("HBQ", "339906", "湖滨区"),
    ("LJX", "339921", "临江县"),
]


def build(ctx: DemoContext) -> None:
    actor = Principal.system("demo")
    s = ctx.session
    for code, name in REGIONS:
        service.add_region(s, actor, RegionCreate(code=code, name=name))
    rng = ctx.rng("orgs")
    orgs: dict[str, int] = {}
    for code, name, short, systems in DEPARTMENTS:
        org = service.create_org(
            s,
            actor,
            OrgCreate(
                code=code,
                name=name,
                short_name=short,
                level=OrgLevel.city,
                region_code=CITY_CODE,
                contact_name=rng.choice("王李张刘陈杨赵黄周吴")
                + rng.choice(["伟", "芳", "敏", "静", "强", "磊"]),
                contact_phone=f"0599-8{rng.randrange(1000000, 9999999)}",
            ),
        )
        orgs[code] = org.id
        for sys_name, builder, cloud in systems:
            service.create_system(
                s,
                actor,
                SystemCreate(org_id=org.id, name=sys_name, builder=builder, on_gov_cloud=cloud),
            )
    city_gov = orgs["SJJ"]
    for code, region, name in DISTRICTS:
        org = service.create_org(
            s,
            actor,
            OrgCreate(
                code=code,
                name=f"{CITY_NAME}{name}人民政府",
                short_name=name,
                level=OrgLevel.district,
                region_code=region,
                parent_id=None,
                description=f"{name}数据工作由区大数据中心承担",
            ),
        )
        orgs[code] = org.id
        service.create_system(
            s,
            actor,
            SystemCreate(
                org_id=org.id,
                name=f"{name}基层治理四平台",
                builder="示例市大数据集团",
                status=SystemStatus.running,
                on_gov_cloud=True,
            ),
        )
    ctx.shared["orgs"] = orgs
    ctx.shared["bureau_org_id"] = city_gov
