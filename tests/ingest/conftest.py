"""Fixtures for ingest: warehouses on both engines, published catalog resources, files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from gongshu.ingest.spec import ItemSpec, ResourceSpec
from gongshu.warehouse import Warehouse, connect
from tests.catalog.helpers import make_resource
from tests.factories import make_org
from tests.warehouse.conftest import engine_url, spark_session  # noqa: F401 - shared fixture

ENGINES = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]

PERSON_ITEMS: list[dict[str, Any]] = [
    {
        "name": "公民身份号码",
        "column": "gmsfhm",
        "data_type": "字符串",
        "length": 18,
        "data_element": "公民身份号码",
        "is_key": True,
        "is_sensitive": True,
    },
    {"name": "姓名", "column": "xm", "data_type": "字符串", "length": 20},
    {"name": "年龄", "column": "nl", "data_type": "整数"},
    {"name": "出生日期", "column": "csrq", "data_type": "日期"},
    {
        "name": "行政区划代码",
        "column": "xzqh",
        "data_type": "字符串",
        "length": 6,
        "data_element": "行政区划代码",
    },
    {"name": "登记时间", "column": "djsj", "data_type": "日期时间"},
    {"name": "月收入", "column": "ysr", "data_type": "小数", "length": 12},
]


def person_spec(code: str = "JC-TEST-RK-0001") -> ResourceSpec:
    return ResourceSpec(
        id=1,
        code=code,
        name="人口基本信息",
        owner_org_id=1,
        items=tuple(
            ItemSpec(
                column=i["column"],
                name=i["name"],
                data_type=i["data_type"],
                length=i.get("length"),
                is_key=i.get("is_key", False),
                data_element=i.get("data_element"),
            )
            for i in PERSON_ITEMS
        ),
    )


HEADER = "身份证号,姓名,年龄,出生日期,行政区划代码,登记时间,月收入\n"
CLEAN_ROWS = [
    "330602199001010011,张三,34,1990-01-01,330602,2024-01-02 08:00:00,5000.5",
    "33060219850203002X,李四,39,1985/2/3,010101,2024-01-02T09:30,8000",
    '"330602200012120033","王五\n（曾用名王武）",23,2000年12月12日,330603,2024-01-03,',
    "３３０６０２１９７０１０１０００４４,赵　六,54,19701010,330604,2024-01-04 10:00:00,1200",
]
DIRTY_ROWS = [
    "330602199101010055,钱七,abc,1991-01-01,330602,2024-01-05 08:00:00,1",  # 年龄不是整数
    "330602199202300066,孙八,32,1992-02-30,330602,2024-01-05 08:00:00,1",  # 日期不存在
    ",周九,30,1994-01-01,330602,2024-01-05 08:00:00,1",  # 主键为空
    "330602199501010077,吴十,29,1995-01-01,3306020,2024-01-05 08:00:00,1",  # 区划超长
    "330602199601010088,郑十一,28",  # 列数不符
]


def write_csv(path: Path, rows: list[str], encoding: str = "utf-8", header: str = HEADER) -> Path:
    text = header + "\n".join(rows) + "\n"
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def open_wh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Warehouse]]:
    engine: str = request.param
    session = request.getfixturevalue("spark_session") if engine == "spark" else None
    opened: list[Warehouse] = []

    def _open() -> Warehouse:
        wh = connect(engine_url(engine, tmp_path), spark_session=session)
        opened.append(wh)
        return wh

    yield _open
    for wh in opened:
        wh.close()


@pytest.fixture
def wh(open_wh: Callable[[], Warehouse]) -> Warehouse:
    return open_wh()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "open_wh" in metafunc.fixturenames:
        metafunc.parametrize("open_wh", ENGINES, indirect=True)


@pytest.fixture
def org(session: Session) -> Any:
    return make_org(session, "GAJ", name="市公安局")


@pytest.fixture
def resource(session: Session, org: Any) -> Any:
    """A published person resource of ``org`` (through the real catalog service)."""
    return make_resource(session, org, publish=True, items=PERSON_ITEMS)


def pytest_configure(config: pytest.Config) -> None:
    # ibis 12 still calls a DuckDB 2 method that is deprecated; not ours to fix.
    config.addinivalue_line(
        "filterwarnings", "ignore:fetch_arrow_table\\(\\) is deprecated:DeprecationWarning"
    )
