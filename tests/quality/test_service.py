"""Rules, runs through the real load pipeline (the quality gate), the cache, scores and
the problem closed loop: found → sent → rectified → closed, and rectified → reopened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongshu.audit.models import AuditRecord
from gongshu.auth.principal import Principal
from gongshu.config import Settings
from gongshu.errors import Conflict, NotFound, ValidationFailed
from gongshu.ingest import service as ingest
from gongshu.quality import service
from gongshu.quality.models import Problem, Rule
from gongshu.quality.schemas import RuleIn, RuleUpdate
from gongshu.warehouse import table_name_for
from gongshu.workdays import WorkCalendar
from tests.catalog.helpers import make_resource
from tests.conftest import login
from tests.factories import PASSWORD, make_org, make_user
from tests.quality.conftest import ric

ITEMS: list[dict[str, Any]] = [
    {
        "name": "公民身份号码",
        "column": "gmsfhm",
        "data_type": "字符串",
        "length": 18,
        "data_element": "公民身份号码",
        "is_key": True,
        "is_sensitive": True,
        "masking": "id_number",
    },
    {"name": "姓名", "column": "xm", "data_type": "字符串", "length": 50, "data_element": "姓名"},
    {
        "name": "性别",
        "column": "xb",
        "data_type": "字符串",
        "length": 1,
        "data_element": "性别代码",
    },
    {"name": "出生日期", "column": "csrq", "data_type": "日期", "data_element": "出生日期"},
]
GOOD = [
    (ric("330106", "19850203", 12), "李四", "2", "1985-02-03"),
    (ric("330106", "19900101", 11), "王五", "1", "1990-01-01"),
    (ric("330106", "19700101", 21), "赵六", "1", "1970-01-01"),
    (ric("330106", "20000101", 31), "钱七", "1", "2000-01-01"),
]


def _bad_check(value: str) -> str:
    return value[:17] + "0123456789X"[("0123456789X".index(value[17]) + 1) % 11]


def _csv(tmp: Path, name: str, rows: list[tuple[str, ...]]) -> Path:
    path = tmp / name
    lines = ["公民身份号码,姓名,性别,出生日期", *(",".join(r) for r in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


DIRTY = [*GOOD[:3], (_bad_check(GOOD[3][0]), *GOOD[3][1:])]


@pytest.fixture
def setup(client: TestClient, session: Session, settings: Settings) -> dict[str, Any]:
    org = make_org(session, "RKJ", name="人口局")
    user = make_user(session, "rk_officer", org=org)
    res = make_resource(session, org, publish=True, items=ITEMS)
    officer = Principal(kind="user", id=user.id, name=user.username, role="officer", org_id=org.id)
    return {
        "org": org,
        "res": res,
        "officer": officer,
        "wh": client.app.state.quality_wh,  # type: ignore[attr-defined]
        "settings": settings,
    }


def _load(session: Session, s: dict[str, Any], tmp: Path, name: str, rows: Any) -> Any:
    return ingest.ingest_file(
        session,
        s["officer"],
        s["res"].code,
        _csv(tmp, name, rows),
        wh=s["wh"],
        settings=s["settings"],
    )


def test_suggestions_from_elements_and_profile(
    session: Session, setup: dict[str, Any], tmp_path: Path
) -> None:
    s = setup
    assert _load(session, s, tmp_path, "a.csv", GOOD).status == "succeeded"
    rules = service.suggest_rules(session, s["officer"], s["res"].id, s["wh"])
    kinds = {(r.kind, r.column) for r in rules}
    assert ("ric", "gmsfhm") in kinds  # data element 公民身份号码 gets the ID rule
    assert ("unique", "gmsfhm") in kinds and ("not_null", "gmsfhm") in kinds
    assert ("enum", "xb") in kinds and ("chinese_name", "xm") in kinds
    assert ("id_birth_match", "csrq") in kinds and ("id_sex_match", "xb") in kinds
    assert ("freshness", None) in kinds and ("row_count", None) in kinds
    assert all(r.status == "suggested" for r in rules)
    again = service.suggest_rules(session, s["officer"], s["res"].id, s["wh"])
    assert again == []  # nothing suggested twice
    ric_rule = next(r for r in rules if r.kind == "ric")
    assert service.confirm_rule(session, s["officer"], ric_rule.id).status == "active"
    with pytest.raises(Conflict):
        service.confirm_rule(session, s["officer"], ric_rule.id)


def test_bad_rules_are_refused(session: Session, setup: dict[str, Any]) -> None:
    s = setup
    for kind, column, params in (
        ("regex", "xm", {"pattern": "("}),
        ("ric", "nope", {}),
        ("freshness", "xm", {}),
        ("nope", "xm", {}),
        ("id_sex_match", "xb", {"id_column": "missing"}),
    ):
        with pytest.raises(ValidationFailed):
            service.create_rule(
                session,
                s["officer"],
                RuleIn(resource_id=s["res"].id, column=column, kind=kind, params=params),
            )
    assert session.scalar(select(Rule.id)) is None


def test_closed_loop_through_loads(session: Session, setup: dict[str, Any], tmp_path: Path) -> None:
    s, officer = setup, setup["officer"]
    assert _load(session, s, tmp_path, "a.csv", GOOD).status == "succeeded"
    rule = service.create_rule(
        session,
        officer,
        RuleIn(resource_id=s["res"].id, column="gmsfhm", kind="ric", severity="warning"),
    )
    service.create_rule(
        session, officer, RuleIn(resource_id=s["res"].id, column="gmsfhm", kind="unique")
    )
    # 发现: the load's gate run finds the wrong check character (warning: it publishes)
    load = _load(session, s, tmp_path, "b.csv", DIRTY)
    assert load.status == "succeeded"
    run = service.list_runs(session, officer, resource_id=s["res"].id)[0][0]
    assert run.trigger == "load" and run.load_id == load.id and run.status == "failed"
    problem = session.scalar(select(Problem).where(Problem.rule_id == rule.id))
    assert problem is not None and problem.state == "sent"  # 反馈 with a deadline
    assert problem.deadline == WorkCalendar.load(session).add_working_days(
        service.local_today(), 10
    )
    assert problem.samples[0]["reason"] == "checksum"
    assert problem.samples[0]["key"] == {"gmsfhm": DIRTY[3][0]}
    assert problem.rows_failed == 1
    # a second run without new data is served from the stored results
    again = service.run_resource(session, officer, s["res"].id, wh=s["wh"])
    assert again.cached_from == run.id and again.queries == 1
    assert again.score == run.score
    # 整改 without fixing the source: the next run reopens it and counts an overdue
    service.rectify(session, officer, problem.id, "已在源系统核对")
    forced = service.run_resource(session, officer, s["res"].id, wh=s["wh"], force=True)
    assert forced.cached_from is None and forced.queries >= 2
    session.refresh(problem)
    assert problem.state == "sent" and problem.reopen_count == 1 and problem.overdue_count == 1
    # 整改 at the source, 评价 by the next load's run: closed as 已整改
    service.rectify(session, officer, problem.id, "已在源系统更正校验码并重新归集")
    assert _load(session, s, tmp_path, "c.csv", GOOD).status == "succeeded"
    session.refresh(problem)
    assert problem.state == "closed" and problem.closed_at is not None
    actions = [h["action"] for h in problem.history]
    assert actions == ["found", "sent", "rectified", "reopened", "sent", "rectified", "closed"]
    audited = session.scalars(
        select(AuditRecord.action).where(
            AuditRecord.object_type == "quality_problem",
            AuditRecord.object_id == str(problem.id),
        )
    ).all()
    assert [a.removeprefix("quality.problem.") for a in audited] == actions
    with pytest.raises(Conflict):
        service.rectify(session, officer, problem.id, "再次整改")


def test_blocking_rule_stops_publication(
    session: Session, setup: dict[str, Any], tmp_path: Path
) -> None:
    s, officer = setup, setup["officer"]
    assert _load(session, s, tmp_path, "a.csv", GOOD).status == "succeeded"
    service.create_rule(
        session,
        officer,
        RuleIn(resource_id=s["res"].id, column="gmsfhm", kind="ric", severity="blocking"),
    )
    load = _load(session, s, tmp_path, "b.csv", DIRTY)
    assert load.status == "failed"
    assert "居民身份证号码" in (load.error or "")
    wh = s["wh"]
    table = wh.table(table_name_for(s["res"].code))
    published = set(wh.execute(table.select("gmsfhm"))["gmsfhm"])
    assert published == {r[0] for r in GOOD}  # the old table stayed
    run = service.list_runs(session, officer, resource_id=s["res"].id)[0][0]
    assert run.status == "blocked"
    # a threshold above the failure rate lets it through
    rule = session.scalar(select(Rule))
    assert rule is not None
    service.update_rule(session, officer, rule.id, RuleUpdate(threshold=0.3))
    assert _load(session, s, tmp_path, "c.csv", DIRTY).status == "succeeded"


def test_objection_loop_and_visibility(
    client: TestClient, session: Session, setup: dict[str, Any]
) -> None:
    s = setup
    other = make_org(session, "YBJ", name="医保局")
    consumer = make_user(session, "yb_user", org=other)
    make_user(session, "yb_officer", org=other)
    login(client, "yb_user", PASSWORD)
    resp = client.post(
        "/api/v1/quality/objections",
        json={
            "resource_id": s["res"].id,
            "title": "姓名与户籍不一致",
            "description": "张三的姓名应为张叁",
            "evidence": {"gmsfhm": GOOD[0][0]},
        },
    )
    assert resp.status_code == 201, resp.text
    pid = resp.json()["id"]
    assert resp.json()["state"] == "sent" and resp.json()["deadline"]
    assert client.get(f"/api/v1/quality/problems/{pid}").status_code == 200
    # the owner's officer rectifies; the raiser rejects, then accepts
    officer = s["officer"]
    service.rectify(session, officer, pid, "已核实更正")
    assert (
        client.post(
            f"/api/v1/quality/problems/{pid}/evaluate", json={"accept": False, "note": "仍未更正"}
        ).json()["state"]
        == "sent"
    )
    service.rectify(session, officer, pid, "已再次更正")
    done = client.post(f"/api/v1/quality/problems/{pid}/evaluate", json={"accept": True})
    assert done.json()["state"] == "closed" and done.json()["overdue_count"] == 1
    client.post("/logout")
    client.cookies.clear()
    login(client, "yb_officer", PASSWORD)
    assert client.get(f"/api/v1/quality/problems/{pid}").status_code == 404
    assert client.get("/api/v1/quality/problems").json()["total"] == 0
    with pytest.raises(NotFound):
        service.get_problem(
            session,
            Principal(kind="user", id=consumer.id + 100, name="x", role="officer", org_id=other.id),
            pid,
        )


def test_overview_scores_and_report(
    client: TestClient, session: Session, setup: dict[str, Any], tmp_path: Path
) -> None:
    s, officer = setup, setup["officer"]
    _load(session, s, tmp_path, "a.csv", GOOD)
    for kind, column in (("ric", "gmsfhm"), ("unique", "gmsfhm"), ("chinese_name", "xm")):
        service.create_rule(
            session, officer, RuleIn(resource_id=s["res"].id, column=column, kind=kind)
        )
    _load(session, s, tmp_path, "b.csv", DIRTY)
    admin = Principal.system("test")
    data = service.overview(session, admin)
    assert data["orgs"][0]["org"] == "人口局" and data["orgs"][0]["score"] < 100
    assert set(data["dimensions"]) == {"准确性", "唯一性", "规范性"}
    assert data["trend"] and data["open_problems"] == 1
    login(client, "rk_officer", PASSWORD)
    month = service.local_today().strftime("%Y-%m")
    report = client.get("/api/v1/quality/report", params={"month": month}).json()
    assert report["rows"][0]["new"] == 1
    for fmt in ("xlsx", "html"):
        resp = client.get(f"/quality/report.{fmt}", params={"month": month})
        assert resp.status_code == 200, fmt
    assert "人口局" in client.get("/quality/report.html", params={"month": month}).text
    assert client.get("/quality").status_code == 200
    page = client.get(f"/quality/resources/{s['res'].id}")
    assert page.status_code == 200 and "校验码错误" in page.text
    problem = session.scalar(select(Problem))
    assert problem is not None
    html = client.get(f"/quality/problems/{problem.id}").text
    assert DIRTY[3][0] in html and 'class="fail-field"' in html
