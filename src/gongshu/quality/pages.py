"""Pages: overview, a resource's quality tab with the rule editor, problems, reports."""

from __future__ import annotations

import datetime as dt
import html
import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gongshu.errors import AppError, ValidationFailed
from gongshu.quality import kinds as K
from gongshu.quality import service
from gongshu.quality.router import warehouse
from gongshu.quality.schemas import ObjectionIn, RuleIn
from gongshu.quality.validators import REASONS
from gongshu.web.deps import DbSession, PagePrincipal
from gongshu.web.forms import FormData
from gongshu.web.templating import flash, render

router = APIRouter(include_in_schema=False)
Month = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")]


GROUP_REASONS = {
    "unique": "取值重复",
    "referential": "在被参照资源中不存在",
    "cross_source": "与另一资源中的值不一致",
    "date_range": "日期超出允许范围",
}


def reason_text(code: str | None) -> str:
    if not code:
        return ""
    return REASONS.get(code) or GROUP_REASONS.get(code, code)


def _labels() -> dict[str, Any]:
    return {
        "kind_labels": K.labels(),
        "states": service.STATE_LABELS,
        "severities": service.SEVERITY_LABELS,
        "rule_status": service.STATUS_LABELS,
        "run_labels": service.RUN_LABELS,
        "triggers": service.TRIGGER_LABELS,
        "reason_text": reason_text,
    }


@router.get("/quality", response_class=HTMLResponse)
def overview(request: Request, session: DbSession, principal: PagePrincipal) -> Any:
    data = service.overview(session, principal)
    chart = {
        "dimensions": data["dimensions"],
        "trend": data["trend"],
        "orgs": [[o["org"], o["score"]] for o in data["orgs"]],
    }
    return render(
        request,
        "quality/overview.html",
        {**data, "chart": json.dumps(chart, ensure_ascii=False), **_labels()},
        principal=principal,
        breadcrumbs=[("质量概览", None)],
    )


@router.get("/quality/resources/{resource_id}", response_class=HTMLResponse)
def resource_tab(
    resource_id: int, request: Request, session: DbSession, principal: PagePrincipal
) -> Any:
    return _resource_page(request, session, principal, resource_id)


def _resource_page(
    request: Request,
    session: Any,
    principal: Any,
    resource_id: int,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
) -> Any:
    spec = service.resource_for(session, principal, resource_id)
    rules = service.list_rules(session, principal, resource_id)
    run = service.latest_run(session, principal, resource_id)
    results = service.run_results(session, run) if run else []
    runs, _ = service.list_runs(session, principal, resource_id=resource_id, limit=10)
    return render(
        request,
        "quality/resource.html",
        {
            "spec": spec,
            "rules": rules,
            "suggested": [r for r in rules if r.status == "suggested"],
            "run": run,
            "results": results,
            "runs": runs,
            "kinds": list(K.kinds.items()),
            "dimensions": K.DIMENSION_NAMES,
            "can_write": principal.can_write_org(spec.owner_org_id),
            "error": error,
            "values": values or {},
            **_labels(),
        },
        principal=principal,
        breadcrumbs=[("质量概览", "/quality"), (spec.name, None)],
        status_code=422 if error else 200,
    )


