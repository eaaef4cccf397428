"""A loader killed with SIGKILL never changes the published table.

Each test runs a real loader in a subprocess (``sys.executable -c``), waits until it
has provably started writing, kills it with SIGKILL, then reopens the warehouse.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from gongshu.warehouse import LOAD_ID_COLUMN, STAGING_PREFIX, Warehouse, connect

from .conftest import engine_url

T = "r_kill_test"
SRC = str(Path(__file__).resolve().parents[2] / "src")

# Appends batches of 50k rows forever; prints STAGED once some are committed/written.
APPEND_FOREVER = """
import sys
import pyarrow as pa, pyarrow.compute as pc
from gongshu.warehouse import connect
wh = connect(sys.argv[1])
ids = pa.array(range(50_000), pa.int64())
batch = pa.table({"code": pc.utf8_lpad(pc.cast(ids, pa.string()), 8, "0"), "v": ids})
stage = wh.begin_load("r_kill_test", 2, batch.schema)
for i in range(1_000_000):
    stage.append(batch)
    if i == 3:
        print("STAGED", flush=True)
"""

# Stages an upsert of keys [n_old/2, n_old/2 + n_new), prints PUBLISHING, publishes.
PUBLISH_BIG = """
import sys
import pyarrow as pa, pyarrow.compute as pc
from gongshu.warehouse import connect
wh = connect(sys.argv[1])
start, n = int(sys.argv[2]), int(sys.argv[3])
ids = pa.array(range(start, start + n), pa.int64())
data = pa.table({"code": pc.utf8_lpad(pc.cast(ids, pa.string()), 8, "0"), "v": ids})
stage = wh.begin_load("r_kill_test", 2, data.schema)
stage.append(pa.RecordBatchReader.from_batches(data.schema, data.to_batches(100_000)))
print("PUBLISHING", flush=True)
stage.publish("incremental", key_columns=["code"])
print("PUBLISHED", flush=True)
"""


def base_rows(n: int) -> pa.Table:
    ids = pa.array(range(n), pa.int64())
    return pa.table({"code": pc.utf8_lpad(pc.cast(ids, pa.string()), 8, "0"), "v": ids})


def publish_base(wh: Warehouse, n: int) -> pa.Table:
    data = base_rows(n)
    with wh.begin_load(T, 1, data.schema) as stage:
        stage.append(data)
        stage.publish()
    return snapshot(wh)


def snapshot(wh: Warehouse) -> pa.Table:
    return wh.to_pyarrow(wh.table(T)).sort_by("code")


def start(script: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group: kill a Spark JVM child too
    )


def wait_for(proc: subprocess.Popen[str], marker: str, timeout: float = 120) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if line.strip() == marker:
                return
            if line == "" and proc.poll() is not None:
                break
    proc.kill()
    _, err = proc.communicate()
    pytest.fail(f"loader never printed {marker}: {err[-3000:]}")


def kill9(proc: subprocess.Popen[str], may_finish: bool = False) -> bool:
    """SIGKILL the loader's process group; True if it died of it.

    With ``may_finish`` the loader may have exited on its own between the caller's
    last look and the signal (a fast machine finishes the publish first): that is
    a clean exit 0, never any other code.
    """
    with contextlib.suppress(ProcessLookupError):  # the group is already gone
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    if may_finish and proc.returncode == 0:
        return False
    assert proc.returncode == -signal.SIGKILL
    return True


def duckdb_staging_tables(wh: Warehouse) -> list[str]:
    con = wh._backend().con  # type: ignore[attr-defined]
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, ?)", [STAGING_PREFIX]
    ).fetchall()
    return [r[0] for r in rows]


def test_duckdb_kill9_mid_append(tmp_path: Path) -> None:
    url = engine_url("duckdb", tmp_path)
    with connect(url) as wh:
        before = publish_base(wh, 1_000)
    proc = start(APPEND_FOREVER, url)  # the file is free: one process owns it at a time
    wait_for(proc, "STAGED")
    time.sleep(0.3)  # let it get further into the append loop
    kill9(proc)

    with connect(url, cleanup=False) as wh:
        leftovers = duckdb_staging_tables(wh)
        assert leftovers, "the loader should have committed staged rows before dying"
        assert wh.list_tables() == [T]
        assert snapshot(wh).equals(before)
        assert sorted(wh.cleanup_stale_staging()) == sorted(leftovers)
        assert duckdb_staging_tables(wh) == []
    with connect(url) as wh:
        assert snapshot(wh).equals(before)


@pytest.mark.parametrize("delay", [0.0, 0.1, 0.3, 0.6, 1.5])
def test_duckdb_kill9_mid_publish_is_all_or_nothing(tmp_path: Path, delay: float) -> None:
    url = engine_url("duckdb", tmp_path)
    n_old, n_new = 400_000, 300_000  # new table: 500k rows, distinguishable
    with connect(url) as wh:
        before = publish_base(wh, n_old)
    proc = start(PUBLISH_BIG, url, str(n_old // 2), str(n_new))
    wait_for(proc, "PUBLISHING")
    time.sleep(delay + random.uniform(0, 0.02))
    killed = kill9(proc, may_finish=True)
    with connect(url) as wh:
        assert duckdb_staging_tables(wh) == []
        got = snapshot(wh)
        if not killed:  # it finished first: the publish must be complete
            assert got.num_rows == n_old // 2 + n_new
        if got.num_rows == n_old:  # killed before COMMIT: exactly the old table
            assert got.equals(before)
        else:  # the commit made it: exactly the new table
            assert got.num_rows == n_old // 2 + n_new
            loads = pc.value_counts(got[LOAD_ID_COLUMN]).to_pylist()
            assert sorted((d["values"], d["counts"]) for d in loads) == [
                (1, n_old // 2),
                (2, n_new),
            ]


@pytest.mark.spark
def test_spark_kill9_mid_append(tmp_path: Path, spark_session: object) -> None:
    url = engine_url("spark", tmp_path)
    wh = connect(url, spark_session=spark_session)  # type: ignore[arg-type]
    before = publish_base(wh, 1_000)
    pointer = Path(tmp_path, "warehouse", "tables", T, "_current.json").read_text()

    proc = start(APPEND_FOREVER, url)  # appends are pyarrow only: no JVM in the loader
    wait_for(proc, "STAGED")
    time.sleep(0.3)
    kill9(proc)

    staging = Path(tmp_path, "warehouse", "_staging")
    assert any(p.is_dir() and any(p.iterdir()) for p in staging.iterdir())
    assert Path(tmp_path, "warehouse", "tables", T, "_current.json").read_text() == pointer
    assert snapshot(wh).equals(before)
    assert wh.list_tables() == [T]
    removed = wh.cleanup_stale_staging()
    assert removed and all(r.startswith("_staging/") for r in removed)
    assert list(staging.iterdir()) == []
    again = connect(url, spark_session=spark_session)  # type: ignore[arg-type]
    assert snapshot(again).equals(before)


@pytest.mark.spark
@pytest.mark.slow
def test_spark_kill9_while_writing_new_version(tmp_path: Path, spark_session: object) -> None:
    """Kill the loader (driver and its JVM) while Spark writes the upserted version."""
    url = engine_url("spark", tmp_path) + "&spark.ui.showConsoleProgress=false"
    n_old, n_new = 200_000, 600_000
    wh = connect(url, spark_session=spark_session)  # type: ignore[arg-type]
    before = publish_base(wh, n_old)
    table_dir = Path(tmp_path, "warehouse", "tables", T)
    pointer = json.loads((table_dir / "_current.json").read_text())

    proc = start(PUBLISH_BIG, url, str(n_old // 2), str(n_new))
    wait_for(proc, "PUBLISHING")
    deadline = time.monotonic() + 120
    # The new version dir appears when Spark starts writing it; kill right then.
    while not glob.glob(str(table_dir / "v00000002_*")) and time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"loader exited early: {proc.communicate()[1][-3000:]}")
        time.sleep(0.05)
    kill9(proc)

    assert json.loads((table_dir / "_current.json").read_text()) == pointer
    assert snapshot(wh).equals(before)
    removed = wh.cleanup_stale_staging()
    assert any(r.startswith(f"tables/{T}/v00000002_") for r in removed)
    assert any(r.startswith("_staging/") for r in removed)
    assert sorted(p.name for p in table_dir.iterdir()) == ["_current.json", pointer["dir"]]
    assert snapshot(wh).equals(before)
