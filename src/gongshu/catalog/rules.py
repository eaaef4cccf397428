"""The catalog's rules as pure functions over ``ResourceIn``.

The same checks run for the API, the edit form (inline validation), Excel/CSV import
and revisions, so a rule is written once. ``service.py`` turns problems into errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gongshu.catalog.schemas import ResourceIn
from gongshu.catalog.vocab import (
    COLUMN_PATTERN,
    FORMATS,
    LENGTH_TYPES,
    RESERVED_COLUMNS,
    SHARE_METHODS,
    CatalogSettings,
    Grade,
    OpenType,
    ShareType,
    masking_names,
)

FIELD_LABELS: dict[str, str] = {
    "code": "资源代码",
    "name": "资源名称",
    "summary": "资源摘要",
    "owner_org_id": "提供部门",
    "owner_org": "提供部门",
    "system_id": "来源系统",
    "system": "来源系统",
    "domain": "所属领域",
    "classification": "资源分类",
    "format": "资源格式",
    "update_cycle": "更新周期",
    "share_type": "共享类型",
    "share_condition": "共享条件",
    "share_basis": "不予共享依据",
    "share_methods": "共享方式",
    "open_type": "开放类型",
    "open_reason": "开放条件/不予开放理由",
    "grade": "分级",
    "keywords": "关键词",
    "release_date": "发布日期",
    "related_codes": "关联资源",
    "items": "数据项",
}

ITEM_LABELS: dict[str, str] = {
    "position": "序号",
    "name": "数据项名称",
    "column": "英文字段名",
    "data_type": "数据类型",
    "length": "数据长度",
    "data_element": "数据元",
    "is_sensitive": "是否敏感",
    "is_key": "是否主键",
    "masking": "脱敏规则",
    "description": "说明",
}


@dataclass(frozen=True)
class Problem:
    field: str  # a ResourceIn field name, or an ItemIn field when item is set
    message: str
    item: int | None = None  # index into ResourceIn.items

    def text(self) -> str:
        if self.item is None:
            return self.message
        return f"第 {self.item + 1} 个数据项：{self.message}"


def org_prefixes(org_name: str, short_name: str | None) -> list[str]:
    """Department names a resource name must not start with (前缀重复)."""
    names = {org_name, short_name or ""}
    for n in list(names):
        # "示例市公安局" / "市公安局" → also "公安局"
        for cut in ("市", "区", "县"):
            if cut in n[:6]:
                names.add(n.split(cut, 1)[1])
    return sorted((n for n in names if len(n) >= 2), key=len, reverse=True)


def check_resource(
    data: ResourceIn,
    settings: CatalogSettings,
    *,
    org_prefix: Iterable[str] = (),
    for_submit: bool = False,
) -> list[Problem]:
    """Every attribute and item rule that needs no database lookup."""
    p: list[Problem] = []
    name = data.name
    if len(name) > settings.name_max:
        p.append(
            Problem("name", f"资源名称不能超过 {settings.name_max} 个字符（现为 {len(name)}）")
        )
    if not re.fullmatch(settings.name_pattern, name):
        p.append(Problem("name", "资源名称只能包含中文、字母、数字和括号等常用符号"))
    for prefix in org_prefix:
        if name.startswith(prefix) and len(name) > len(prefix):
            p.append(
                Problem(
                    "name",
                    f"资源名称不应以部门名称“{prefix}”开头（提供部门已单独登记），"
                    f"建议改为“{name[len(prefix) :]}”",
                )
            )
            break
    if len(data.summary) > settings.summary_max:
        p.append(Problem("summary", f"资源摘要不能超过 {settings.summary_max} 个字符"))
    if for_submit and not data.summary:
        p.append(Problem("summary", "提交审核前请填写资源摘要"))
    domains = settings.domain_list
    if data.domain not in domains:
        p.append(Problem("domain", f"所属领域“{data.domain}”不在领域列表中：{'、'.join(domains)}"))
    if data.format not in FORMATS:
        p.append(Problem("format", f"资源格式应为：{'、'.join(FORMATS)}"))

    # 共享属性
    if data.share_type == ShareType.conditional and not data.share_condition:
        p.append(Problem("share_condition", "有条件共享的资源必须填写共享条件"))
    if data.share_type == ShareType.none and not data.share_basis:
        p.append(Problem("share_basis", "不予共享的资源必须填写法律法规或政策依据"))
    bad_methods = [m for m in data.share_methods if m not in SHARE_METHODS]
    if bad_methods:
        p.append(
            Problem(
                "share_methods",
                f"共享方式“{'、'.join(bad_methods)}”不合法，应为：{'、'.join(SHARE_METHODS)}",
            )
        )
    if data.share_type != ShareType.none and not data.share_methods:
        p.append(Problem("share_methods", "可共享的资源至少选择一种共享方式"))

    # 开放属性与分级
    if data.open_type in (OpenType.restricted, OpenType.none) and not data.open_reason:
        what = "开放条件" if data.open_type == OpenType.restricted else "不予开放理由"
        p.append(Problem("open_reason", f"{data.open_type.value}的资源必须填写{what}"))
    if data.grade == Grade.L4 and data.open_type != OpenType.none:
        p.append(Problem("open_type", "L4（敏感）级资源只能“不予开放”"))
    if data.grade in (Grade.L2, Grade.L3) and data.open_type == OpenType.unconditional:
        p.append(Problem("open_type", f"{data.grade.value} 级资源只能受限开放或不予开放"))
    if data.share_type == ShareType.none and data.open_type != OpenType.none:
        p.append(Problem("open_type", "不予共享的资源不能向社会开放"))
    if data.open_type == OpenType.unconditional:
        for i, item in enumerate(data.items):
            if item.is_sensitive and item.masking == "none":
                p.append(
                    Problem(
                        "masking",
                        f"敏感数据项“{item.name}”未设置脱敏规则，资源不能无条件开放",
                        i,
                    )
                )

    p.extend(check_items(data))
    if for_submit and not data.items:
        p.append(Problem("items", "提交审核前至少登记一个数据项"))
    if len(set(data.related_codes)) != len(data.related_codes):
        p.append(Problem("related_codes", "关联资源有重复"))
    return p


def check_items(data: ResourceIn) -> list[Problem]:
    p: list[Problem] = []
    maskings = masking_names()
    seen_cols: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    for i, item in enumerate(data.items):
        if not COLUMN_PATTERN.fullmatch(item.column):
            p.append(
                Problem(
                    "column",
                    f"英文字段名“{item.column}”应以小写字母开头，只含小写字母、数字和下划线",
                    i,
                )
            )
        elif item.column in RESERVED_COLUMNS:
            p.append(Problem("column", f"英文字段名“{item.column}”是 SQL 保留字", i))
        if item.column in seen_cols:
            p.append(
                Problem(
                    "column",
                    f"英文字段名“{item.column}”与第 {seen_cols[item.column] + 1} 个数据项重复",
                    i,
                )
            )
        seen_cols.setdefault(item.column, i)
        if item.name in seen_names:
            p.append(
                Problem(
                    "name",
                    f"数据项名称“{item.name}”与第 {seen_names[item.name] + 1} 个数据项重复",
                    i,
                )
            )
        seen_names.setdefault(item.name, i)
        if item.data_type in LENGTH_TYPES and not item.length:
            p.append(Problem("length", f"{item.data_type.value}类型的数据项必须填写长度", i))
        if item.masking not in maskings:
            p.append(
                Problem(
                    "masking", f"脱敏规则“{item.masking}”不存在，应为：{'、'.join(maskings)}", i
                )
            )
        if item.masking != "none" and not item.is_sensitive:
            p.append(Problem("is_sensitive", f"数据项“{item.name}”设置了脱敏规则，应标记为敏感", i))
    return p
