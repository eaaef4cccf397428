"""Pages: upload form → mapping → run → load page with counts and rejects; ledger."""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import login
from tests.factories import PASSWORD, make_user

from .test_api import CSV


def test_upload_map_run_through_pages(
    client: TestClient, session: Session, org: Any, resource: Any
) -> None:
    make_user(session, "gaj_officer", org=org)
    csrf = login(client, "gaj_officer", PASSWORD)
    form = client.get("/ingest/upload")
    assert form.status_code == 200 and resource.code in form.text
    resp = client.post(
        "/ingest/upload",
        data={"csrf_token": csrf, "resource_id": str(resource.id), "mode": "full"},
        files={"file": ("人口.csv", CSV, "text/csv")},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text
    source_url = resp.headers["location"]
    page = client.get(source_url)
    assert "身份证号" in page.text and "GBK" in page.text and "张三" in page.text
    selected = dict(
        re.findall(r'name="src__(\w+)".*?<option value="([^"]*)" selected', page.text, re.S)
    )
    assert selected["gmsfhm"] == "身份证号"
    data = {"csrf_token": csrf, "mode": "full", "then": "run"}
    for target, source in selected.items():
        data[f"src__{target}"] = source
    data["norm__gmsfhm"] = "nfkc"
    run = client.post(f"{source_url}/mapping", data=data, follow_redirects=False)
    assert run.status_code == 303, run.text
    load_url = run.headers["location"]
    for _ in range(100):
        html = client.get(load_url).text
        if "进行中" not in html:
            break
        time.sleep(0.1)
    assert 'id="load-status">成功' in html
    assert re.search(r'id="rows-accepted">4<', html) and re.search(r'id="rows-rejected">2<', html)
    assert "年龄（nl）不是整数" in html and "rejects.csv" in html
    ledger = client.get("/ingest")
    assert ledger.status_code == 200 and "人口基本信息" in ledger.text
    assert client.get("/ingest/sources").status_code == 200
    assert client.get("/ingest/devices").status_code == 200


def test_upload_page_errors_in_chinese(
    client: TestClient, session: Session, org: Any, resource: Any
) -> None:
    make_user(session, "gaj_officer", org=org)
    csrf = login(client, "gaj_officer", PASSWORD)
    resp = client.post(
        "/ingest/upload",
        data={"csrf_token": csrf, "resource_id": str(resource.id)},
        files={"file": ("empty.csv", b"", "text/csv")},
    )
    assert resp.status_code == 422 and "上传的文件是空的" in resp.text
