"""Share gateway throughput: an authorised *query* by ID number over 1,000,000 persons
(key auth, grant enforcement, masking, call logging) next to a bare constant endpoint
of the same server, both driven by wrk with 16 connections on loopback.

    .venv/bin/python benchmarks/gateway.py --seconds 20

Prints one JSON object as its last line: rps, p50_ms, p99_ms, bare_rps, ratio,
calls_served, calls_logged, ... (calls_logged is counted in the control plane after a
graceful shutdown of the server, so it proves the log lost nothing under load).
The first query calls make the gateway build its serving replica of the table; the
timed run starts once it is ready (``serving``: ready, seconds waited, rows, bytes).
``--no-serving`` measures the DuckDB lookup path instead.

Bare and query alternate in ``--rounds`` rounds (default 4) of ``seconds / rounds``
each, so a change in the machine's load during the run weighs on both; ``rps`` and
``bare_rps`` are over all rounds (per-round figures in ``*_round_rps``), ``p99_ms`` is the
worst round's.

``bare`` is ``/gw/ping``: the constant answered inside the gateway's own ASGI handler,
i.e. the floor of this server's stack (uvicorn, middleware, routing), and ``ratio`` is
against it. For scale, ``plain_rps`` is a plain FastAPI endpoint returning the same
constant (``async def`` route, first in the route table) in the same server.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _loopback import free_port, wait_for_port  # benchmarks/ is on the path when run as a script

ROOT = Path(__file__).resolve().parent.parent
SERVER = """
import json, os, sys, uvicorn
from gongshu.app import create_app
app = create_app()
async def plain():
    return {"status": "ok"}
app.add_api_route("/bench/plain", plain, methods=["GET"], include_in_schema=False)
async def serving():  # the gateway's serving replicas (the benchmark waits for them)
    return app.state.gateway.serving.status()
app.add_api_route("/bench/serving", serving, methods=["GET"], include_in_schema=False)
app.router.routes.insert(0, app.router.routes.pop())  # matched first, like /gw
run = lambda: uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                          access_log=False, lifespan="on")
if os.environ.get("GONGSHU_BENCH_PROFILE"):
    import cProfile
    cProfile.run("run()", os.environ["GONGSHU_BENCH_PROFILE"])
else:
    run()