@router.post("/quality/resources/{resource_id}/run")
def run_now(
    resource_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    service.resource_for(session, principal, resource_id)  # 404 before anything else
    try:
        run = service.run_resource(
            session, principal, resource_id, wh=warehouse(request), force=form.get("force") == "1"
        )
    except AppError as exc:
        session.rollback()
        flash(request, exc.message, "error")
    else:
        note = f"（沿用第 {run.cached_from} 次结果）" if run.cached_from else ""
        flash(request, f"质检完成：{service.RUN_LABELS[run.status]}，得分 {run.score}{note}")
    return RedirectResponse(f"/quality/resources/{resource_id}", status_code=303)


@router.post("/quality/resources/{resource_id}/suggest")
def suggest(
    resource_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    service.resource_for(session, principal, resource_id)  # 404 before anything else
    try:
        rules = service.suggest_rules(session, principal, resource_id, warehouse(request))
    except AppError as exc:
        session.rollback()
        flash(request, exc.message, "error")
    else:
        flash(request, f"生成 {len(rules)} 条建议规则，请逐条确认")
    return RedirectResponse(f"/quality/resources/{resource_id}#rules", status_code=303)


@router.post("/quality/resources/{resource_id}/rules", response_class=HTMLResponse)
def rule_create(
    resource_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    service.resource_for(session, principal, resource_id)  # 404 before anything else
    try:
        try:
            params = json.loads(form.get("params") or "{}")
        except ValueError:
            raise ValidationFailed('参数须为 JSON 对象，如 {"min_length": 6}') from None
        if not isinstance(params, dict):
            raise ValidationFailed("参数须为 JSON 对象")
        data = RuleIn(
            resource_id=resource_id,
            column=form.get("column") or None,
            kind=form.get("kind", ""),
            name=form.get("name") or None,
            dimension=form.get("dimension") or None,
            params=params,
            severity="blocking" if form.get("severity") == "blocking" else "warning",
            threshold=_rate(form.get("threshold")),
        )
        service.create_rule(session, principal, data)
    except AppError as exc:
        session.rollback()
        return _resource_page(
            request, session, principal, resource_id, error=exc.message, values=form
        )
    flash(request, "已添加规则")
    return RedirectResponse(f"/quality/resources/{resource_id}#rules", status_code=303)


def _rate(text: str | None) -> float:
    if not text:
        return 0.0
    try:
        value = float(text.strip().rstrip("%")) / (100 if "%" in text else 1)
    except ValueError:
        raise ValidationFailed("允许失败率须为 0–1 的小数或百分数") from None
    if not 0 <= value <= 1:
        raise ValidationFailed("允许失败率须在 0 到 1 之间")
    return value


def _rule_action(rule_id: int, action: str, request: Request, session: Any, principal: Any) -> Any:
    rule = service.get_rule(session, principal, rule_id)
    resource_id = rule.resource_id
    try:
        if action == "confirm":
            service.confirm_rule(session, principal, rule_id)
            flash(request, "已确认规则")
        else:
            service.delete_rule(session, principal, rule_id)
            flash(request, "已删除规则")
    except AppError as exc:
        session.rollback()
        flash(request, exc.message, "error")
    return RedirectResponse(f"/quality/resources/{resource_id}#rules", status_code=303)


@router.post("/quality/rules/{rule_id}/confirm")
def rule_confirm(
    rule_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    return _rule_action(rule_id, "confirm", request, session, principal)


@router.post("/quality/rules/{rule_id}/delete")
def rule_delete(
    rule_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    return _rule_action(rule_id, "delete", request, session, principal)


@router.get("/quality/problems", response_class=HTMLResponse)
def problem_board(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    state: Annotated[str | None, Query(max_length=12)] = None,
) -> Any:
    rows, total = service.list_problems(session, principal, limit=500)
    columns = {s: [p for p in rows if p.state == s] for s in service.STATE_LABELS}
    if state in columns:
        columns = {state: columns[state]}
    return render(
        request,
        "quality/problems.html",
        {
            "columns": columns,
            "total": total,
            "is_overdue": service.is_overdue,
            "today": service.local_today(),
            **_labels(),
        },
        principal=principal,
        breadcrumbs=[("数据问题", None)],
    )


@router.get("/quality/problems/{problem_id}", response_class=HTMLResponse)
def problem_detail(
    problem_id: int, request: Request, session: DbSession, principal: PagePrincipal
) -> Any:
    p = service.get_problem(session, principal, problem_id)
    return render(
        request,
        "quality/problem.html",
        {
            "p": p,
            "overdue": service.is_overdue(p),
            "can_write": principal.can_write_org(p.org_id),
            "can_evaluate": p.source == "objection"
            and (principal.is_admin or principal.id == p.raiser_user_id),
            **_labels(),
        },
        principal=principal,
        breadcrumbs=[("数据问题", "/quality/problems"), (f"#{p.id} {p.title}", None)],
    )


def _problem_action(
    problem_id: int, action: str, request: Request, session: Any, principal: Any, form: Any
) -> Any:
    service.get_problem(session, principal, problem_id)
    try:
        if action == "rectify":
            service.rectify(session, principal, problem_id, form.get("note", ""))
            flash(request, "已标记整改，等待下一次质检复核")
        elif action == "dispatch":
            service.dispatch(session, principal, problem_id)
            flash(request, "已下发")
        elif action in ("accept", "reject"):
            service.evaluate_objection(
                session, principal, problem_id, action == "accept", form.get("note") or None
            )
            flash(request, "已评价")
        else:  # recheck
            p = service.get_problem(session, principal, problem_id)
            service.run_resource(session, principal, p.resource_id, wh=warehouse(request))
            session.refresh(p)
            flash(request, f"复检完成：{service.STATE_LABELS[p.state]}")
    except AppError as exc:
        session.rollback()
        flash(request, exc.message, "error")
    return RedirectResponse(f"/quality/problems/{problem_id}", status_code=303)


def _problem_route(action: str) -> None:
    def handler(
        problem_id: int,
        request: Request,
        session: DbSession,
        principal: PagePrincipal,
        form: FormData,
    ) -> Any:
        return _problem_action(problem_id, action, request, session, principal, form)

    handler.__name__ = f"problem_{action}"
    router.post(f"/quality/problems/{{problem_id}}/{action}")(handler)


for _action in ("rectify", "dispatch", "accept", "reject", "recheck"):
    _problem_route(_action)


@router.get("/quality/objections/new", response_class=HTMLResponse)
def objection_form(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    resource_id: int | None = None,
) -> Any:
    return render(
        request,
        "quality/objection.html",
        {"values": {"resource_id": str(resource_id or "")}, "error": None},
        principal=principal,
        breadcrumbs=[("数据问题", "/quality/problems"), ("提出数据异议", None)],
    )


@router.post("/quality/objections/new", response_class=HTMLResponse)
def objection_create(
    request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    try:
        try:
            rid = int(form.get("resource_id", ""))
        except ValueError:
            raise ValidationFailed("请填写资源编号") from None
        evidence = {"sample": form["sample"]} if form.get("sample") else {}
        p = service.raise_objection(
            session,
            principal,
            ObjectionIn(
                resource_id=rid,
                title=form.get("title", ""),
                description=form.get("description", ""),
                evidence=evidence,
                column=form.get("column") or None,
            ),
        )
    except (AppError, ValueError) as exc:
        session.rollback()
        message = (
            exc.message if isinstance(exc, AppError) else "请填写标题和异议内容（至少 2 个字）"
        )
        return render(
            request,
            "quality/objection.html",
            {"values": form, "error": message},
            principal=principal,
            breadcrumbs=[("数据问题", "/quality/problems"), ("提出数据异议", None)],
            status_code=422,
        )
    flash(request, "数据异议已提交，已转资源提供部门处理")
    return RedirectResponse(f"/quality/problems/{p.id}", status_code=303)


def _month(month: str | None) -> dt.date:
    if month:
        return dt.date.fromisoformat(month + "-01")
    return service.local_today().replace(day=1)


@router.get("/quality/report", response_class=HTMLResponse)
def report_page(
    request: Request, session: DbSession, principal: PagePrincipal, month: Month = None
) -> Any:
    data = service.monthly_report(session, principal, _month(month))
    return render(
        request,
        "quality/report.html",
        {"r": data, "standalone": False, **_labels()},
        principal=principal,
        breadcrumbs=[("质量报告", None)],
    )


@router.get("/quality/report.html", response_class=HTMLResponse)
def report_html(
    request: Request, session: DbSession, principal: PagePrincipal, month: Month = None
) -> Any:
    data = service.monthly_report(session, principal, _month(month))
    body = _standalone(data)
    name = f"quality-report-{data['month']}.html"
    return HTMLResponse(body, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/quality/report.xlsx")
def report_xlsx(session: DbSession, principal: PagePrincipal, month: Month = None) -> Any:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    data = service.monthly_report(session, principal, _month(month))
    wb = Workbook()
    ws = wb.active
    ws.title = "部门评分"
    head = [
        "部门",
        "综合得分",
        *data["dimensions"],
        "资源数",
        "新增问题",
        "关闭问题",
        "未关闭",
        "逾期次数",
        "数据异议",
    ]
    ws.append(head)
    for row in data["rows"]:
        ws.append(
            [
                row["org"],
                row["score"],
                *[row["dimensions"].get(d) for d in data["dimensions"]],
                row["resources"],
                row["new"],
                row["closed"],
                row["open"],
                row["overdue"],
                row["objections"],
            ]
        )
    ws2 = wb.create_sheet("问题清单")
    ws2.append(["编号", "部门", "资源", "问题", "维度", "状态", "整改期限", "失败行数", "逾期次数"])
    for p in data["problems"]:
        ws2.append(
            [
                p.id,
                data["org_names"].get(p.org_id, ""),
                p.resource_name,
                p.title,
                p.dimension or "",
                service.STATE_LABELS.get(p.state, p.state),
                p.deadline.isoformat() if p.deadline else "",
                p.rows_failed,
                p.overdue_count,
            ]
        )
    for sheet in (ws, ws2):
        for cell in sheet[1]:
            cell.font = Font(bold=True)
    buf = io.BytesIO()
    wb.save(buf)
    name = f"quality-report-{data['month']}.xlsx"
    return Response(
        buf.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _standalone(data: dict[str, Any]) -> str:
    """The monthly report as one self-contained HTML file (no external assets)."""
    e = html.escape
    dims = data["dimensions"]
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{e(str(v))}</td>"
            for v in [
                r["org"],
                r["score"] if r["score"] is not None else "-",
                *[r["dimensions"].get(d, "-") for d in dims],
                r["resources"],
                r["new"],
                r["closed"],
                r["open"],
                r["overdue"],
                r["objections"],
            ]
        )
        + "</tr>"
        for r in data["rows"]
    )
    problems = "".join(
        f"<tr><td>{p.id}</td><td>{e(data['org_names'].get(p.org_id, ''))}</td>"
        f"<td>{e(p.resource_name)}</td><td>{e(p.title)}</td>"
        f"<td>{e(service.STATE_LABELS.get(p.state, p.state))}</td>"
        f"<td>{p.deadline or ''}</td><td>{p.overdue_count}</td></tr>"
        for p in data["problems"]
    )
    head = "".join(
        f"<th>{e(h)}</th>"
        for h in [
            "部门",
            "综合得分",
            *dims,
            "资源数",
            "新增问题",
            "关闭问题",
            "未关闭",
            "逾期次数",
            "数据异议",
        ]
    )
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>数据质量月报 {e(data["month"])}</title>
<style>body{{font-family:sans-serif;margin:24px}}table{{border-collapse:collapse;margin-bottom:24px}}
td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px}}th{{background:#f3f4f6}}</style></head>
<body><h1>数据质量月报（{e(data["month"])}）</h1>
<p>得分 0–100：规则得分 = 100 ×（1 − 失败率），超过允许失败率的规则最高 60 分；维度得分为规则得分的加权平均（阻断规则权重 2）；资源得分为各维度平均；部门得分按资源数据量加权（1 + log10(1 + 行数)）。</p>
<h2>各部门评分</h2><table><tr>{head}</tr>{rows}</table>
<h2>问题清单</h2><table><tr><th>编号</th><th>部门</th><th>资源</th><th>问题</th><th>状态</th><th>整改期限</th><th>逾期次数</th></tr>{problems}</table>
</body></html>"""
