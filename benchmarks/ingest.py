"""Ingest throughput: a GBK CSV into DuckDB through the full pipeline, next to DuckDB's
own ``read_csv`` of the same rows into a table (the floor). Prints one JSON object last.

    .venv/bin/python benchmarks/ingest.py              # 5,000,000 rows
    .venv/bin/python benchmarks/ingest.py --rows 1000000

The file has eight columns like a population register (ID numbers with leading zeros,
names, dates in mixed spellings, region codes, amounts, timestamps) and ~0.5% dirty
rows. Ours = encoding detection, streaming GBK→UTF-8, parse (all strings), normalise,
validate and cast, rejects split off, staged append, gate, atomic publish. The floor
reads the same rows; DuckDB 2.0 cannot decode GBK without its ``encodings`` extension
(a download), so the floor reads a UTF-8 copy — it pays no decoding at all. Each side
runs in a fresh process; peak RSS is that process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

HEADER = ["身份证号", "姓名", "出生日期", "行政区划代码", "月收入", "登记时间", "住址", "备注"]
SURNAMES = np.array(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"))
GIVEN = np.array(
    ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟"]
)
STREETS = np.array(["解放路", "人民路", "中山路", "延安路", "凤起路", "庆春路", "文三路"])


def generate(path: Path, utf8: Path, rows: int, seed: int = 7) -> None:
    """Write the UTF-8 copy batch by batch, then transcode it to GBK in chunks."""
    rng = np.random.default_rng(seed)
    schema = pa.schema([(h, pa.string()) for h in HEADER])
    with pcsv.CSVWriter(str(utf8), schema) as writer:
        for start in range(0, rows, 500_000):
            n = min(500_000, rows - start)
            idx = np.arange(start, start + n)
            ids = np.char.add("3306", np.char.zfill((idx * 7919 % 10**14).astype(str), 14))
            names = np.char.add(
                SURNAMES[rng.integers(0, len(SURNAMES), n)], GIVEN[rng.integers(0, len(GIVEN), n)]
            )
            year = rng.integers(1940, 2020, n).astype(str)
            month = np.char.zfill(rng.integers(1, 13, n).astype(str), 2)
            day = np.char.zfill(rng.integers(1, 29, n).astype(str), 2)
            births = np.char.add(np.char.add(np.char.add(year, "-"), np.char.add(month, "-")), day)
            slash = rng.random(n) < 0.1
            births[slash] = np.char.replace(births[slash], "-", "/")
            regions = np.array(["330602", "330603", "330604", "010101"])[rng.integers(0, 4, n)]
            income = np.round(rng.gamma(4, 1500, n), 2).astype(str)
            when = np.char.add(births, " 08:30:00")
            addr = np.char.add(
                np.char.add("示例市", STREETS[rng.integers(0, len(STREETS), n)]),
                rng.integers(1, 999, n).astype(str),
            )
            note = np.where(rng.random(n) < 0.2, "已核验", "")
            dirty = rng.random(n) < 0.005
            births[dirty] = "1990-02-30"
            income[rng.random(n) < 0.002] = "未知"
            ids[rng.random(n) < 0.001] = ""
            cols = [ids, names, births, regions, income, when, addr, note]
            writer.write_batch(pa.record_batch([pa.array(c) for c in cols], schema=schema))
    enc = codecs.getincrementalencoder("gbk")()
    dec = codecs.getincrementaldecoder("utf-8")()
    with open(utf8, "rb") as src, open(path, "wb") as out:
        while chunk := src.read(16 << 20):
            out.write(enc.encode(dec.decode(chunk)))


OURS = """
import json, sys, time
from gongshu.ingest.pipeline import run_load
from gongshu.ingest.readers import open_file
from gongshu.ingest.spec import ItemSpec, ResourceSpec
from gongshu.ingest.transform import suggest_mapping
from gongshu.warehouse import connect
ITEMS = (
    ItemSpec("gmsfhm", "公民身份号码", "字符串", 18, is_key=True, data_element="公民身份号码"),
    ItemSpec("xm", "姓名", "字符串", 50),
    ItemSpec("csrq", "出生日期", "日期"),
    ItemSpec("xzqh", "行政区划代码", "字符串", 6, data_element="行政区划代码"),
    ItemSpec("ysr", "月收入", "小数", 12),
    ItemSpec("djsj", "登记时间", "日期时间"),
    ItemSpec("zz", "住址", "字符串", 200),
    ItemSpec("bz", "备注", "字符串", 200),
)
spec = ResourceSpec(1, "BENCH-RK-0001", "人口", 1, items=ITEMS)
wh = connect(f"duckdb:///{sys.argv[2]}")
# Warm-up: a 2-row load into another table first. A running server has imported the
# blocking-rule plugins (quality, catalog: ~1 s of imports on a first load); that
# one-time cost is not ingest throughput, as the floor's import of duckdb is not.
with open(sys.argv[1], "rb") as src, open(sys.argv[3] + "/warm.csv", "wb") as dst:
    dst.write(b"".join(src.readline() for _ in range(3)))
