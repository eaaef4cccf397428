"""JSON API of the cockpit."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from gongshu.auth.principal import Role
from gongshu.cockpit import alerts, report, screen, service
from gongshu.cockpit.schemas import (
    AlertAction,
    AlertAssign,
    AlertClose,
    AlertOut,
    IndicatorIn,
    IndicatorOut,
    IndicatorUpdate,
    WebhookIn,
    WebhookOut,
)
from gongshu.errors import ValidationFailed
from gongshu.warehouse import shared
from gongshu.web.deps import ApiPrincipal, DbSession, PageParams

router = APIRouter(prefix="/api/v1/cockpit", tags=["城市驾驶舱"])


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    codes: list[str] | None = Field(None, max_length=500)
    full: bool = False


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: dt.date


@router.get("/indicators", response_model=list[IndicatorOut], summary="指标列表")
def list_indicators(
    session: DbSession,
    principal: ApiPrincipal,
    topic: Annotated[str | None, Query(max_length=16)] = None,
) -> Any:
    return service.list_indicators(session, principal, topic=topic)


@router.post(
    "/indicators",
    response_model=IndicatorOut,
    status_code=status.HTTP_201_CREATED,
    summary="新建指标（受限 SQL 定义）",
)
def create_indicator(body: IndicatorIn, session: DbSession, principal: ApiPrincipal) -> Any:
    return service.create_indicator(session, principal, body)


@router.get("/indicators/{indicator_code}", response_model=IndicatorOut, summary="指标详情")
def get_indicator(indicator_code: str, session: DbSession, principal: ApiPrincipal) -> Any:
    return service.get_indicator(session, principal, indicator_code)


@router.patch("/indicators/{indicator_code}", response_model=IndicatorOut, summary="修改指标")
def update_indicator(
    indicator_code: str, body: IndicatorUpdate, session: DbSession, principal: ApiPrincipal
) -> Any:
    return service.update_indicator(session, principal, indicator_code, body)


@router.get("/indicators/{indicator_code}/values", summary="指标时间序列")
def indicator_values(
    indicator_code: str,
    session: DbSession,
    principal: ApiPrincipal,
    periods: Annotated[int, Query(ge=1, le=5000)] = 400,
) -> dict[str, Any]:
    ind = service.get_indicator(session, principal, indicator_code)
    s = service.history(session, ind, periods=periods)
    return {
        "code": ind.code,
        "unit": ind.unit,
        "values": [{"period": p.isoformat(), "value": float(v)} for p, v in s.items()],
        "forecast": [
            {
                "period": f.period.isoformat(),
                "forecast": f.forecast,
                "lower": f.lower,
                "upper": f.upper,
            }
            for f in service.forecast_points(session, ind)
        ],
        "backtest": {
            "model": ind.forecast_model,
            "mape": ind.forecast_mape,
            "naive_mape": ind.naive_mape,
        },
        "anomalies": [
            {"period": a.period.isoformat(), "actual": a.actual, "expected": a.expected}
            for a in service.anomalies(session, ind)
        ],
    }


@router.post("/refresh", summary="重算指标（默认增量）")
def refresh(
    body: RefreshIn, request: Request, session: DbSession, principal: ApiPrincipal
) -> dict[str, Any]:
    principal.ensure_role(Role.admin)
    result = service.refresh(
        session,
        shared(request.app.state.settings.warehouse_url),
        codes=body.codes,
        full=body.full,
        actor=principal,
    )
    return result.__dict__


@router.get("/screen", summary="大屏数据")
def screen_data(
    session: DbSession,
    principal: ApiPrincipal,
    topic: Annotated[str, Query(max_length=16)] = "home",
) -> dict[str, Any]:
    return screen.screen_data(session, principal, topic)


@router.get("/alerts", summary="预警列表")
def list_alerts(
    session: DbSession,
    principal: ApiPrincipal,
    paging: PageParams,
    status_: Annotated[str | None, Query(alias="status", max_length=16)] = None,
    level: Annotated[str | None, Query(max_length=8)] = None,
) -> dict[str, Any]:
    rows, total = service.list_alerts(
        session, principal, status=status_, level=level, offset=paging.offset, limit=paging.size
    )
    return {"total": total, "items": [AlertOut.model_validate(a) for a in rows]}


@router.get("/alerts/{alert_id}", response_model=AlertOut, summary="预警详情")
def get_alert(alert_id: int, session: DbSession, principal: ApiPrincipal) -> Any:
    return service.get_alert(session, principal, alert_id)


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut, summary="确认预警")
def ack_alert(alert_id: int, body: AlertAction, session: DbSession, principal: ApiPrincipal) -> Any:
    return service.acknowledge(session, principal, alert_id, body.note)


@router.post("/alerts/{alert_id}/assign", response_model=AlertOut, summary="指派预警")
def assign_alert(
    alert_id: int, body: AlertAssign, session: DbSession, principal: ApiPrincipal
) -> Any:
    return service.assign(session, principal, alert_id, body.assignee_id)


@router.post("/alerts/{alert_id}/close", response_model=AlertOut, summary="关闭预警")
def close_alert(
    alert_id: int, body: AlertClose, session: DbSession, principal: ApiPrincipal
) -> Any:
    return service.close(session, principal, alert_id, body.note)


@router.get("/reports", summary="城市运行日志列表")
def list_reports(session: DbSession, principal: ApiPrincipal) -> list[dict[str, Any]]:
    return [
        {"day": r.day.isoformat(), "title": r.content.get("title"), "generated_at": r.generated_at}
        for r in report.list_reports(session, principal)
    ]


@router.get("/reports/{report_day}", summary="某日城市运行日志")
def get_report(report_day: str, session: DbSession, principal: ApiPrincipal) -> dict[str, Any]:
    report.ensure_report_reader(principal)
    r = report.get_report(session, principal, _day(report_day))
    return {"day": r.day.isoformat(), "generated_at": r.generated_at, "content": r.content}


@router.post("/reports", status_code=status.HTTP_201_CREATED, summary="生成（重新生成）日志")
def generate_report(body: ReportIn, session: DbSession, principal: ApiPrincipal) -> dict[str, Any]:
    principal.ensure_role(Role.admin)
    r = report.generate(session, body.day, actor=principal)
    return {"day": r.day.isoformat(), "content": r.content}


@router.get("/webhooks", response_model=list[WebhookOut], summary="预警通知地址")
def list_webhooks(session: DbSession, principal: ApiPrincipal) -> Any:
    return service.list_webhooks(session, principal)


@router.post(
    "/webhooks",
    response_model=WebhookOut,
    status_code=status.HTTP_201_CREATED,
    summary="新增预警通知地址",
)
def create_webhook(body: WebhookIn, session: DbSession, principal: ApiPrincipal) -> Any:
    return service.create_webhook(session, principal, body)


@router.delete(
    "/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, summary="删除通知地址"
)
def delete_webhook(webhook_id: int, session: DbSession, principal: ApiPrincipal) -> None:
    service.delete_webhook(session, principal, webhook_id)


@router.post("/deliveries/run", summary="立即发送到期的预警通知")
def run_deliveries(session: DbSession, principal: ApiPrincipal) -> dict[str, int]:
    principal.ensure_role(Role.admin)
    return alerts.deliver_due(session)


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed("日期格式应为 YYYY-MM-DD") from None
