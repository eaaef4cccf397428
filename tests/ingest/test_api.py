"""The JSON API end to end: upload → mapping → run → counts and rejects; SQL, HTTP and IoT
sources; limits; ledger and 应归未归."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gongshu.app import create_app
from gongshu.config import Settings
from gongshu.warehouse import connect
from tests.conftest import login
from tests.factories import PASSWORD, make_user

from .conftest import CLEAN_ROWS, DIRTY_ROWS, HEADER

CSV = (HEADER + "\n".join(CLEAN_ROWS + DIRTY_ROWS[:2]) + "\n").encode("gbk")


@pytest.fixture
def officer(client: TestClient, session: Session, org: Any, resource: Any) -> TestClient:
    make_user(session, "gaj_officer", org=org)
    login(client, "gaj_officer", PASSWORD)
    return client


def upload(
    client: TestClient, resource_id: int, data: bytes = CSV, name: str = "人口.csv"
) -> dict[str, Any]:
    resp = client.post(
        "/api/v1/ingest/uploads",
        data={"resource_id": str(resource_id)},
        files={"file": (name, data, "text/csv")},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_upload_map_run_counts_and_rejects(
    officer: TestClient, resource: Any, settings: Settings
) -> None:
    source = upload(officer, resource.id)
    mapping = {m["target"]: m["source"] for m in source["mapping"]}
    assert mapping["gmsfhm"] == "身份证号" and mapping["xzqh"] == "行政区划代码"
    info = officer.get(f"/api/v1/ingest/sources/{source['id']}/describe").json()
    assert info["encoding"] == "gbk" and info["columns"][0] == "身份证号"
    assert info["preview"][0]["姓名"] == "张三"
    # Edit the mapping: do not load 月收入.
    edited = [m | ({"source": None} if m["target"] == "ysr" else {}) for m in source["mapping"]]
    resp = officer.patch(f"/api/v1/ingest/sources/{source['id']}", json={"mapping": edited})
    assert resp.status_code == 200, resp.text
    load = officer.post(f"/api/v1/ingest/sources/{source['id']}/run", json={"wait": True}).json()
    assert load["status"] == "succeeded", load
    assert (load["rows_read"], load["rows_accepted"], load["rows_rejected"]) == (6, 4, 2)
    assert load["bytes_read"] == len(CSV) and load["actor_name"] == "gaj_officer"
    rejects = officer.get(f"/api/v1/ingest/loads/{load['id']}/rejects").json()
    assert [r["line"] for r in rejects] == [6, 7]
    assert "不是整数" in rejects[0]["reason"]
    csv_resp = officer.get(f"/api/v1/ingest/loads/{load['id']}/rejects.csv")
    assert csv_resp.content.startswith(b"\xef\xbb\xbf\xe8\xa1\x8c\xe5\x8f\xb7")  # BOM + 行号
    text = csv_resp.content.decode("utf-8-sig").splitlines()
    assert text[0] == "行号,问题原因,身份证号,姓名,年龄,出生日期,行政区划代码,登记时间,月收入"
    assert text[1].startswith('6,年龄（nl）不是整数,"330602199101010055","钱七","abc"')
    loads = officer.get("/api/v1/ingest/loads").json()
    assert loads["total"] == 1
    # The published table: read through the warehouse like any other domain would.
    officer.close()  # shutdown releases the server's DuckDB file
    with connect(settings.warehouse_url) as wh:
        from gongshu.warehouse import table_name_for

        t = wh.table(table_name_for(resource.code))
        rows = wh.to_pyarrow(t.order_by(t.gmsfhm)).to_pylist()
    assert len(rows) == 4 and all(r["ysr"] is None for r in rows)


def test_bad_requests_are_4xx_in_chinese(officer: TestClient, resource: Any) -> None:
    resp = officer.post(
        "/api/v1/ingest/uploads",
        data={"resource_id": str(resource.id)},
        files={"file": ("x.exe", b"MZ", "application/octet-stream")},
    )
    assert resp.status_code == 422 and "不支持的文件类型" in resp.json()["error"]["message"]
    resp = officer.post(
        "/api/v1/ingest/sources",
        json={
            "resource_id": resource.id,
            "name": "x",
            "kind": "file",
            "config": {"path": "/etc/passwd"},
        },
    )
    assert resp.status_code == 422 and "只能读取归集目录" in resp.json()["error"]["message"]
    resp = officer.post(
        "/api/v1/ingest/sources",
        json={
            "resource_id": resource.id,
            "name": "x",
            "kind": "sql",
            "config": {"url": "sqlite:///x.db", "table": "t"},
            "schedule": "every day",
        },
    )
    assert resp.status_code == 422 and "cron" in resp.json()["error"]["message"]
    source = upload(officer, resource.id)
    bad = officer.patch(
        f"/api/v1/ingest/sources/{source['id']}",
        json={"mapping": [{"target": "gmsfhm", "source": None}]},
    )
    assert bad.status_code == 422 and "主键数据项未映射" in bad.json()["error"]["message"]


def test_upload_over_limit_gets_413(tmp_path: Path, db_url: str) -> None:
    settings = Settings(
        data_dir=tmp_path / "var", database_url=db_url, secret_key="t", max_upload_bytes=1000
    )
    with TestClient(create_app(settings)) as client:
        resp = client.post(
            "/api/v1/ingest/uploads",
            data={"resource_id": "1"},
            files={"file": ("big.csv", b"x" * 5000, "text/csv")},
        )
    assert resp.status_code == 413
    assert resp.json()["error"]["message"] == "请求内容过大，上限为 1 KB"


def test_sql_source_full_then_incremental_by_watermark(
    officer: TestClient, resource: Any, tmp_path: Path
) -> None:
    db = tmp_path / "var" / "inbox" / "hukou.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE rk (sfzh TEXT, xm TEXT, nl INTEGER, csrq TEXT, xzqh TEXT, gxsj TEXT)")
    con.executemany(
        "INSERT INTO rk VALUES (?,?,?,?,?,?)",
        [
            ("330602199001010011", "张三", 34, "1990-01-01", "330602", "2024-01-01 08:00:00"),
            ("33060219850203002X", "李四", 39, "1985-02-03", "010101", "2024-01-02 08:00:00"),
        ],
    )
    con.commit()
    mapping = [
        {"target": "gmsfhm", "source": "sfzh", "normalize": ["nfkc", "nospace", "upper"]},
        {"target": "xm", "source": "xm"},
        {"target": "nl", "source": "nl"},
        {"target": "csrq", "source": "csrq"},
        {"target": "xzqh", "source": "xzqh"},
        {"target": "djsj", "source": "gxsj"},
    ]
    resp = officer.post(
        "/api/v1/ingest/sources",
        json={
            "resource_id": resource.id,
            "name": "户籍库",
            "kind": "sql",
            "config": {"url": f"sqlite:///{db}", "query": "SELECT * FROM rk"},
            "mapping": mapping,
            "mode": "incremental",
            "watermark_column": "gxsj",
            "schedule": "0 2 * * *",
        },
    )
    assert resp.status_code == 201, resp.text
    source = resp.json()
    assert source["next_run_at"] is not None
    first = officer.post(f"/api/v1/ingest/sources/{source['id']}/run").json()
    assert (first["status"], first["rows_accepted"]) == ("succeeded", 2), first
    wm = officer.get(f"/api/v1/ingest/sources/{source['id']}").json()["watermark"]
    assert wm == {"type": "str", "value": "2024-01-02 08:00:00"}
    con.execute("UPDATE rk SET xm = '李四改', gxsj = '2024-03-01 08:00:00' WHERE xm = '李四'")
    con.execute(
        "INSERT INTO rk VALUES ('330602200001010033','王五',24,'2000-01-01','330603','2024-03-02 00:00:00')"
    )
    con.commit()
    con.close()
    second = officer.post(f"/api/v1/ingest/sources/{source['id']}/run").json()
    assert (second["status"], second["rows_read"]) == ("succeeded", 2), second  # only new rows
    assert officer.get("/api/v1/ingest/ledger").json()["total_rows"] == 4


class Paged(BaseHTTPRequestHandler):
    """A department API: ?page=N&size=M → {"data": {"list": [...]}}."""

    rows = [
        {"sfzh": f"3306021990010100{i:02d}", "xm": f"人{i}", "nl": 30 + i, "tags": ["a", i]}
        for i in range(7)
    ]

    def do_GET(self) -> None:
        q = parse_qs(urlparse(self.path).query)
        page, size = int(q["page"][0]), int(q["size"][0])
        body = json.dumps({"data": {"list": self.rows[(page - 1) * size : page * size]}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Paged)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/people"
    server.shutdown()


def test_http_source_with_paging(officer: TestClient, resource: Any, api_server: str) -> None:
    resp = officer.post(
        "/api/v1/ingest/sources",
        json={
            "resource_id": resource.id,
            "name": "人口接口",
            "kind": "http",
            "config": {
                "url": api_server,
                "records_path": "data.list",
                "paging": "page",
                "page_size": 3,
            },
        },
    )
    assert resp.status_code == 201, resp.text
    source = resp.json()
    info = officer.get(f"/api/v1/ingest/sources/{source['id']}/describe").json()
    assert info["columns"] == ["sfzh", "xm", "nl", "tags"]
    officer.patch(f"/api/v1/ingest/sources/{source['id']}", json={"mapping": info["mapping"]})
    load = officer.post(f"/api/v1/ingest/sources/{source['id']}/run").json()
    assert (load["status"], load["rows_read"], load["rows_accepted"]) == ("succeeded", 7, 7), load


def test_missing_and_ledger(officer: TestClient, resource: Any) -> None:
    missing = officer.get("/api/v1/ingest/missing").json()
    assert [(m["code"], m["reason"]) for m in missing] == [(resource.code, "从未归集")]
    source = upload(officer, resource.id)
    officer.post(f"/api/v1/ingest/sources/{source['id']}/run")
    assert officer.get("/api/v1/ingest/missing").json() == []
    ledger = officer.get("/api/v1/ingest/ledger").json()
    assert ledger["total_rows"] == 4 and ledger["by_level"] == {"市本级": 4}
    assert ledger["by_resource"][0]["code"] == resource.code
    assert sum(ledger["by_day"].values()) == 4
