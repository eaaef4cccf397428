"""``kill -9`` of the loading process: the published table is exactly as before and the
load is marked failed by the next process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from gongshu import db
from gongshu.auth.principal import Principal
from gongshu.config import Settings
from gongshu.ingest import service
from gongshu.ingest.models import Load
from gongshu.warehouse import connect, table_name_for

from .conftest import CLEAN_ROWS, write_csv


def test_kill_9_mid_load(
    settings: Settings, session: Session, resource: Any, tmp_path: Path
) -> None:
    settings.ensure_dirs()
    with connect(settings.warehouse_url) as wh:
        first = service.ingest_file(
            session,
            Principal.system("test"),
            resource.code,
            write_csv(tmp_path / "a.csv", CLEAN_ROWS),
            wh=wh,
            settings=settings,
        )
        assert first.status == "succeeded"
        table = table_name_for(resource.code)
        before = wh.to_pyarrow(wh.table(table)).sort_by("gmsfhm")
    big = tmp_path / "big.csv"
    with open(big, "w", encoding="gbk") as f:
        f.write("身份证号,姓名,年龄,出生日期,行政区划代码,登记时间,月收入\n")
        for chunk in range(30):
            f.write(
                "".join(
                    f"3306021990{chunk:02d}{i:06d},某人,30,1990-01-01,330602,2024-01-01 08:00:00,1\n"
                    for i in range(50_000)
                )
            )
    env = os.environ | {
        "GONGSHU_DATA_DIR": str(settings.data_dir),
        "GONGSHU_DATABASE_URL": settings.database_url,
        "GONGSHU_WAREHOUSE_URL": settings.warehouse_url,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gongshu.cli", "ingest", "file", resource.code, str(big)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Wait until the child has recorded its running load and is staging rows.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        session.expire_all()
        running = session.query(Load).filter(Load.status == "running").one_or_none()
        if running is not None:
            break
        time.sleep(0.05)
    assert running is not None, "loader never started"
    time.sleep(1.5)
    assert proc.poll() is None, "loader finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with connect(settings.warehouse_url) as wh:
        after = wh.to_pyarrow(wh.table(table_name_for(resource.code))).sort_by("gmsfhm")
        assert after.equals(before)
        assert not [t for t in wh.list_tables() if t.startswith("_")]
    engine = db.make_engine(settings.database_url)
    try:
        with db.session_scope(db.make_sessionmaker(engine)) as fresh:
            assert service.reap_stale_loads(fresh) == 1
            load = fresh.get(Load, running.id)
            assert load is not None and load.status == "failed"
            assert "中断" in (load.error or "")
    finally:
        engine.dispose()
