"""JSON API: rules, suggestions, runs, scores and problems."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Query, Request, status
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from gongshu.errors import ValidationFailed
from gongshu.quality import kinds as K
from gongshu.quality import service
from gongshu.quality.schemas import (
    EvaluateIn,
    ObjectionIn,
    ProblemOut,
    RectifyIn,
    ResultOut,
    RuleIn,
    RuleOut,
    RuleUpdate,
    RunDetail,
    RunOut,
    RunRequest,
)
from gongshu.warehouse import Warehouse, shared
from gongshu.web.deps import ApiPrincipal, DbSession, PageParams
from gongshu.web.i18n import validation_message

M = TypeVar("M", bound=BaseModel)

router = APIRouter(prefix="/api/v1/quality", tags=["数据质量"])
# Bodies checked after the object's visibility, so another org's id is 404, never 422.
JsonBody = Annotated[dict[str, Any] | None, Body()]


def _parse(schema: type[M], body: dict[str, Any] | None) -> M:
    try:
        return schema.model_validate(body or {})
    except PydanticError as exc:
        raise ValidationFailed(validation_message(exc.errors())) from None


def warehouse(request: Request) -> Warehouse:
    wh = getattr(request.app.state, "quality_wh", None)
    return wh if wh is not None else shared(request.app.state.settings.warehouse_url)


def problem_out(p: Any) -> ProblemOut:
    out = ProblemOut.model_validate(p)
    out.overdue = service.is_overdue(p)
    return out


@router.get("/kinds", summary="规则类型与质量维度")
def list_kinds(principal: ApiPrincipal) -> dict[str, Any]:
    return {
        "dimensions": list(K.DIMENSION_NAMES),
        "kinds": [
            {
                "name": n,
                "label": k.label,
                "level": k.level,
                "dimension": k.dimension,
                "needs_column": k.needs_column,
            }
            for n, k in K.kinds.items()
        ],
    }


@router.get(
    "/resources/{resource_id}/rules", response_model=list[RuleOut], summary="资源的质量规则"
)
def list_rules(
    resource_id: int,
    session: DbSession,
    principal: ApiPrincipal,
    status_: Annotated[str | None, Query(alias="status", max_length=12)] = None,
) -> object:
    return service.list_rules(session, principal, resource_id, status=status_)


@router.post(
    "/resources/{resource_id}/suggest", response_model=list[RuleOut], summary="生成建议规则"
)
def suggest(
    resource_id: int, request: Request, session: DbSession, principal: ApiPrincipal
) -> object:
    return service.suggest_rules(session, principal, resource_id, warehouse(request))


@router.post(
    "/rules", response_model=RuleOut, status_code=status.HTTP_201_CREATED, summary="新建规则"
)
def create_rule(body: RuleIn, session: DbSession, principal: ApiPrincipal) -> object:
    return service.create_rule(session, principal, body)


@router.get("/rules/{rule_id}", response_model=RuleOut, summary="规则详情")
def get_rule(rule_id: int, session: DbSession, principal: ApiPrincipal) -> object:
    return service.get_rule(session, principal, rule_id)


@router.patch("/rules/{rule_id}", response_model=RuleOut, summary="修改规则")
def update_rule(
    rule_id: int, body: RuleUpdate, session: DbSession, principal: ApiPrincipal
) -> object:
    return service.update_rule(session, principal, rule_id, body)


@router.post("/rules/{rule_id}/confirm", response_model=RuleOut, summary="确认建议规则")
def confirm_rule(rule_id: int, session: DbSession, principal: ApiPrincipal) -> object:
    return service.confirm_rule(session, principal, rule_id)


@router.delete("/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, summary="删除规则")
def delete_rule(rule_id: int, session: DbSession, principal: ApiPrincipal) -> None:
    service.delete_rule(session, principal, rule_id)


@router.post("/resources/{resource_id}/runs", response_model=RunDetail, summary="立即质检")
def run_now(
    resource_id: int,
    request: Request,
    session: DbSession,
    principal: ApiPrincipal,
    body: RunRequest | None = None,
) -> object:
    run = service.run_resource(
        session, principal, resource_id, wh=warehouse(request), force=bool(body and body.force)
    )
    return _detail(session, run)


def _detail(session: Any, run: Any) -> RunDetail:
    base = RunOut.model_validate(run).model_dump()
    results = [ResultOut.model_validate(r) for r in service.run_results(session, run)]
    return RunDetail(**base, results=results)


@router.get("/runs", summary="质检记录")
def list_runs(
    session: DbSession,
    principal: ApiPrincipal,
    paging: PageParams,
    resource_id: int | None = None,
) -> dict[str, object]:
    rows, total = service.list_runs(
        session, principal, resource_id=resource_id, offset=paging.offset, limit=paging.size
    )
    return {"total": total, "items": [RunOut.model_validate(r) for r in rows]}


@router.get("/runs/{run_id}", response_model=RunDetail, summary="质检详情（含样例）")
def get_run(run_id: int, session: DbSession, principal: ApiPrincipal) -> object:
    return _detail(session, service.get_run(session, principal, run_id))


@router.get("/overview", summary="质量概览：评分、维度、趋势")
def overview(session: DbSession, principal: ApiPrincipal) -> dict[str, Any]:
    data = service.overview(session, principal)
    data["worst"] = [RunOut.model_validate(r) for r in data["worst"]]
    return data


@router.get("/report", summary="月度质量报告（JSON）")
def report(
    session: DbSession,
    principal: ApiPrincipal,
    month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")],
) -> dict[str, Any]:
    data = service.monthly_report(session, principal, _month(month))
    data["problems"] = [problem_out(p) for p in data["problems"]]
    data.pop("org_names")
    return data


def _month(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text + "-01")
    except ValueError:
        raise ValidationFailed("月份格式应为 YYYY-MM") from None


@router.get("/problems", summary="数据问题列表")
def list_problems(
    session: DbSession,
    principal: ApiPrincipal,
    paging: PageParams,
    state: Annotated[str | None, Query(max_length=12)] = None,
    resource_id: int | None = None,
    overdue: bool = False,
) -> dict[str, object]:
    rows, total = service.list_problems(
        session,
        principal,
        state=state,
        resource_id=resource_id,
        overdue=overdue,
        offset=paging.offset,
        limit=paging.size,
    )
    return {"total": total, "items": [problem_out(p) for p in rows]}


@router.get("/problems/{problem_id}", response_model=ProblemOut, summary="数据问题详情")
def get_problem(problem_id: int, session: DbSession, principal: ApiPrincipal) -> object:
    return problem_out(service.get_problem(session, principal, problem_id))


@router.post("/problems/{problem_id}/dispatch", response_model=ProblemOut, summary="下发（反馈）")
def dispatch(
    problem_id: int,
    session: DbSession,
    principal: ApiPrincipal,
    days: Annotated[int | None, Query(ge=1, le=60)] = None,
) -> object:
    return problem_out(service.dispatch(session, principal, problem_id, days))


@router.post("/problems/{problem_id}/rectify", response_model=ProblemOut, summary="标记已整改")
def rectify(
    problem_id: int, session: DbSession, principal: ApiPrincipal, body: JsonBody = None
) -> object:
    service.get_problem(session, principal, problem_id)  # 404 before any body check
    data = _parse(RectifyIn, body)
    return problem_out(service.rectify(session, principal, problem_id, data.note))


@router.post(
    "/problems/{problem_id}/evaluate", response_model=ProblemOut, summary="评价数据异议的整改"
)
def evaluate(
    problem_id: int, session: DbSession, principal: ApiPrincipal, body: JsonBody = None
) -> object:
    service.get_problem(session, principal, problem_id)  # 404 before any body check
    data = _parse(EvaluateIn, body)
    return problem_out(
        service.evaluate_objection(session, principal, problem_id, data.accept, data.note)
    )


@router.post(
    "/objections",
    response_model=ProblemOut,
    status_code=status.HTTP_201_CREATED,
    summary="提出数据异议",
)
def objection(body: ObjectionIn, session: DbSession, principal: ApiPrincipal) -> object:
    return problem_out(service.raise_objection(session, principal, body))