warm_spec = ResourceSpec(2, "BENCH-RK-0000", "预热", 1, items=ITEMS)
warm = open_file(sys.argv[3] + "/warm.csv", encoding="gbk")
run_load(wh, warm_spec, warm, suggest_mapping(warm_spec, warm.columns), load_id=1, tmp_dir=sys.argv[3])
t = time.perf_counter()
reader = open_file(sys.argv[1])
stats = run_load(wh, spec, reader, suggest_mapping(spec, reader.columns), load_id=1, tmp_dir=sys.argv[3])
elapsed = time.perf_counter() - t
n = wh.count(spec.table)
wh.close()
print(json.dumps({"seconds": elapsed, "rows_read": stats.rows_read, "accepted": stats.rows_accepted,
    "rejected": stats.rows_rejected, "published": n, "encoding": reader.encoding,
    "rss_mb": peak_rss_mb()}))
"""

FLOOR = """
import json, sys, time, duckdb
con = duckdb.connect(sys.argv[2])
t = time.perf_counter()
con.execute(f"CREATE TABLE floor AS SELECT * FROM read_csv('{sys.argv[1]}', all_varchar=true)")
elapsed = time.perf_counter() - t
n = con.execute("SELECT count(*) FROM floor").fetchall()[0][0]
con.close()
print(json.dumps({"seconds": elapsed, "rows": n,
    "rss_mb": peak_rss_mb()}))
"""

# VmHWM: this process's own peak (ru_maxrss would include the parent's, inherited at fork).
PEAK = """
def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
"""


def run(script: str, *args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", PEAK + script, *args], capture_output=True, text=True
    )
    if out.returncode:
        sys.exit(f"benchmark step failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--dir", default=None, help="where to keep the generated files (reused)")
    args = parser.parse_args()
    root = Path(args.dir or Path("var") / "bench")
    root.mkdir(parents=True, exist_ok=True)
    gbk, utf8 = root / f"people-{args.rows}-gbk.csv", root / f"people-{args.rows}-utf8.csv"
    if not gbk.exists() or not utf8.exists():
        generate(gbk, utf8, args.rows)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        ours = run(OURS, str(gbk), f"{tmp}/ours.duckdb", tmp)
        floor = run(FLOOR, str(utf8), f"{tmp}/floor.duckdb")
    rows = args.rows
    result = {
        "rows": rows,
        "file_mb": round(gbk.stat().st_size / 1e6, 1),
        "encoding": ours["encoding"],
        "seconds": round(ours["seconds"], 2),
        "rows_per_s": round(ours["rows_read"] / ours["seconds"]),
        "accepted": ours["accepted"],
        "rejected": ours["rejected"],
        "floor_seconds": round(floor["seconds"], 2),
        "floor_rows_per_s": round(floor["rows"] / floor["seconds"]),
        "floor_input": "UTF-8 copy of the same rows (DuckDB 2.0 cannot decode GBK offline)",
        "ratio": round(
            (ours["rows_read"] / ours["seconds"]) / (floor["rows"] / floor["seconds"]), 3
        ),
        "peak_rss_mb": round(ours["rss_mb"], 1),
        "floor_peak_rss_mb": round(floor["rss_mb"], 1),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    assert ours["published"] == ours["accepted"]
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
