"""Catalog search latency on a large catalog (default ~6,700 resources / ~120,000 items).

Builds a throwaway database (SQLite; PostgreSQL too when ``--pg-url`` is given), fills it
with the demo city's departments and the large-catalog generator, then times a mix of
Chinese full-text queries, facet filters and item-level searches as the admin and as a
department officer. Progress goes to stderr; the last stdout line is one JSON object.

    .venv/bin/python benchmarks/catalog_search.py [--resources 6700] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from gongshu import db
from gongshu.auth.principal import Principal
from gongshu.catalog import search
from gongshu.catalog.demo import generate_large
from gongshu.catalog.models import Item, Resource
from gongshu.config import Settings
from gongshu.demo import DemoContext
from gongshu.orgs import demo as orgs_demo

QUERIES = [
    "统一社会信用代码",
    "企业登记信息",
    "医院",
    "公民身份号码",
    "许可信息",
    "监测",
    "养老机构",
    "停车场 收费",
    "建设项目 资金拨付",
    "学校",
    "网格",
    "电梯 检查信息",
    "经度",
    "行政区划代码",
    "处罚信息",
    "高层次人才",
    "供水管网 运行",
    "社保基金",
    "不动产",
    "志愿者 培训信息",
]
FACET_VALUES = {
    "share_type": ["无条件共享", "有条件共享", "不予共享"],
    "open_type": ["无条件开放", "受限开放", "不予开放"],
    "grade": ["L1", "L2", "L3", "L4"],
    "update_cycle": ["实时", "每日", "每月"],
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build(url: str, resources: int, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    db.upgrade(url)
    engine = db.make_engine(url)
    factory = db.make_sessionmaker(engine)
    with db.session_scope(factory) as session:
        settings = Settings(data_dir=Path(tempfile.mkdtemp()), database_url=url)
        ctx = DemoContext(session=session, settings=settings, console=Console(file=sys.stderr))
        orgs_demo.build(ctx)
        session.commit()
        made = generate_large(
            session,
            Principal.system("bench"),
            ctx.shared["orgs"],
            target=resources,
            rng=random.Random(seed),
        )
        items = session.scalar(select(func.count()).select_from(Item))
        if engine.dialect.name == "postgresql":
            session.execute(text("ANALYZE"))
            session.commit()
        else:
            session.execute(text("ANALYZE"))
            session.commit()
    engine.dispose()
    return {"resources": made, "items": int(items or 0), "build_s": time.perf_counter() - started}


def measure(url: str, queries: int, seed: int) -> dict[str, float]:
    engine = db.make_engine(url)
    factory = db.make_sessionmaker(engine)
    rng = random.Random(seed)
    with db.session_scope(factory) as session:
        orgs = list(session.scalars(select(Resource.owner_org_id).distinct()))
        admin = Principal.system("bench")
        officer = Principal(kind="user", id=None, name="o", role="officer", org_id=orgs[0])
        # Warm caches (jieba dictionary, SQLite pages, PostgreSQL buffers) before timing.
        for q in QUERIES:
            search.search(session, admin, q=q)
        timings: list[float] = []
        item_timings: list[float] = []
        for n in range(queries):
            actor = admin if n % 2 == 0 else officer
            q = rng.choice(QUERIES) if n % 5 != 4 else None
            filters: dict[str, list[str]] = {}
            if n % 3 == 0:
                key = rng.choice(list(FACET_VALUES))
                filters[key] = [rng.choice(FACET_VALUES[key])]
            if n % 7 == 0:
                filters["org"] = [str(rng.choice(orgs))]
            t0 = time.perf_counter()
            search.search(session, actor, q=q, filters=filters, offset=0, limit=20)
            timings.append((time.perf_counter() - t0) * 1000)
            if n % 4 == 0:
                t0 = time.perf_counter()
                search.search_items(session, actor, rng.choice(QUERIES), limit=50)
                item_timings.append((time.perf_counter() - t0) * 1000)
    engine.dispose()

    def pct(values: list[float], p: float) -> float:
        return round(statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1], 2)

    return {
        "p50": pct(timings, 50),
        "p95": pct(timings, 95),
        "max": round(max(timings), 2),
        "item_p95": pct(item_timings, 95),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resources", type=int, default=6700, help="catalog size (default 6700)")
    ap.add_argument("--queries", type=int, default=300, help="timed searches per database")
    ap.add_argument("--pg-url", default=None, help="PostgreSQL admin URL (creates a temp DB)")
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument(
        "--pg-existing", default=None, help="measure an already built PostgreSQL catalog (URL)"
    )
    ap.add_argument(
        "--sqlite-db", type=Path, default=None, help="keep/reuse the SQLite catalog at this path"
    )
    args = ap.parse_args()

    out: dict[str, Any] = {"benchmark": "catalog_search", "queries": args.queries}
    db_path = args.sqlite_db or Path(tempfile.mkdtemp(prefix="gongshu-catalog-bench-")) / "bench.db"
    sqlite_url = f"sqlite:///{db_path}"
    if db_path.exists():
        log(f"reusing {db_path}")
        engine = db.make_engine(sqlite_url)
        with engine.connect() as conn:
            items = conn.execute(select(func.count()).select_from(Item)).scalar()
        engine.dispose()
        built = {"items": int(items or 0), "build_s": 0.0}
    else:
        log(f"building SQLite catalog of {args.resources} resources …")
        built = build(sqlite_url, args.resources, args.seed)
        log(f"  built in {built['build_s']:.1f}s: {built['items']} items")
    res = measure(sqlite_url, args.queries, args.seed)
    out |= {
        "resources": args.resources,
        "items": built["items"],
        "sqlite_build_s": round(built["build_s"], 1),
        "search_p50_ms": res["p50"],
        "search_p95_ms": res["p95"],
        "search_max_ms": res["max"],
        "item_search_p95_ms": res["item_p95"],
    }
    log(f"  SQLite: p50 {res['p50']} ms, p95 {res['p95']} ms")
    if args.pg_existing:
        log(f"measuring existing PostgreSQL catalog {make_url(args.pg_existing).database} …")
        res = measure(args.pg_existing, args.queries, args.seed)
        out |= {
            "pg_search_p50_ms": res["p50"],
            "pg_search_p95_ms": res["p95"],
            "pg_search_max_ms": res["max"],
            "pg_item_search_p95_ms": res["item_p95"],
        }
        log(f"  PostgreSQL: p50 {res['p50']} ms, p95 {res['p95']} ms")
    elif args.pg_url:
        admin_url = make_url(args.pg_url)
        name = f"gongshu_bench_{uuid.uuid4().hex[:8]}"
        admin = db.make_engine(
            admin_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        pg_url = admin_url.set(database=name).render_as_string(hide_password=False)
        try:
            log("building PostgreSQL catalog …")
            built = build(pg_url, args.resources, args.seed)
            res = measure(pg_url, args.queries, args.seed)
            out |= {
                "pg_build_s": round(built["build_s"], 1),
                "pg_search_p50_ms": res["p50"],
                "pg_search_p95_ms": res["p95"],
                "pg_search_max_ms": res["max"],
                "pg_item_search_p95_ms": res["item_p95"],
            }
            log(f"  PostgreSQL: p50 {res['p50']} ms, p95 {res['p95']} ms")
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    # Latency depends on what else the machine runs; record it next to the numbers.
    out["loadavg_1m"] = round(os.getloadavg()[0], 2)
    out["cpus"] = os.cpu_count()
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