# Counted by the server: every gateway answer it produced, and how many were written.
calls = app.state.gateway.calls
print(json.dumps({"served": calls.served, "written": calls.written}))
"""
LUA = """
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
local i = 0
wrk.headers["Authorization"] = "Bearer %(key)s"
request = function()
  i = i + 1
  return wrk.format("GET", "/gw/%(code)s?gmsfhm=" .. ids[(i %% #ids) + 1])
end
"""


def _persons(n: int) -> Any:
    try:  # the demo city's generator, when it is on main
        from gongshu.demo.synth import persons as demo_persons  # type: ignore[attr-defined]

        return demo_persons(n)
    except (ImportError, AttributeError, TypeError):
        from gongshu.sharing.synth import persons

        return persons(n)


def setup(data_dir: Path, rows: int) -> tuple[str, str, list[str]]:
    """Control plane + warehouse through the real services; returns (key, code, ids)."""
    os.environ["GONGSHU_DATA_DIR"] = str(data_dir)
    from gongshu import db
    from gongshu.auth import service as auth
    from gongshu.auth.principal import Principal
    from gongshu.auth.schemas import ApiKeyCreate
    from gongshu.catalog import service as catalog
    from gongshu.catalog.schemas import ResourceIn
    from gongshu.config import Settings
    from gongshu.orgs import service as orgs
    from gongshu.orgs.schemas import OrgCreate
    from gongshu.sharing import service as sharing
    from gongshu.sharing.schemas import DemandIn, InterfaceIn, Terms
    from gongshu.warehouse import connect, table_name_for

    settings = Settings(data_dir=data_dir)
    settings.ensure_dirs()
    db.upgrade(settings.database_url)
    system = Principal.system("bench")
    admin = Principal(kind="user", id=None, name="bench-admin", role="admin")
    with db.cli_session(settings.database_url) as s:
        owner = orgs.create_org(
            s,
            system,
            OrgCreate(code="GAJ", name="示例市公安局", level="市本级", region_code="330100"),
        )
        consumer = orgs.create_org(
            s,
            system,
            OrgCreate(code="ZWFWB", name="示例市政务办", level="市本级", region_code="330100"),
        )
        owner_p = Principal(kind="user", id=None, name="gaj", role="officer", org_id=owner.id)
        con_p = Principal(kind="user", id=None, name="zwfw", role="officer", org_id=consumer.id)
        items = [
            {"name": "公民身份号码", "column": "gmsfhm", "data_type": "字符串", "length": 18,
             "data_element": "公民身份号码", "is_sensitive": True, "is_key": True,
             "masking": "id_number"},
            {"name": "姓名", "column": "xm", "data_type": "字符串", "length": 50,
             "is_sensitive": True, "masking": "name"},
            {"name": "性别", "column": "xb", "data_type": "字符串", "length": 1},
            {"name": "出生日期", "column": "csrq", "data_type": "日期"},
            {"name": "行政区划", "column": "xzqh", "data_type": "字符串", "length": 6},
            {"name": "手机号码", "column": "sjhm", "data_type": "字符串", "length": 11,
             "is_sensitive": True, "masking": "phone"},
            {"name": "住址", "column": "zz", "data_type": "字符串", "length": 200},
        ]  # fmt: skip
        res = catalog.create_resource(
            s,
            owner_p,
            ResourceIn.model_validate(
                {
                    "name": "人口基本信息",
                    "summary": "全市人口基本信息",
                    "domain": "公共安全",
                    "classification": "基础",
                    "update_cycle": "每日",
                    "share_type": "有条件共享",
                    "share_condition": "政务服务身份核验",
                    "share_methods": ["系统对接"],
                    "open_type": "不予开放",
                    "open_reason": "个人隐私",
                    "grade": "L3",
                    "items": items,
                }
            ),
        )
        catalog.submit_resource(s, owner_p, res.id)
        catalog.approve_resource(s, admin, res.id, publish=True)
        spec = catalog.resource_spec(s, res.id)
        demand = sharing.create_demand(
            s,
            con_p,
            DemandIn(
                resource_id=res.id,
                items=["gmsfhm", "xm", "xb", "csrq", "xzqh"],
                purpose="一网通办身份核验",
                basis="公共数据条例",
                scenario="办事核验",
            ),
        )
        sharing.owner_decide(
            s, owner_p, demand.id, approve=True,
            terms=Terms(daily_quota=100_000_000, rate_limit=100_000),
        )  # fmt: skip
        sharing.bureau_confirm(s, admin, demand.id, approve=True)
        sharing.create_interface(
            s, owner_p, InterfaceIn(resource_id=res.id, code="rk-query", name="人口查询")
        )
        _, key = auth.create_api_key(s, system, ApiKeyCreate(name="bench", org_id=consumer.id))
    t0 = time.perf_counter()
    table = _persons(rows)
    wh = connect(settings.warehouse_url)
    wh.put_table(table_name_for(spec.code), table)
    ids = table.column("gmsfhm").to_pylist()
    wh.close()
    print(
        f"# {rows} persons generated and loaded in {time.perf_counter() - t0:.1f}s", file=sys.stderr
    )
    import random

    rnd = random.Random(1)
    return key, "rk-query", [ids[rnd.randrange(len(ids))] for _ in range(20_000)]


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    assert m, text
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(url: str, seconds: int, connections: int, script: Path | None = None) -> dict[str, Any]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    pct = dict(re.findall(r"^\s+(\d+)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(pct["50"]),
        "p99_ms": _ms(pct["99"]),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else None,
    }


def _combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one phase as one: rate over the whole time, the median round's p50, the
    worst round's p99 (an upper bound of the whole run's p99)."""
    p50 = sorted(r["p50_ms"] for r in runs)[len(runs) // 2]
    return {
        "rps": sum(r["rps"] for r in runs) / len(runs),  # rounds are equally long
        "requests": sum(r["requests"] for r in runs),
        "p50_ms": p50,
        "p99_ms": max(r["p99_ms"] for r in runs),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "round_rps": [round(r["rps"], 1) for r in runs],
    }


def wait_serving(base: str, timeout: float) -> dict[str, Any]:
    """Wait until the gateway's serving replica is built (GONGSHU_SHARING_SERVING)."""
    import urllib.request

    t0 = time.monotonic()
    while True:
        with urllib.request.urlopen(f"{base}/bench/serving", timeout=10) as r:
            status = json.loads(r.read())
        waited = round(time.monotonic() - t0, 1)
        if not status["enabled"] or status["replicas"] or waited > timeout:
            return {
                "enabled": status["enabled"],
                "ready": bool(status["replicas"]),
                "waited_s": waited,
                "replicas": status["replicas"],
            }
        time.sleep(0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument(
        "--rounds", type=int, default=4, help="bare 与 query 交替的轮数（每轮 seconds/rounds 秒）"
    )
    ap.add_argument("--data-dir", type=Path, default=None, help="默认临时目录（结束后删除）")
    ap.add_argument("--profile", type=Path, default=None, help="cProfile 输出文件（服务端）")
    ap.add_argument(
        "--duckdb-threads", type=int, default=0, help="服务端 DuckDB 线程数（0 = DuckDB 默认）"
    )
    ap.add_argument("--serving-timeout", type=float, default=300, help="等待服务副本就绪的最长秒数")
    ap.add_argument(
        "--no-serving", action="store_true", help="关闭服务副本（GONGSHU_SHARING_SERVING=false）"
    )
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="gongshu-bench-"))
    try:
        key, code, ids = setup(data_dir, args.rows)
        ids_file = data_dir / "ids.txt"
        ids_file.write_text("\n".join(ids) + "\n")
        lua = data_dir / "query.lua"
        lua.write_text(LUA % {"ids": ids_file, "key": key, "code": code})
        port = free_port()
        env = os.environ | {"GONGSHU_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
        if args.no_serving:
            env["GONGSHU_SHARING_SERVING"] = "false"
        if args.duckdb_threads:
            wh_path = (data_dir / "warehouse.duckdb").resolve()
            env["GONGSHU_WAREHOUSE_URL"] = f"duckdb:///{wh_path}?threads={args.duckdb_threads}"
        if args.profile:
            env["GONGSHU_BENCH_PROFILE"] = str(args.profile.resolve())
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_port(port, server)
            load_before = os.getloadavg()
            warm = wrk(f"{base}/gw/ping", 2, args.connections)
            warm_q = wrk(base, 3, args.connections, lua)  # builds the index, fills caches
            serving = wait_serving(base, args.serving_timeout)
            if serving["ready"]:  # measure steady state: the replica's files are in cache
                warm_q2 = wrk(base, 2, args.connections, lua)
                warm_q["requests"] += warm_q2["requests"]
                warm_q["non_2xx"] += warm_q2["non_2xx"]
            # Bare and query alternate in short rounds: a change in the machine's load
            # during the run (other processes on a shared machine) then affects both.
            rounds = max(1, args.rounds)
            per = max(1, args.seconds // rounds)
            bares, queries = [], []
            for _ in range(rounds):
                bares.append(wrk(f"{base}/gw/ping", per, args.connections))
                queries.append(wrk(base, per, args.connections, lua))
            bare, query = _combine(bares), _combine(queries)
            plain = wrk(f"{base}/bench/plain", per, args.connections)
            load_after = os.getloadavg()
        finally:
            server.send_signal(signal.SIGINT)  # graceful: drains the call log
            out, _ = server.communicate(timeout=120)
        counts = json.loads(out.strip().splitlines()[-1])
        del warm
        from sqlalchemy import create_engine, text

        engine = create_engine(f"sqlite:///{data_dir / 'gongshu.db'}")
        with engine.connect() as conn:
            logged = conn.execute(text("SELECT count(*) FROM share_call")).scalar_one()
            ok = conn.execute(
                text("SELECT count(*) FROM share_call WHERE status = 200")
            ).scalar_one()
        engine.dispose()
        served = counts["served"]
        result = {
            "rps": round(query["rps"], 1),
            "p50_ms": round(query["p50_ms"], 2),
            "p99_ms": round(query["p99_ms"], 2),
            "bare_rps": round(bare["rps"], 1),
            "bare_p50_ms": round(bare["p50_ms"], 2),
            "bare_p99_ms": round(bare["p99_ms"], 2),
            "ratio": round(query["rps"] / bare["rps"], 3),
            "plain_rps": round(plain["rps"], 1),
            "ratio_plain": round(query["rps"] / plain["rps"], 3),
            "bare_round_rps": bare["round_rps"],
            "query_round_rps": query["round_rps"],
            "calls_served": served,
            "calls_logged": logged,
            "calls_ok": ok,
            "wrk_requests": warm_q["requests"] + query["requests"],
            "non_2xx": query["non_2xx"] + warm_q["non_2xx"],
            "non_2xx_reference": bare["non_2xx"] + plain["non_2xx"],
            "rows": args.rows,
            "seconds": args.seconds,
            "rounds": rounds,
            "connections": args.connections,
            "workers": 1,
            "duckdb_threads": args.duckdb_threads or "default",
            "serving": serving,
            "cpus": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in load_after],
        }
        print(json.dumps(result, ensure_ascii=False))
    finally:
        if args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
