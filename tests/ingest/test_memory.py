"""A big file streams: memory reaches a plateau and stays there (no whole file in RAM).

A 240 MB GBK file goes through the whole pipeline into a file-backed DuckDB in a fresh
process; resident memory is sampled after every batch. The peak over the last 40 % of
the file may not exceed the peak over the first 40 % by more than the swing of a few
segments in flight (parsed by several threads at once, their memory comes and goes):
holding the file, or what was parsed of it, would add well over 100 MB. (A 2 GB file is
the manual check; the benchmark reports peak memory.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import HEADER

SCRIPT = """
import json, sys
from gongshu.ingest.pipeline import run_load
from gongshu.ingest.readers import open_file
from gongshu.ingest.transform import suggest_mapping
from gongshu.warehouse import connect
from tests.ingest.conftest import person_spec

def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:")) // 1024

samples = []
spec = person_spec()
wh = connect(f"duckdb:///{sys.argv[2]}?memory_limit=64MB")
reader = open_file(sys.argv[1])
stats = run_load(wh, spec, reader, suggest_mapping(spec, reader.columns), load_id=1,
                 tmp_dir=sys.argv[3], progress=lambda rows, done: samples.append((done, rss())))
wh.close()
print(json.dumps({"rows": stats.rows_accepted, "samples": samples}))
"""


def _file(path: Path, mb: int) -> Path:
    row = "３３０６０２１９９００１０１００１１,张三丰,34,1990/1/1,330602,2024-01-02 08:00:00,5000.5\n"
    block = (row * 10_000).encode("gbk")
    with open(path, "wb") as f:
        f.write(HEADER.encode("gbk"))
        for _ in range(mb * 1_000_000 // len(block) + 1):
            f.write(block)
    return path


@pytest.mark.slow
def test_memory_plateaus_while_a_big_file_streams(tmp_path: Path) -> None:
    path = _file(tmp_path / "big.csv", 240)
    size = path.stat().st_size
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), str(tmp_path / "wh.duckdb"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["rows"] > 2_500_000
    early = max(r for done, r in result["samples"] if done <= size * 0.4)
    late = max(r for done, r in result["samples"] if done > size * 0.6)
    assert late - early < 80, (early, late)  # MB, while ~100 MB more of the file streamed
