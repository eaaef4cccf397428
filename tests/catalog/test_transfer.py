"""Excel/CSV import and export, all-or-nothing, hostile files, DCAT-AP 3 JSON-LD."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongshu.catalog import search, service, transfer
from gongshu.catalog.models import Item, Resource
from gongshu.catalog.transfer import ImportFailed, import_catalog
from tests.catalog.helpers import ADMIN, make_resource, officer
from tests.conftest import login
from tests.factories import PASSWORD, make_org, make_system, make_user


def record(n: int, org: str = "GAJ", items: int = 10, **over: Any) -> dict[str, Any]:
    return {
        "name": f"测试资源{n}",
        "summary": f"第 {n} 个测试资源",
        "owner_org_code": org,
        "classification": "部门",
        "domain": "公共安全",
        "format": "数据库",
        "update_cycle": "每日",
        "share_type": "无条件共享",
        "share_methods": ["系统对接"],
        "open_type": "受限开放",
        "open_reason": "申请后开放",
        "grade": "L2",
        "items": [
            {"name": f"字段{i}", "column": f"f{i}", "data_type": "字符串", "length": 20}
            for i in range(items)
        ],
    } | over


def counts(session: Session) -> tuple[int, int]:
    session.expire_all()
    return (
        session.scalar(select(func.count()).select_from(Resource)) or 0,
        session.scalar(select(func.count()).select_from(Item)) or 0,
    )


def sheet_values(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    wb = load_workbook(io.BytesIO(data), read_only=True)
    out = {ws.title: list(ws.iter_rows(values_only=True)) for ws in wb.worksheets}
    wb.close()
    return out


def test_excel_round_trip_reproduces_the_catalog(session: Session, other_session: Session) -> None:
    for s in (session, other_session):
        gaj = make_org(s, "GAJ", name="示例市公安局")
        make_org(s, "MZJ", name="示例市民政局")
        make_system(s, gaj, "人口信息管理系统")
    gaj = session.scalar(select(service.Org).where(service.Org.code == "GAJ"))
    mzj = session.scalar(select(service.Org).where(service.Org.code == "MZJ"))
    system = session.scalar(select(service.System))
    pop = make_resource(session, gaj, publish=True, system_id=system.id, keywords="人口、户籍")
    make_resource(
        session,
        gaj,
        publish=True,
        name="户籍迁移信息",
        related_codes=[pop.code],
        release_date="2025-06-30",
        share_methods=["系统对接", "下载"],
    )
    make_resource(
        session,
        mzj,
        publish=True,
        name="婚姻登记信息",
        share_type="不予共享",
        share_condition=None,
        share_basis="《婚姻登记条例》第十八条",
        share_methods=[],
        grade="L4",
        items=[
            {
                "name": "登记证字号",
                "column": "djzzh",
                "length": 40,
                "is_key": True,
                "description": "结婚证或离婚证字号",
            }
        ],
    )
    first = transfer.to_xlsx(transfer.export_records(session, ADMIN))
    report = import_catalog(other_session, ADMIN, first, "catalog.xlsx", publish=True)
    assert (report.created, report.items) == (3, 7)
    second = transfer.to_xlsx(transfer.export_records(other_session, ADMIN))
    assert sheet_values(first) == sheet_values(second)
    # CSV round trip (UTF-8 with BOM) reproduces it too.
    csv_bytes = transfer.to_csv(transfer.export_records(session, ADMIN))
    assert csv_bytes.startswith(b"\xef\xbb\xbf")
    assert csv_bytes == transfer.to_csv(transfer.export_records(other_session, ADMIN))
    # Codes were adopted, so the counter moved past them and is never reused.
    other_gaj = other_session.scalar(select(service.Org).where(service.Org.code == "GAJ"))
    fresh = make_resource(other_session, other_gaj, name="新资源")
    assert fresh.code == "JC-GAJ-000003"
    assert search.search(other_session, ADMIN, q="婚姻登记").total == 1


def test_one_bad_row_among_5000_writes_nothing(session: Session) -> None:
    make_org(session, "GAJ", name="示例市公安局")
    records = [record(n) for n in range(500)]  # 500 resources, 5,000 item rows
    records[321]["items"][4]["data_type"] = "字符"  # one bad cell
    data = transfer.to_xlsx(records)
    before = counts(session)
    with pytest.raises(ImportFailed) as exc:
        import_catalog(session, ADMIN, data, "bad.xlsx")
    issues = exc.value.issues
    assert exc.value.total == 1 and len(issues) == 1
    issue = issues[0]
    assert (issue.sheet, issue.row, issue.letter, issue.column) == (
        "数据项",
        321 * 10 + 4 + 2,
        "F",
        "数据类型",
    )
    assert "第 3216 行 F 列" in issue.text() and "取值应为" in issue.text()
    assert counts(session) == before
    records[321]["items"][4]["data_type"] = "字符串"
    report = import_catalog(
        session, officer(session.scalar(select(service.Org))), transfer.to_xlsx(records), "ok.xlsx"
    )
    assert (report.created, report.items) == (500, 5000)
    assert counts(session) == (500, 5000)
    assert search.search(session, ADMIN, q="测试资源321").resources[0].name == "测试资源321"


def test_rule_errors_are_reported_per_row_and_cell(session: Session) -> None:
    make_org(session, "GAJ", name="示例市公安局", short_name="市公安局")
    make_org(session, "MZJ", name="示例市民政局")
    records = [
        record(1, share_type="有条件共享"),  # no condition
        record(2, grade="L4", open_type="受限开放"),
        record(3, name="市公安局测试资源"),
        record(4, org="NOPE"),
        record(5, org="MZJ"),  # officer of GAJ may not import for MZJ
        record(6),
    ]
    records[5]["items"][1]["column"] = "select"
    gaj = session.scalar(select(service.Org).where(service.Org.code == "GAJ"))
    with pytest.raises(ImportFailed) as exc:
        import_catalog(session, officer(gaj), transfer.to_xlsx(records), "x.xlsx")
    texts = [i.text() for i in exc.value.issues]
    assert any("第 2 行" in t and "共享条件" in t for t in texts), texts
    assert any("第 3 行" in t and "L4" in t for t in texts)
    assert any("第 4 行" in t and "不应以部门名称" in t for t in texts)
    assert any("第 5 行" in t and "部门编码 NOPE 不存在" in t for t in texts)
    assert any("第 6 行" in t and "无权为部门 MZJ" in t for t in texts)
    assert any(t.startswith("「数据项」第 53 行") and "保留字" in t for t in texts)
    assert counts(session) == (0, 0)


def test_wrong_column_order_maps_by_header(session: Session) -> None:
    make_org(session, "GAJ", name="示例市公安局")
    data = transfer.to_xlsx([record(1), record(2, items=3)])
    wb = load_workbook(io.BytesIO(data))
    shuffled = Workbook()
    shuffled.remove(shuffled.active)
    for ws in wb.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        order = list(reversed(range(len(rows[0]))))
        out = shuffled.create_sheet(ws.title)
        for row in rows:
            out.append([row[i] for i in order])
    buf = io.BytesIO()
    shuffled.save(buf)
    report = import_catalog(session, ADMIN, buf.getvalue(), "reordered.xlsx")
    assert (report.created, report.items) == (2, 13)
    spec = service.resource_spec_by_code(
        session, report.codes[0] if report.codes else "BM-GAJ-000001"
    )
    assert spec.columns[:3] == ["f0", "f1", "f2"] and spec.grade == "L2"


def _hostile_files() -> dict[str, tuple[str, bytes, str]]:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (60 * 1024 * 1024))
    merged = Workbook()
    ws = merged.active
    ws.title = "数据资源"
    ws.append(["资源名称", None, "所属领域", "更新周期", "共享类型", "开放类型", "分级"])
    ws.merge_cells("A1:B1")
    ws.append(["甲", "", "公共安全", "每日", "无条件共享", "受限开放", "L2"])
    merged_buf = io.BytesIO()
    merged.save(merged_buf)
    missing = Workbook()
    missing.active.title = "Sheet1"
    missing_buf = io.BytesIO()
    missing.save(missing_buf)
    return {
        "bomb": ("bomb.xlsx", bomb.getvalue(), "压缩炸弹"),
        "txt": ("notes.xlsx", "这其实是一个文本文件\n".encode(), "不是有效的 Excel"),
        "xls": ("old.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "另存为 .xlsx"),
        "broken_zip": ("broken.xlsx", b"PK\x03\x04garbage", "已损坏"),
        "merged": ("merged.xlsx", merged_buf.getvalue(), "合并单元格（A1:B1）"),
        "no_sheet": ("empty.xlsx", missing_buf.getvalue(), "缺少工作表「数据资源」"),
        "exe": ("tool.exe", b"MZ\x90\x00", "只支持 .xlsx 或 .csv"),
        "binary_csv": ("data.csv", b"\x00\x01\x02\x03" * 100, "不是文本格式"),
    }


@pytest.mark.parametrize("case", sorted(_hostile_files()))
def test_hostile_files_get_clear_errors_never_500(
    client: TestClient, session: Session, case: str
) -> None:
    filename, data, expected = _hostile_files()[case]
    make_user(session, "boss", role="admin")
    csrf = login(client, "boss", PASSWORD)
    resp = client.post("/api/v1/catalog/import", files={"file": (filename, data)})
    assert resp.status_code == 422, resp.text
    assert expected in resp.json()["error"]["message"]
    page = client.post(
        "/catalog/import", files={"file": (filename, data)}, data={"csrf_token": csrf}
    )
    assert page.status_code == 422 and expected in page.text
    assert counts(session) == (0, 0)


def test_gbk_csv_imports(client: TestClient, session: Session) -> None:
    gaj = make_org(session, "GAJ", name="示例市公安局")
    make_user(session, "gaj_off", org=gaj)
    csv_text = transfer.to_csv([record(1, items=3), record(2, items=2, summary="含“引号”与，逗号")])
    gbk = csv_text.decode("utf-8-sig").encode("gbk")
    login(client, "gaj_off", PASSWORD)
    resp = client.post("/api/v1/catalog/import", files={"file": ("目录.csv", gbk)})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"created": 2, "updated": 0, "items": 5, "dry_run": False}
    spec = service.resource_spec_by_code(session, "BM-GAJ-000002")
    assert spec.summary == "含“引号”与，逗号" and spec.status == "draft"
    # Re-importing the same codes overwrites the drafts instead of duplicating them.
    again = transfer.to_csv(transfer.export_records(session, ADMIN, org_id=gaj.id))
    resp = client.post("/api/v1/catalog/import", files={"file": ("again.csv", again)})
    assert resp.json()["updated"] == 2 and counts(session) == (2, 5)


def test_fifty_thousand_rows(session: Session) -> None:
    make_org(session, "GAJ", name="示例市公安局")
    records = [record(n, items=20) for n in range(2500)]  # 50,000 item rows
    data = transfer.to_xlsx(records)
    # Timing belongs to benchmarks, not tests (docs/development.md); this checks that a
    # 50,000-row sheet imports completely in one pass.
    report = import_catalog(session, ADMIN, data, "big.xlsx")
    assert (report.created, report.items) == (2500, 50000)
    assert counts(session) == (2500, 50000)


def test_dcat_export_parses_as_json_ld(client: TestClient, session: Session) -> None:
    from rdflib import Graph, Literal, Namespace, URIRef
    from rdflib.namespace import DCAT, DCTERMS, RDF

    gaj = make_org(session, "GAJ", name="示例市公安局")
    make_resource(session, gaj, publish=True, keywords="人口、户籍")
    make_resource(
        session,
        gaj,
        publish=True,
        name="空气质量监测信息",
        grade="L1",
        open_type="无条件开放",
        open_reason=None,
        update_cycle="实时",
        items=[{"name": "空气质量指数", "column": "aqi", "data_type": "整数"}],
    )
    make_user(session, "boss", role="admin")
    login(client, "boss", PASSWORD)
    resp = client.get("/api/v1/catalog/export", params={"format": "jsonld"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith(
        "application/ld+json"
    )
    g = Graph().parse(data=resp.text, format="json-ld")
    datasets = list(g.subjects(RDF.type, DCAT.Dataset))
    assert len(datasets) == 2
    assert len(list(g.subjects(RDF.type, DCAT.Catalog))) == 1
    titles = {str(t) for t in g.objects(None, DCTERMS.title)}
    assert {"人口基本信息", "空气质量监测信息"} <= titles
    assert Literal("人口基本信息", lang="zh") in set(g.objects(None, DCTERMS.title))
    freq = {str(o) for o in g.objects(None, DCTERMS.accrualPeriodicity)}
    eu = "http://publications.europa.eu/resource/authority/"
    assert freq == {eu + "frequency/DAILY", eu + "frequency/CONT"}
    rights = {str(o) for o in g.objects(None, DCTERMS.accessRights)}
    assert eu + "access-right/PUBLIC" in rights and eu + "access-right/NON_PUBLIC" in rights
    assert {str(k) for k in g.objects(None, DCAT.keyword)} >= {"人口", "户籍"}
    csvw = Namespace("http://www.w3.org/ns/csvw#")
    assert Literal("aqi") in set(g.objects(None, csvw.name))
    assert any(isinstance(p, URIRef) for p in g.objects(None, DCTERMS.publisher))
    json.loads(resp.text)  # plain JSON as well
    # Excel and CSV exports download with the right types; the template too.
    xlsx = client.get("/api/v1/catalog/export", params={"format": "xlsx"})
    assert sheet_values(xlsx.content)["数据资源"][1][1] in {"人口基本信息", "空气质量监测信息"}
    csv_resp = client.get("/api/v1/catalog/export", params={"format": "csv"})
    assert csv_resp.content.startswith(b"\xef\xbb\xbf")
    tpl = client.get("/catalog/template.xlsx")
    assert set(sheet_values(tpl.content)) == {"数据资源", "数据项", "填写说明"}
