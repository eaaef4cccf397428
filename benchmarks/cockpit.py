"""Cockpit benchmark: recompute the demo city's indicators, then one new day; home page p95.

Setup (not timed): a fresh SQLite control plane with 示例市's orgs, two years (730 days) of
the demo warehouse tables and the ~40 demo indicators plus the registered built-ins.

* ``full_recompute_s``: every indicator from scratch (compute, alert rules, forecasts),
  split into ``full_compute_s`` and ``full_forecast_s``.
* ``incremental_s``: one new day is loaded into the warehouse (an incremental upsert,
  not timed), then the incremental refresh (only new periods; every series has a new
  point, so each is forecast again with the model the full refresh chose), split likewise.
* ``home_p95_ms``: server time of ``GET /cockpit/screen`` (the home big screen, rendered
  with its data) over ``REQUESTS`` sequential requests in-process, signed in as a leader;
  ``screen_api_p95_ms`` the same for the refresh endpoint ``/api/v1/cockpit/screen``.

Run: ``.venv/bin/python benchmarks/cockpit.py``; the last line is one JSON object.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

os.environ.setdefault("GONGSHU_COCKPIT_SCHEDULER", "0")

from fastapi.testclient import TestClient
from rich.console import Console

from gongshu import db
from gongshu.app import create_app
from gongshu.auth.principal import Principal
from gongshu.cockpit import demo_data, service
from gongshu.cockpit.schemas import IndicatorIn
from gongshu.config import Settings
from gongshu.demo import DemoContext
from gongshu.warehouse import release_shared, shared

DAYS = 730
REQUESTS = 60
WORKERS = min(2, os.cpu_count() or 1)
END = date(2026, 3, 31)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18] if len(samples) >= 20 else max(samples)


def main() -> dict[str, object]:
    from gongshu.auth.demo import build as auth_build
    from gongshu.orgs.demo import build as orgs_build

    tmp = Path(tempfile.mkdtemp(prefix="gongshu-bench-"))
    settings = Settings(data_dir=tmp, secret_key="bench")
    settings.ensure_dirs()
    db.upgrade(settings.database_url)
    engine = db.make_engine(settings.database_url)
    quiet = Console(file=open(os.devnull, "w"))  # noqa: SIM115
    wh = shared(settings.warehouse_url)
    with db.session_scope(db.make_sessionmaker(engine)) as session:
        ctx = DemoContext(session=session, settings=settings, console=quiet)
        orgs_build(ctx)
        session.commit()
        auth_build(ctx)
        session.commit()
        demo_data.load_days(wh, END - timedelta(days=DAYS - 1), END)
        orgs = ctx.shared["orgs"]
        for spec in demo_data.CITY_INDICATORS:
            data = dict(spec)
            data["owner_org_id"] = orgs.get(data.pop("owner_org"))
            service.create_indicator(session, Principal.system(), IndicatorIn(**data))

        t = time.perf_counter()
        full = service.refresh(session, wh, until=END, full=True, window=30, workers=WORKERS)
        full_s = time.perf_counter() - t

        new_day = END + timedelta(days=1)
        demo_data.load_days(wh, new_day, new_day, anomaly_end=END, full=False)
        t = time.perf_counter()
        inc = service.refresh(session, wh, until=new_day, workers=WORKERS)
        inc_s = time.perf_counter() - t
        indicators = len(service.list_indicators(session, Principal.system()))
    release_shared(settings.warehouse_url)

    app = create_app(settings)
    page_ms: list[float] = []
    api_ms: list[float] = []
    with TestClient(app) as client:
        login = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        assert token
        client.post(
            "/login",
            data={"username": "leader", "password": "Leader@2026", "csrf_token": token.group(1)},
        )
        for _ in range(3):  # warm-up (template compilation, first queries)
            client.get("/cockpit/screen")
        for _ in range(REQUESTS):
            t = time.perf_counter()
            resp = client.get("/cockpit/screen")
            page_ms.append((time.perf_counter() - t) * 1000)
            assert resp.status_code == 200
            t = time.perf_counter()
            resp = client.get("/api/v1/cockpit/screen")
            api_ms.append((time.perf_counter() - t) * 1000)
            assert resp.status_code == 200
    engine.dispose()
    return {
        "indicators": indicators,
        "history_days": DAYS,
        "values_stored": full.values,
        "forecast_workers": WORKERS,
        "full_recompute_s": round(full_s, 2),
        "full_compute_s": round(full.compute_s, 2),
        "full_forecast_s": round(full.forecast_s, 2),
        "incremental_s": round(inc_s, 2),
        "incremental_compute_s": round(inc.compute_s, 2),
        "incremental_forecast_s": round(inc.forecast_s, 2),
        "incremental_values": inc.values,
        "home_p95_ms": round(p95(page_ms), 1),
        "home_median_ms": round(statistics.median(page_ms), 1),
        "screen_api_p95_ms": round(p95(api_ms), 1),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
    }


if __name__ == "__main__":
    print(json.dumps(main(), ensure_ascii=False))
