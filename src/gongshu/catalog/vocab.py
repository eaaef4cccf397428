"""The catalog's controlled vocabularies and its bureau-configurable settings.

Enumerations that the standards fix (share/open types, grades, update cycles) are
enums; lists that differ from city to city (domains 领域, the naming pattern, length
limits) are settings read from ``GONGSHU_CATALOG_*`` environment variables.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Status(StrEnum):
    draft = "draft"
    submitted = "submitted"
    reviewed = "reviewed"
    published = "published"
    retired = "retired"


STATUS_LABELS: dict[str, str] = {
    Status.draft: "草稿",
    Status.submitted: "待审核",
    Status.reviewed: "已审核",
    Status.published: "已发布",
    Status.retired: "已下线",
}


class Classification(StrEnum):
    base = "基础"
    theme = "主题"
    department = "部门"


# Code prefix per classification: 基础 JC, 主题 ZT, 部门 BM (拼音首字母).
CLASS_CODES: dict[str, str] = {
    Classification.base: "JC",
    Classification.theme: "ZT",
    Classification.department: "BM",
}


class UpdateCycle(StrEnum):
    realtime = "实时"
    daily = "每日"
    weekly = "每周"
    dekad = "每旬"
    monthly = "每月"
    quarterly = "每季度"
    yearly = "每年"


class ShareType(StrEnum):
    unconditional = "无条件共享"
    conditional = "有条件共享"
    none = "不予共享"


class OpenType(StrEnum):
    unconditional = "无条件开放"
    restricted = "受限开放"
    none = "不予开放"


class Grade(StrEnum):
    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    L4 = "L4"


GRADE_LABELS: dict[str, str] = {"L1": "不敏感", "L2": "低敏感", "L3": "较敏感", "L4": "敏感"}

SHARE_METHODS: tuple[str, ...] = (
    "系统对接",
    "联机查询",
    "在线浏览",
    "调用在线服务",
    "下载",
    "库表交换",
    "文件传输",
)

FORMATS: tuple[str, ...] = (
    "数据库",
    "电子表格",
    "电子文件",
    "接口服务",
    "图形图像",
    "流媒体",
    "其他",
)


class DataType(StrEnum):
    string = "字符串"
    integer = "整数"
    decimal = "小数"
    date = "日期"
    datetime = "日期时间"
    boolean = "布尔"
    text = "长文本"
    binary = "二进制"


# Types whose length is meaningful (and required).
LENGTH_TYPES = frozenset({DataType.string, DataType.decimal})

MASKING_RULES: dict[str, str] = {
    "none": "不脱敏",
    "id_number": "证件号码（保留前6后4）",
    "name": "姓名（保留姓）",
    "phone": "手机号码（保留前3后4）",
    "bank_card": "银行卡号（保留后4位）",
    "address": "地址（保留到区县）",
    "hash": "哈希替换",
    "partial": "部分遮盖",
    "null": "置空",
}

# Common national data elements (数据元), offered as suggestions; free text is allowed.
DATA_ELEMENTS: tuple[str, ...] = (
    "公民身份号码",
    "姓名",
    "性别代码",
    "出生日期",
    "民族代码",
    "手机号码",
    "联系电话",
    "统一社会信用代码",
    "组织机构名称",
    "法定代表人姓名",
    "行政区划代码",
    "地址",
    "日期",
    "日期时间",
    "金额",
    "经度",
    "纬度",
    "不动产单元号",
    "车牌号码",
    "婚姻状况代码",
    "证照编号",
)

DEFAULT_DOMAINS: tuple[str, ...] = (
    "经济建设",
    "信用服务",
    "财税金融",
    "交通运输",
    "社会保障",
    "医疗卫生",
    "教育文化",
    "科技创新",
    "资源环境",
    "城建住房",
    "公共安全",
    "社会救助",
    "法律服务",
    "机构团体",
)

# SQL keywords a column may not be named after (the warehouse builds tables from items).
RESERVED_COLUMNS = frozenset(
    [
        "all",
        "and",
        "as",
        "asc",
        "between",
        "by",
        "case",
        "check",
        "column",
        "constraint",
        "create",
        "cross",
        "current_date",
        "current_time",
        "current_timestamp",
        "default",
        "delete",
        "desc",
        "distinct",
        "drop",
        "else",
        "end",
        "exists",
        "false",
        "from",
        "full",
        "grant",
        "group",
        "having",
        "in",
        "index",
        "inner",
        "insert",
        "intersect",
        "into",
        "is",
        "join",
        "key",
        "left",
        "like",
        "limit",
        "not",
        "null",
        "offset",
        "on",
        "or",
        "order",
        "outer",
        "primary",
        "references",
        "right",
        "row",
        "rows",
        "select",
        "set",
        "table",
        "then",
        "to",
        "true",
        "union",
        "unique",
        "update",
        "user",
        "using",
        "values",
        "when",
        "where",
        "window",
        "with",
    ]
)
COLUMN_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class CatalogSettings(BaseSettings):
    """Bureau-configurable catalog rules (see docs/catalog.md)."""

    model_config = SettingsConfigDict(env_prefix="GONGSHU_CATALOG_", env_file=None, extra="ignore")

    domains: str = Field(
        ",".join(DEFAULT_DOMAINS), description="领域列表，逗号分隔（默认 14 个开放领域）"
    )
    name_max: int = Field(50, description="资源名称最大长度")
    summary_max: int = Field(256, description="资源摘要最大长度")
    name_pattern: str = Field(
        r"^[\u4e00-\u9fa5A-Za-z0-9（）()·、\-_ ]+$",
        description="资源名称须匹配的正则（默认：中文、字母、数字与少量标点）",
    )
    import_max_bytes: int = Field(100 * 1024 * 1024, description="导入文件大小上限（字节）")
    import_max_unzipped: int = Field(
        500 * 1024 * 1024, description="xlsx 解压后总大小上限（防压缩炸弹）"
    )
    import_max_ratio: int = Field(200, description="xlsx 单个成员的最大压缩比")
    import_max_rows: int = Field(200_000, description="单个工作表的最大行数")

    @property
    def domain_list(self) -> list[str]:
        return [d.strip() for d in self.domains.split(",") if d.strip()]


@lru_cache
def catalog_settings() -> CatalogSettings:
    return CatalogSettings()


@lru_cache
def masking_names() -> list[str]:
    """Built-in masking rule names plus any registered through ``gongshu.maskers``."""
    from gongshu.plugins import Registry

    try:
        extra = Registry[object]("maskers").names()
    except Exception:  # a broken third-party plugin must not break the catalog
        extra = []
    return list(MASKING_RULES) + [n for n in extra if n not in MASKING_RULES]
