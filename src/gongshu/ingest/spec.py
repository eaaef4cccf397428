"""What ingest needs to know about a catalogued resource, as plain frozen values.

Everything in the ingest data path (readers, transform, gate, pipeline, IoT) works on
:class:`ResourceSpec`, never on catalog models, so the catalog can change its tables
freely. :mod:`gongshu.ingest.catalog_port` is the one place that builds specs from the
catalog's public service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import pyarrow as pa

from gongshu.warehouse import table_name_for, validate_table_name

# Catalog data types (gongshu.catalog.vocab.DataType values) -> warehouse Arrow types.
# 小数 is float64: both engines store it identically and quality rules compare numbers;
# exact decimals would need a precision the catalog does not record.
ARROW_TYPES: dict[str, pa.DataType] = {
    "字符串": pa.string(),
    "长文本": pa.string(),
    "整数": pa.int64(),
    "小数": pa.float64(),
    "日期": pa.date32(),
    "日期时间": pa.timestamp("us", tz="UTC"),
    "布尔": pa.bool_(),
    "二进制": pa.binary(),
}

# Data elements (数据元) whose values are codes: normalised strictly by default.
CODE_ELEMENTS = frozenset(
    {"公民身份号码", "统一社会信用代码", "行政区划代码", "手机号码", "证照编号", "车牌号码"}
)


@dataclass(frozen=True)
class ItemSpec:
    column: str
    name: str
    data_type: str = "字符串"
    length: int | None = None
    is_key: bool = False
    is_sensitive: bool = False
    data_element: str | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        try:
            return ARROW_TYPES[self.data_type]
        except KeyError:
            raise ValueError(f"数据项“{self.name}”的数据类型“{self.data_type}”无法归集") from None

    @property
    def is_code(self) -> bool:
        """Codes (keys, ID numbers, region codes…) must stay exact strings."""
        return self.is_key or (self.data_element or "") in CODE_ELEMENTS


@dataclass(frozen=True)
class ResourceSpec:
    id: int
    code: str
    name: str
    owner_org_id: int
    update_cycle: str = "每日"
    status: str = "published"
    items: tuple[ItemSpec, ...] = field(default_factory=tuple)
    published_at: object = None

    @cached_property
    def table(self) -> str:
        return validate_table_name(table_name_for(self.code))

    @cached_property
    def rejects_table(self) -> str:
        """Per-resource rejects table: ``rej_`` + the data table's body."""
        body = self.table[2:]
        name = f"rej_{body}"
        if len(name) > 63:
            import hashlib

            name = f"rej_{body[:50]}_{hashlib.sha1(body.encode()).hexdigest()[:8]}"
        return validate_table_name(name)

    @cached_property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(i.column, i.arrow_type) for i in self.items])

    @property
    def key_columns(self) -> list[str]:
        return [i.column for i in self.items if i.is_key]

    def item(self, column: str) -> ItemSpec:
        for i in self.items:
            if i.column == column:
                return i
        raise KeyError(column)
