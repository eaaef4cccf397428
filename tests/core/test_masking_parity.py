"""One masking rule, one result: the open-data in-query maskers (Ibis, gongshu.masking)
and the gateway's Arrow maskers (gongshu.sharing.maskers) agree value for value."""

from __future__ import annotations

import ibis
import pyarrow as pa
import pytest

from gongshu import masking
from gongshu.sharing import maskers as arrow_maskers

VALUES = [
    "330602199001011234",
    "33060219900101123x",
    "330602900101123",
    "张三",
    "欧阳娜娜",
    "张",
    "",
    "13812345678",
    "0575-88123456",
    "6222021234567890123",
    "1234",
    "示例市城东区解放路1号",
    "某某县城关镇",
    "示例市解放路1号",
    "北京",
    "abcdefgh",
    "abcdefg",
    "ab",
    None,
]


def test_both_registries_offer_the_same_rules() -> None:
    assert set(masking.maskers.names()) | {"none"} == set(arrow_maskers.names())


@pytest.mark.parametrize("rule", sorted(masking.maskers.names()))
def test_in_query_and_gateway_masking_agree(rule: str) -> None:
    table = pa.table({"v": pa.array(VALUES, pa.string())})
    t = ibis.memtable(table)
    con = ibis.duckdb.connect()
    in_query = con.to_pyarrow(t.select(masking.apply(rule, t.v))).column("v").to_pylist()
    gateway = arrow_maskers.get(rule)(table.column("v").combine_chunks()).to_pylist()
    assert in_query == gateway
    many = pa.array(VALUES * 3, pa.string())  # the vectorised Arrow path (> SMALL values)
    assert arrow_maskers.get(rule)(many).to_pylist() == gateway * 3
    raw = [v for v in VALUES if v]
    if rule != "null":
        assert not set(raw) & set(v for v in gateway if v and v != "*"), "a raw value leaked"
