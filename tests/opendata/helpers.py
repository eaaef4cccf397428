"""Open-data test data through the real services (catalog, warehouse, open data)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy.orm import Session

from gongshu.auth.principal import Principal
from gongshu.opendata import service
from gongshu.opendata.models import OpenDataset
from gongshu.opendata.schemas import DatasetIn
from gongshu.orgs.models import Org
from gongshu.warehouse import Warehouse, table_name_for
from tests.catalog.helpers import ADMIN, make_resource, officer

BUS_ITEMS: list[dict[str, Any]] = [
    {
        "name": "线路编号",
        "column": "line_id",
        "data_type": "整数",
        "is_key": True,
        "description": "公交线路编号",
    },
    {
        "name": "线路名称",
        "column": "line_name",
        "data_type": "字符串",
        "length": 50,
        "description": "如 1路",
    },
    {"name": "站点数", "column": "stops", "data_type": "整数", "description": "站点数量"},
    {"name": "票价", "column": "fare", "data_type": "小数", "length": 8, "description": "元"},
    {"name": "开通日期", "column": "opened", "data_type": "日期"},
    {
        "name": "驾驶员姓名",
        "column": "driver",
        "data_type": "字符串",
        "length": 20,
        "is_sensitive": True,
        "masking": "name",
    },
    {
        "name": "驾驶员身份证号",
        "column": "driver_id",
        "data_type": "字符串",
        "length": 18,
        "is_sensitive": True,
        "masking": "id_number",
    },
]


def bus_resource(session: Session, org: Org, **over: Any) -> Any:
    data = {
        "name": over.pop("name", "公交线路信息"),
        "summary": "全市公交线路、站点数与票价",
        "domain": "交通运输",
        "update_cycle": "每日",
        "share_type": "无条件共享",
        "open_type": "无条件开放",
        "grade": "L1",
        "items": BUS_ITEMS,
    } | over
    return make_resource(session, org, publish=True, **data)


def bus_rows(n: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1, dtype=np.int64)
    return pa.table(
        {
            "line_id": ids,
            "line_name": pa.array([f"{i}路" for i in ids], pa.string()),
            "stops": rng.integers(5, 60, n).astype(np.int64),
            "fare": np.round(rng.choice([1.0, 2.0, 3.0], n), 1),
            "opened": pa.array(np.datetime64("2000-01-01") + rng.integers(0, 9000, n)).cast(
                pa.date32()
            ),
            "driver": pa.array([f"张{i % 97}三" for i in ids], pa.string()),
            "driver_id": pa.array([f"33010219800101{i % 10000:04d}" for i in ids], pa.string()),
        }
    )


def load(wh: Warehouse, code: str, table: pa.Table, load_id: int = 1) -> None:
    with wh.begin_load(table_name_for(code), load_id, table.schema) as stage:
        stage.append(table)
        stage.publish("full")


def proposal(res: Any, **over: Any) -> DatasetIn:
    data: dict[str, Any] = {
        "resource_id": res.id,
        "title": "公交线路",
        "description": "示例市公交线路的编号、名称、站点数、票价与开通日期，每日更新。",
        "tags": ["公交", "出行"],
        "items": [
            {"column": "line_id"},
            {"column": "line_name"},
            {"column": "stops"},
            {"column": "fare"},
            {"column": "opened"},
            {"column": "driver", "masking": "name"},
        ],
        "licence": "CC-BY-4.0",
        "contact": "市交通运输局 0571-12345678",
    } | over
    return DatasetIn.model_validate(data)


def publish(session: Session, wh: Warehouse | None, org: Org, res: Any, **over: Any) -> OpenDataset:
    ds = service.propose_dataset(session, officer(org), proposal(res, **over))
    return service.review_dataset(session, ADMIN, ds.id, approve=True, wh=wh)


__all__ = ["ADMIN", "Principal", "bus_resource", "bus_rows", "load", "officer", "publish"]
