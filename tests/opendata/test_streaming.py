"""Downloads of a 1,000,000-row dataset stream in bounded memory (real HTTP, real DuckDB)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from gongshu.app import create_app
from gongshu.config import Settings
from gongshu.warehouse import release_shared as close
from gongshu.warehouse import shared as warehouse
from tests.browser.conftest import _database_for
from tests.opendata.conftest import serve

pytestmark = [pytest.mark.slow, pytest.mark.controlplane]
ROWS = 1_000_000


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.fixture(scope="module")
def big(
    _db_template: str, db_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int]]:
    from tests.factories import make_org
    from tests.opendata.helpers import bus_resource, bus_rows, load, publish

    tmp = tmp_path_factory.mktemp("big")
    settings = Settings(
        data_dir=tmp / "var",
        database_url=_database_for(db_kind, _db_template, tmp),
        secret_key="big",
        # Cap DuckDB's buffer pool so its cache does not count as download memory.
        warehouse_url=f"duckdb:///{tmp / 'var' / 'wh.duckdb'}?memory_limit=256MB&threads=2",
    )
    app = create_app(settings)
    wh = warehouse(settings.warehouse_url)
    session = app.state.sessionmaker()
    try:
        org = make_org(session, "JTJ", name="交通局")
        res = bus_resource(session, org)
        load(wh, res.code, bus_rows(ROWS))
        ds = publish(session, wh, org, res)
        assert ds.row_count == ROWS
        ds_id = ds.id
    finally:
        session.close()
    url, server, thread = serve(app)
    yield url, ds_id
    server.should_exit = True
    thread.join(timeout=10)
    close(settings.warehouse_url)


def _download(url: str) -> tuple[int, int, float]:
    """(bytes, rows, peak RSS growth in MB) while streaming the body in 64 KiB chunks."""
    peak = [rss_mb()]
    base = peak[0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    size = lines = 0
    try:
        with httpx.stream("GET", url, timeout=120) as resp:
            assert resp.status_code == 200
            for chunk in resp.iter_bytes(65536):
                size += len(chunk)
                lines += chunk.count(b"\n")
    finally:
        done.set()
        sampler.join()
    return size, lines, peak[0] - base


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_million_row_download_streams_in_bounded_memory(big: tuple[str, int], fmt: str) -> None:
    url, ds_id = big
    full = f"{url}/api/v1/open/datasets/{ds_id}/download?format={fmt}"
    _download(full)  # warm up: imports, DuckDB caches
    size, lines, growth = _download(full)
    if fmt == "csv":
        assert lines == ROWS + 1
    if fmt == "jsonl":
        assert lines == ROWS
    # The whole body would be tens of MB; streaming holds a few batches at a time.
    print(f"{fmt}: {size / 1e6:.1f} MB streamed, RSS growth {growth:.1f} MB")
    assert growth < 32, f"{fmt}: RSS grew {growth:.1f} MB while streaming {size / 1e6:.1f} MB"
    if fmt != "parquet":  # far less than the body: nothing holds the whole download
        assert growth < 0.35 * size / 1e6
