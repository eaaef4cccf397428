"""Publication rules and the metadata quality score: pure functions, no database.

Every route that makes rows public (proposal, approval, refresh after a load, and each
read: preview, download, row API, CKAN datastore) runs :func:`publication_problems`
against the *current* catalog entry, so a resource later re-graded L4 or closed stops
being served at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gongshu.catalog.schemas import ResourceSpec
from gongshu.catalog.vocab import OpenType
from gongshu.db import utcnow

OPENABLE = (OpenType.unconditional.value, OpenType.restricted.value)
FILTER_OPS = {
    "eq": "等于",
    "ne": "不等于",
    "gt": "大于",
    "ge": "大于等于",
    "lt": "小于",
    "le": "小于等于",
    "in": "属于",
    "notnull": "非空",
}
LICENCES = {
    "CC-BY-4.0": "知识共享 署名 4.0",
    "CC0-1.0": "知识共享 CC0 1.0（公共领域）",
    "ODC-BY-1.0": "开放数据共享 署名许可 1.0",
    "gov-open": "示例市公共数据开放许可协议",
}
# How long after a load the data counts as timely, per update cycle.
CYCLE_DAYS = {
    "实时": 2,
    "每日": 2,
    "每周": 8,
    "每旬": 11,
    "每月": 32,
    "每季度": 93,
    "每年": 366,
}


def masking_names() -> list[str]:
    from gongshu.masking import maskers

    return maskers.names()


def publication_problems(
    spec: ResourceSpec,
    items: Sequence[dict[str, Any]],
    row_filter: Sequence[dict[str, Any]] = (),
    *,
    open_type: str | None = None,
) -> list[str]:
    """Why these items of this resource may not be opened (empty list: they may)."""
    problems: list[str] = []
    if spec.status != "published":
        problems.append("资源目录中的资源尚未发布或已下线")
    if spec.grade == "L4":
        problems.append("L4（敏感）级资源一律不予开放")
    if spec.open_type not in OPENABLE:
        problems.append(f"资源的开放类型为“{spec.open_type}”，不能开放")
    if open_type is not None and open_type != spec.open_type:
        problems.append(f"数据集开放类型“{open_type}”与目录“{spec.open_type}”不一致")
    if spec.grade in ("L2", "L3") and spec.open_type != OpenType.restricted.value:
        problems.append(f"{spec.grade} 级资源只能受限开放")
    if not items:
        problems.append("至少开放一个数据项")
    known = masking_names()
    seen: set[str] = set()
    for it in items:
        col = it.get("column")
        src = spec.item(str(col))
        if src is None:
            problems.append(f"数据项 {col} 不在资源目录中")
            continue
        if col in seen:
            problems.append(f"数据项 {col} 重复")
        seen.add(str(col))
        masking = it.get("masking") or "none"
        if masking != "none" and masking not in known:
            problems.append(f"数据项“{src.name}”的脱敏规则“{masking}”不存在")
        if src.is_sensitive and masking == "none":
            problems.append(f"敏感数据项“{src.name}”必须脱敏或不开放")
    for f in row_filter:
        if spec.item(str(f.get("column"))) is None:
            problems.append(f"行过滤条件的字段 {f.get('column')} 不在资源目录中")
        if f.get("op") not in FILTER_OPS:
            problems.append(f"行过滤条件的运算符 {f.get('op')} 不支持")
    return problems


@dataclass(frozen=True)
class Score:
    total: int
    grade: str  # 优 / 良 / 中 / 差
    parts: dict[str, int]

    @property
    def badge(self) -> str:
        return {"优": "A", "良": "B", "中": "C"}.get(self.grade, "D")


SCORE_WEIGHTS = {
    "licence": 15,
    "update_cycle": 10,
    "description": 15,
    "dictionary": 20,
    "timeliness": 20,
    "formats": 10,
    "contact_tags": 10,
}
SCORE_LABELS = {
    "licence": "开放许可",
    "update_cycle": "更新周期",
    "description": "数据集描述",
    "dictionary": "数据字典",
    "timeliness": "数据时效",
    "formats": "开放格式",
    "contact_tags": "联系方式与标签",
}


def quality_score(
    *,
    licence: str,
    update_cycle: str,
    description: str,
    items: Sequence[dict[str, Any]],
    data_updated_at: datetime | None,
    has_data: bool,
    contact: str,
    tags: Sequence[str],
    now: datetime | None = None,
) -> Score:
    """Metadata completeness, 0–100 (formula in docs/opendata.md)."""
    now = now or utcnow()
    parts: dict[str, int] = {}
    parts["licence"] = 15 if licence in LICENCES else (8 if licence else 0)
    parts["update_cycle"] = 10 if update_cycle in CYCLE_DAYS else 0
    n = len(description.strip())
    parts["description"] = 15 if n >= 30 else (8 if n >= 10 else 0)
    described = sum(1 for i in items if (i.get("description") or "").strip())
    parts["dictionary"] = round(20 * described / len(items)) if items else 0
    if data_updated_at is None or update_cycle not in CYCLE_DAYS:
        parts["timeliness"] = 0
    else:
        age = now - data_updated_at
        window = timedelta(days=CYCLE_DAYS[update_cycle])
        parts["timeliness"] = 20 if age <= window else (10 if age <= 2 * window else 0)
    parts["formats"] = 10 if has_data else 0
    parts["contact_tags"] = (5 if contact.strip() else 0) + (5 if tags else 0)
    total = sum(parts.values())
    grade = "优" if total >= 85 else "良" if total >= 70 else "中" if total >= 50 else "差"
    return Score(total, grade, parts)
