"""Open-data benchmark: CKAN package_search latency on 5,000 datasets, datastore_search
throughput and CSV download speed on a 1,000,000-row dataset (next to DuckDB's own COPY
of the same rows), all over real HTTP against a live server on loopback.

    .venv/bin/python benchmarks/opendata.py [--datasets 5000] [--rows 1000000] [--seconds 10]
        [--in-process]

The server runs in its own process (as deployed); the load generator here is plain httpx.

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("GONGSHU_OPEN_ANON_RATE_PER_MIN", "100000000")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import ibis
import uvicorn
from tests.opendata.helpers import BUS_ITEMS, bus_rows, load, proposal

from _loopback import free_port, wait_for_port  # benchmarks/ is sys.path[0]
from gongshu import db
from gongshu.app import create_app
from gongshu.auth.principal import Principal
from gongshu.catalog import service as catalog
from gongshu.catalog.schemas import ResourceIn
from gongshu.config import Settings
from gongshu.db import utcnow
from gongshu.opendata import search, service
from gongshu.opendata.models import OpenDataset
from gongshu.orgs import service as orgs
from gongshu.orgs.schemas import OrgCreate
from gongshu.warehouse import release_shared as close_warehouse
from gongshu.warehouse import shared as warehouse

ROOT = Path(__file__).resolve().parent.parent
ADMIN = Principal(kind="user", id=None, name="bench", role="admin")
WORDS = [
    "公交",
    "空气质量",
    "学校",
    "医疗机构",
    "企业登记",
    "停车场",
    "图书馆",
    "旅游景区",
    "药店",
    "招聘",
    "养老",
    "水质",
    "垃圾分类",
    "信用",
    "许可",
    "处罚",
    "统计",
    "名录",
]
DOMAINS = ["交通运输", "资源环境", "教育文化", "医疗卫生", "经济建设", "信用服务", "社会保障"]
CYCLES = ["每日", "每周", "每月", "每季度", "每年"]


def build(settings: Settings, n_datasets: int, rows: int) -> tuple[int, str]:
    db.upgrade(settings.database_url)
    app = create_app(settings)
    session = app.state.sessionmaker()
    wh = warehouse(settings.warehouse_url)
    org_ids = [
        orgs.create_org(
            session,
            ADMIN,
            OrgCreate(code=f"B{i:02d}", name=f"基准部门{i}", level="市本级", region_code="330100"),
        ).id
        for i in range(20)
    ]
    entries = []
    for i in range(n_datasets):
        w1, w2 = WORDS[i % len(WORDS)], WORDS[(i * 7 + 3) % len(WORDS)]
        entries.append(
            catalog.NewResource(
                ResourceIn.model_validate(
                    {
                        "name": f"{w1}{w2}数据{i}",
                        "summary": f"{w1}与{w2}相关的开放数据",
                        "domain": DOMAINS[i % len(DOMAINS)],
                        "update_cycle": CYCLES[i % len(CYCLES)],
                        "share_type": "无条件共享",
                        "open_type": "无条件开放",
                        "grade": "L1",
                        "items": BUS_ITEMS,
                    }
                ),
                owner_org_id=org_ids[i % len(org_ids)],
            )
        )
    ids = catalog.bulk_create(session, ADMIN, entries, publish=True)
    session.commit()
    # The big dataset goes through the real proposal/approval path; the other 4,999 are
    # bulk-inserted (their metadata is what package_search ranks and facets).
    big = catalog.resource_spec(session, ids[0])
    load(wh, big.code, bus_rows(rows))
    ds = service.propose_dataset(
        session,
        Principal(kind="user", id=None, name="o", role="officer", org_id=big.owner_org_id),
        proposal(big, title="公交线路（基准）"),
    )
    ds = service.review_dataset(session, ADMIN, ds.id, approve=True, wh=wh)
    now = utcnow()
    template = ds.items
    batch = []
    for i, rid in enumerate(ids[1:], 1):
        e = entries[i].data
        batch.append(
            OpenDataset(
                name=f"bench-{i}",
                resource_id=rid,
                org_id=org_ids[i % len(org_ids)],
                title=e.name,
                description=e.summary,
                domain=e.domain,
                tags=[WORDS[i % len(WORDS)]],
                items=template,
                row_filter=[],
                licence="CC-BY-4.0",
                update_cycle=e.update_cycle,
                contact="bench",
                open_type="无条件开放",
                status="published",
                proposed_by="bench",
                approved_by="bench",
                proposed_at=now,
                published_at=now,
                data_updated_at=now,
                row_count=100,
                downloads=i % 97,
                api_calls=i % 31,
            )
        )
    session.add_all(batch)
    session.flush()
    search.index(session, batch, catalog.org_names(session))
    session.commit()
    session.close()
    return ds.id, big.code


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


SERVER = """
import sys, uvicorn
from gongshu.app import create_app
uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False, lifespan="on")
"""


def serve(tmp: Path, in_process: bool) -> tuple[str, Any]:
    """The app on loopback: by default its own process (like a deployment, so the load
    generator here does not share the server's interpreter); ``--in-process`` runs it in
    a thread of this process (how this benchmark measured before)."""
    if in_process:
        app = create_app(Settings(data_dir=tmp, secret_key="bench"))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]

        def stop() -> None:
            server.should_exit = True
            thread.join(timeout=10)

        return f"http://127.0.0.1:{port}", stop
    port = free_port()
    env = os.environ | {"GONGSHU_DATA_DIR": str(tmp), "GONGSHU_SECRET_KEY": "bench"}
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env, cwd=ROOT)
    wait_for_port(port, proc)

    def stop_proc() -> None:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)

    return f"http://127.0.0.1:{port}", stop_proc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=5000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--in-process", action="store_true", help="服务端与压测客户端同一进程")
    ap.add_argument("--keep", action="store_true", help="保留临时数据目录")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="gongshu-bench-open-"))
    settings = Settings(data_dir=tmp, secret_key="bench")
    t0 = time.perf_counter()
    ds_id, code = build(settings, args.datasets, args.rows)
    close_warehouse(settings.warehouse_url)  # the server process owns the DuckDB file
    print(
        f"built {args.datasets} datasets and {args.rows:,} rows in {time.perf_counter() - t0:.1f}s",
        file=sys.stderr,
    )
    base, stop = serve(tmp, args.in_process)
    client = httpx.Client(base_url=base, timeout=120)

    # 1. package_search latency (full text, facets, filters, sorts)
    queries: list[dict[str, Any]] = []
    for i in range(300):
        q: dict[str, Any] = {
            "q": WORDS[i % len(WORDS)],
            "rows": 10,
            "start": (i % 5) * 10,
            "facet.field": '["organization","groups","tags","res_format"]',
        }
        if i % 3 == 1:
            q["fq"] = f"groups:{['transport', 'environment', 'health'][i % 3]}"
        if i % 4 == 2:
            q["sort"] = "metadata_modified desc"
        if i % 10 == 9:
            q = {"q": "*:*", "rows": 20, "facet.field": '["organization"]'}
        queries.append(q)
    for q in queries[:20]:
        client.get("/api/3/action/package_search", params=q)
    lat = []
    for q in queries:
        s = time.perf_counter()
        r = client.get("/api/3/action/package_search", params=q)
        lat.append((time.perf_counter() - s) * 1000)
        assert r.status_code == 200 and r.json()["success"], r.text
    # 2. datastore_search throughput on the 1M-row dataset (2 concurrent clients)
    name = code.lower()
    rid = f"{name}-csv"
    done = [0]
    lock = threading.Lock()

    def params_for(i: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "resource_id": rid,
            "limit": 100,
            "offset": (i * 7919) % (args.rows - 100),
        }
        if i % 3 == 0:
            params["filters"] = '{"fare": 2.0}'
        if i % 5 == 0:
            params["sort"] = "stops desc"
        return params

    # The first deep page of each query shape (filter x sort) builds its page index once
    # per load; timed apart, then the steady state is measured.
    cold = []
    for i in (1, 3, 5, 15):
        s = time.perf_counter()
        r = client.get("/api/3/action/datastore_search", params=params_for(i))
        cold.append((time.perf_counter() - s) * 1000)
        assert r.status_code == 200, r.text
    stop_at = time.perf_counter() + args.seconds

    def worker(seed: int) -> None:
        c = httpx.Client(base_url=base, timeout=60)
        i = seed
        while time.perf_counter() < stop_at:
            i += 1
            r = c.get("/api/3/action/datastore_search", params=params_for(i))
            assert r.status_code == 200, r.text
            with lock:
                done[0] += 1
        c.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(k * 1000,)) for k in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    rps = done[0] / (time.perf_counter() - started)
    # 3. CSV download next to DuckDB's own COPY of the same rows (median of three each:
    # a single 40 MB transfer on a shared machine varies several-fold)
    csv_times = []
    for _ in range(3):
        s = time.perf_counter()
        size = 0
        with client.stream("GET", f"/api/v1/open/datasets/{ds_id}/download?format=csv") as resp:
            for chunk in resp.iter_bytes(1 << 20):
                size += len(chunk)
        csv_times.append(time.perf_counter() - s)
    csv_s = statistics.median(csv_times)
    client.close()
    stop()
    load_after = os.getloadavg()[0]
    app = create_app(settings)
    wh = warehouse(settings.warehouse_url)
    session = app.state.sessionmaker()
    sv = service.servable(session, ds_id)
    expr = service.open_table(wh, sv)
    sql = ibis.to_sql(expr, dialect="duckdb")
    out = tmp / "floor.csv"
    con = wh.native_cursor()  # the benchmark reaches DuckDB directly: that is the floor
    floor_times = []
    for _ in range(3):
        s = time.perf_counter()
        con.execute(f"COPY ({sql}) TO '{out}' (HEADER, DELIMITER ',')")
        floor_times.append(time.perf_counter() - s)
    floor_s = statistics.median(floor_times)
    floor_size = out.stat().st_size
    session.close()
    csv_mb_s = size / 1e6 / csv_s
    floor_mb_s = floor_size / 1e6 / floor_s
    result = {
        "datasets": args.datasets,
        "rows": args.rows,
        "server": "in-process" if args.in_process else "own process",
        "package_search_p50_ms": round(statistics.median(lat), 2),
        "package_search_p95_ms": round(percentile(lat, 95), 2),
        "datastore_rps": round(rps, 1),
        "datastore_first_page_per_shape_ms": [round(x, 1) for x in cold],
        "csv_mb": round(size / 1e6, 1),
        "csv_mb_s": round(csv_mb_s, 1),
        "floor_mb_s": round(floor_mb_s, 1),
        "ratio": round(csv_mb_s / floor_mb_s, 3),
        # Other work on the machine skews every figure: report it next to them.
        "loadavg_1m_before": round(load_before, 2),
        "loadavg_1m_after": round(load_after, 2),
        "cpus": os.cpu_count(),
    }
    import json

    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
