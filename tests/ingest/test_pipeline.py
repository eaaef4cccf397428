"""The data path on both engines: same contents, full and incremental, rejects,
encodings, and atomicity when a load fails half way."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from gongshu.ingest.gate import GateContext, GateFinding, register, rules
from gongshu.ingest.pipeline import GateBlocked, run_load
from gongshu.ingest.readers import RawBatch, TabularReader, open_file
from gongshu.ingest.transform import suggest_mapping
from gongshu.warehouse import LOAD_ID_COLUMN, Warehouse

from .conftest import CLEAN_ROWS, DIRTY_ROWS, person_spec, write_csv

SPEC = person_spec()


def load_file(wh: Warehouse, path: Path, load_id: int, mode: str = "full", **kw: object):  # type: ignore[no-untyped-def]
    reader = open_file(path)
    mapping = suggest_mapping(SPEC, reader.columns)
    return run_load(
        wh, SPEC, reader, mapping, load_id=load_id, mode=mode, tmp_dir=path.parent / "tmp", **kw
    )  # type: ignore[arg-type]


def published(wh: Warehouse) -> list[dict[str, object]]:
    return wh.to_pyarrow(wh.table(SPEC.table)).sort_by("gmsfhm").to_pylist()


def rejects(wh: Warehouse, load_id: int) -> list[dict[str, object]]:
    t = wh.table(SPEC.rejects_table)
    return wh.to_pyarrow(t.filter(t.load_id == load_id).order_by(t.line)).to_pylist()


def test_clean_and_dirty_rows(wh: Warehouse, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "people.csv", CLEAN_ROWS + DIRTY_ROWS, encoding="gbk")
    stats = load_file(wh, path, 1, max_reject_ratio=1.0)
    assert (stats.rows_read, stats.rows_accepted, stats.rows_rejected) == (9, 4, 5)
    rows = published(wh)
    assert [r["gmsfhm"] for r in rows] == [
        "330602197010100044",  # full-width digits normalised
        "33060219850203002X",
        "330602199001010011",
        "330602200012120033",
    ]
    by_id = {r["gmsfhm"]: r for r in rows}
    assert by_id["33060219850203002X"]["xzqh"] == "010101"  # leading zero kept
    assert str(by_id["33060219850203002X"]["csrq"]) == "1985-02-03"
    assert by_id["330602200012120033"]["xm"] == "王五\n（曾用名王武）"  # quoted newline
    assert by_id["330602200012120033"]["ysr"] is None
    assert by_id["330602197010100044"]["xm"] == "赵　六"  # names are not space-stripped
    assert str(by_id["330602199001010011"]["djsj"]) == "2024-01-02 00:00:00+00:00"  # 08:00 CST
    assert {r[LOAD_ID_COLUMN] for r in rows} == {1}
    bad = rejects(wh, 1)
    reasons = [r["reason"] for r in bad]
    assert len(bad) == 5
    assert any("列数不符" in r for r in reasons)
    assert any("年龄（nl）不是整数" in r for r in reasons)
    assert any("出生日期（csrq）不是有效日期" in r for r in reasons)
    assert any("为主键，不能为空" in r for r in reasons)
    assert any("超过长度 6" in r for r in reasons)
    ragged = next(r for r in bad if "列数不符" in r["reason"])
    assert ragged["raw"] == "330602199601010088,郑十一,28"
    # Line numbers count records, the header being 1 (a quoted newline does not add one).
    assert ragged["line"] == 10
    typed = next(r for r in bad if "不是整数" in r["reason"])
    assert typed["line"] == 6
    assert typed["raw"].startswith('"330602199101010055","钱七","abc"')


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_encodings_detected(tmp_path: Path, encoding: str) -> None:
    rows = [*CLEAN_ROWS, "330602199901010099,䶮𠀀,25,1999-01-01,330602,2024-01-01,1"]
    if encoding == "gbk":
        rows = CLEAN_ROWS  # GBK cannot encode the rare characters
    path = write_csv(tmp_path / "x.csv", rows, encoding=encoding)
    reader = open_file(path)
    assert reader.encoding == encoding
    assert reader.columns[0] == "身份证号"  # no BOM left in the header
    batch = next(reader.batches()).batch
    assert batch.column("姓名").to_pylist()[0] == "张三"
    if encoding != "gbk":
        assert batch.column("姓名").to_pylist()[-1] == "䶮𠀀"


def test_gbk_detected_when_chinese_appears_late(tmp_path: Path) -> None:
    ascii_rows = [
        f"3306021990010{i:05d},zhang,30,1990-01-01,330602,2024-01-01,1" for i in range(40_000)
    ]
    path = write_csv(
        tmp_path / "late.csv",
        [*ascii_rows, "330602199001019999,张三,30,1990-01-01,330602,2024-01-01,1"],
        encoding="gbk",
    )
    assert open_file(path).encoding == "gbk"


def test_undecodable_bytes_become_rejects(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    good = (HEADER_GBK := ("身份证号,姓名,年龄\n").encode("gbk"))
    path.write_bytes(
        good + "330602199001010011,张三,30\n".encode("gbk") + b"330602199001010022,\xff\xfe,31\n"
    )
    stats = load_file(wh, path, 1)
    assert (stats.rows_accepted, stats.rows_rejected) == (1, 1)
    assert "无法按 GBK 解码" in rejects(wh, 1)[0]["reason"]
    assert HEADER_GBK


def test_full_replaces_and_incremental_upserts(wh: Warehouse, tmp_path: Path) -> None:
    load_file(wh, write_csv(tmp_path / "a.csv", CLEAN_ROWS), 1)
    update = [
        "330602199001010011,张三丰,35,1990-01-01,330602,2024-02-01 08:00:00,6000",
        "330602201001010099,新生儿,0,2010-01-01,330602,2024-02-01 08:00:00,",
    ]
    stats = load_file(wh, write_csv(tmp_path / "b.csv", update), 2, mode="incremental")
    assert stats.published_rows == 2
    rows = {r["gmsfhm"]: r for r in published(wh)}
    assert len(rows) == 5
    assert rows["330602199001010011"]["xm"] == "张三丰"
    assert rows["330602199001010011"][LOAD_ID_COLUMN] == 2
    assert rows["33060219850203002X"][LOAD_ID_COLUMN] == 1
    load_file(wh, write_csv(tmp_path / "c.csv", update[:1]), 3, mode="full")
    assert [r["gmsfhm"] for r in published(wh)] == ["330602199001010011"]


class ExplodingReader(TabularReader):
    """Yields real batches from a file, then fails like a dropped connection would."""

    def __init__(self, inner: TabularReader, after: int) -> None:
        self.inner, self.after = inner, after
        self.columns, self.encoding, self.format = inner.columns, inner.encoding, inner.format

    def batches(self) -> Iterator[RawBatch]:
        for i, raw in enumerate(self.inner.batches()):
            if i == self.after:
                raise ConnectionError("source went away")
            yield raw


def test_exception_mid_load_leaves_table_unchanged(wh: Warehouse, tmp_path: Path) -> None:
    load_file(wh, write_csv(tmp_path / "a.csv", CLEAN_ROWS), 1)
    before = published(wh)
    many = [f"3306021990{i:08d},某,30,1990-01-01,330602,2024-01-01,1" for i in range(300_000)]
    path = write_csv(tmp_path / "big.csv", many)
    reader = ExplodingReader(open_file(path), after=1)
    with pytest.raises(ConnectionError):
        run_load(wh, SPEC, reader, suggest_mapping(SPEC, reader.columns), load_id=2)
    assert published(wh) == before
    assert not [t for t in wh.list_tables() if t.startswith("_")]


def test_gate_blocks_and_keeps_old_data(wh: Warehouse, tmp_path: Path) -> None:
    load_file(wh, write_csv(tmp_path / "a.csv", CLEAN_ROWS), 1)
    before = published(wh)
    with pytest.raises(GateBlocked, match="超过允许的 50%"):
        load_file(wh, write_csv(tmp_path / "bad.csv", DIRTY_ROWS + CLEAN_ROWS[:1]), 2)
    assert published(wh) == before
    assert len(rejects(wh, 2)) == 5  # kept so the department can see why


def test_quality_hook_sees_staged_rows(wh: Warehouse, tmp_path: Path) -> None:
    seen: list[int] = []

    def no_minors(ctx: GateContext) -> list[GateFinding]:
        t = ctx.staged
        minors = int(ctx.warehouse.execute(t.filter(t.nl < 18).count()))
        seen.append(int(ctx.warehouse.execute(t.count())))
        return [GateFinding("no_minors", f"有 {minors} 名未成年人", minors)] if minors else []

    register("test_no_minors", no_minors)
    try:
        load_file(wh, write_csv(tmp_path / "a.csv", CLEAN_ROWS), 1)
        with pytest.raises(GateBlocked, match="有 1 名未成年人"):
            load_file(
                wh,
                write_csv(
                    tmp_path / "b.csv",
                    ["330602201001010099,新生儿,0,2010-01-01,330602,2024-02-01,"],
                ),
                2,
                mode="incremental",
            )
    finally:
        rules._load().pop("test_no_minors")
    assert seen == [4, 1]
    assert len(published(wh)) == 4


@pytest.mark.spark
def test_same_load_same_contents_on_both_engines(tmp_path: Path, spark_session: object) -> None:
    from gongshu.warehouse import connect

    from .conftest import engine_url

    path = write_csv(tmp_path / "people.csv", CLEAN_ROWS + DIRTY_ROWS, encoding="gbk")
    update = write_csv(
        tmp_path / "upd.csv",
        ["330602199001010011,张三丰,35,1990-01-01,330602,2024-02-01 08:00:00,6000"],
    )
    results = []
    for engine in ("duckdb", "spark"):
        root = tmp_path / engine
        root.mkdir()
        wh = connect(engine_url(engine, root), spark_session=spark_session)  # type: ignore[arg-type]
        try:
            load_file(wh, path, 1, max_reject_ratio=1.0)
            load_file(wh, update, 2, mode="incremental")
            data = wh.to_pyarrow(wh.table(SPEC.table)).sort_by("gmsfhm")
            rej = wh.to_pyarrow(wh.table(SPEC.rejects_table)).sort_by("line")
            results.append((data, rej.select(["load_id", "line", "reason", "raw"])))
        finally:
            wh.close()
    (d1, r1), (d2, r2) = results
    assert d1.schema == d2.schema
    assert d1.equals(d2), (d1.to_pylist(), d2.to_pylist())
    assert r1.equals(r2)
    assert d1.num_rows == 4 and r1.num_rows == 5


def batches_of(table: pa.Table) -> Callable[[], Iterator[pa.RecordBatch]]:
    return lambda: iter(table.to_batches())


@pytest.mark.parametrize("encoding", ["gbk", "utf-8", "big5"])
def test_parallel_segments_equal_one_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    """Several threads parsing segments at once store exactly what one thread stores:
    the same rows, the same rejects with the same line numbers (records cut across
    segments, ragged and undecodable rows, quoted newlines in many segments)."""
    from gongshu.ingest import readers
    from gongshu.warehouse import connect

    rows = [r.replace("３３０６０２", "330602") for r in CLEAN_ROWS + DIRTY_ROWS] * 150
    rows = [r.replace("330602", f"3306{i % 90 + 10:02d}", 1) for i, r in enumerate(rows)]
    if encoding == "big5":  # transcoded stream: only characters Big5 has
        rows = [r.replace("赵　六", "趙六").replace("（曾用名王武）", "") for r in rows]
    body = (
        "身份证号,姓名,年龄,出生日期,行政区划代码,登记时间,月收入\n" + "\n".join(rows) + "\n"
    ).encode(encoding, "replace")
    if encoding == "gbk":
        body += b"330602199001019999,\xff\xfe\x81,30,,,,\n"
    path = tmp_path / "people.csv"
    path.write_bytes(body)
    monkeypatch.setattr(readers, "SEGMENT_BYTES", 4096)
    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 1024)

    def load(workers: str) -> tuple[object, list[dict[str, object]], list[dict[str, object]]]:
        monkeypatch.setenv("GONGSHU_INGEST_PARSE_THREADS", workers)
        with connect(f"duckdb:///{tmp_path}/w{workers}.duckdb") as wh:
            reader = open_file(path, encoding=encoding)
            mapping = suggest_mapping(SPEC, reader.columns)
            stats = run_load(
                wh, SPEC, reader, mapping, load_id=1, tmp_dir=tmp_path / "tmp", max_reject_ratio=1
            )
            table = wh.to_pyarrow(wh.table(SPEC.table)).to_pylist()
            return (
                (stats.rows_read, stats.rows_accepted, stats.rows_rejected),
                table,
                rejects(wh, 1),
            )

    one, many = load("1"), load("3")
    assert one[0] == many[0]
    assert one[1] == many[1]  # same rows in the same order
    assert one[2] == many[2]
    assert one[0][2] >= 4 * 150  # plenty of rejects, from every segment
    lines = [r["line"] for r in many[2]]
    assert len(set(lines)) == len(lines) and max(lines) > 1000
    if encoding == "gbk":
        assert "无法按 GBK 解码" in many[2][-1]["reason"]
