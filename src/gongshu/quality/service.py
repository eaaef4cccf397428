"""Quality rules, runs, scores and the problem closed loop (发现→反馈→整改→评价).

Functions take ``(session, actor, ...)``; the warehouse is passed in explicitly (the
server shares one per process). Visibility: rules, runs and problems belong to the
resource's owner org; the bureau (admin, leader) sees all; the user who raised a 数据异议
also sees that problem. Other orgs get 404.

Problem states: ``found`` 发现 → ``sent`` 反馈 (to the owner org, with a deadline in
working days) → ``rectified`` 整改 (the officer's note) → ``closed`` 已整改 when the next
run passes, or back to ``sent`` (reopened, one more overdue counted) when it fails.
Every transition is written to the problem's history and to the audit chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gongshu.audit import service as audit
from gongshu.auth.principal import Principal, Role
from gongshu.db import utcnow
from gongshu.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gongshu.ingest import catalog_port
from gongshu.ingest.spec import ResourceSpec
from gongshu.quality import engine as E
from gongshu.quality import kinds as K
from gongshu.quality.models import Problem, Rule, Run, RunResult
from gongshu.quality.schemas import ObjectionIn, RuleIn, RuleUpdate
from gongshu.warehouse import TableNotFoundError, Warehouse
from gongshu.workdays import WorkCalendar

LOCAL = ZoneInfo("Asia/Shanghai")
STATE_LABELS = {
    "found": "发现",
    "sent": "已反馈待整改",
    "rectified": "已整改待复核",
    "closed": "已整改（关闭）",
}
OPEN_STATES = ("found", "sent", "rectified")
SEVERITY_LABELS = {"blocking": "阻断", "warning": "警告"}
STATUS_LABELS = {"suggested": "待确认", "active": "启用", "disabled": "停用"}
RUN_LABELS = {"passed": "通过", "failed": "未通过", "blocked": "阻断发布", "error": "出错"}
TRIGGER_LABELS = {"load": "归集后", "schedule": "定时", "manual": "手动"}
# Working days an org gets to rectify, by severity.
DEADLINE_DAYS = {"blocking": 5, "warning": 10}
SAMPLE_SIZE = 5


def local_today() -> dt.date:
    return dt.datetime.now(LOCAL).date()


def _staff(actor: Principal) -> None:
    if actor.role not in (Role.admin, Role.officer, Role.leader):
        raise Forbidden("仅数据局和部门数据专员可以访问数据质量")


# ---- resources ------------------------------------------------------------------------


def resource_for(session: Session, actor: Principal, resource_id: int) -> ResourceSpec:
    """A resource whose quality the actor may see (owner org or the bureau), else 404."""
    try:
        spec = catalog_port.resource(session, resource_id)
    except NotFound:
        spec = None
    if spec is None or not actor.can_read_org(spec.owner_org_id):
        raise NotFound("数据资源不存在或无权访问")
    return spec


def resource_by_code(session: Session, actor: Principal, code: str) -> ResourceSpec:
    try:
        spec = catalog_port.resource_by_code(session, code)
    except NotFound:
        raise NotFound(f"资源代码 {code} 不存在或无权访问") from None
    if not actor.can_read_org(spec.owner_org_id):
        raise NotFound(f"资源代码 {code} 不存在或无权访问")
    return spec


def columns_of(spec: ResourceSpec) -> dict[str, str]:
    return {i.column: i.data_type for i in spec.items}


# ---- rules ------------------------------------------------------------------------------


def list_rules(
    session: Session, actor: Principal, resource_id: int, *, status: str | None = None
) -> list[Rule]:
    _staff(actor)
    resource_for(session, actor, resource_id)
    stmt = select(Rule).where(Rule.resource_id == resource_id)
    if status:
        stmt = stmt.where(Rule.status == status)
    return list(session.scalars(stmt.order_by(Rule.id)))


def get_rule(session: Session, actor: Principal, rule_id: int) -> Rule:
    _staff(actor)
    rule = session.get(Rule, rule_id)
    if rule is None or not actor.can_read_org(rule.org_id):
        raise NotFound("质量规则不存在或无权访问")
    return rule


def _checked(
    spec: ResourceSpec,
    kind_name: str,
    column: str | None,
    params: dict[str, Any],
    dimension: str | None,
) -> tuple[K.Kind, dict[str, Any], str]:
    try:
        kind = K.get(kind_name)
    except ValueError as exc:
        raise ValidationFailed(str(exc), code="bad_rule") from None
    cols = columns_of(spec)
    if kind.needs_column:
        if not column or column not in cols:
            raise ValidationFailed("请选择本资源的一个数据项", code="bad_rule")
    elif column:
        raise ValidationFailed("表级规则不针对单个数据项", code="bad_rule")
    try:
        clean = kind.check(dict(params), cols)
    except ValueError as exc:
        raise ValidationFailed(str(exc), code="bad_rule") from None
    dim = dimension or kind.dimension
    if dim not in K.DIMENSION_NAMES:
        raise ValidationFailed(f"质量维度须为：{'、'.join(K.DIMENSION_NAMES)}", code="bad_rule")
    return kind, clean, dim


def _default_name(kind: K.Kind, spec: ResourceSpec, column: str | None) -> str:
    if column is None:
        return kind.label
    return f"{spec.item(column).name}：{kind.label}"


def create_rule(
    session: Session,
    actor: Principal,
    data: RuleIn,
    *,
    origin: str = "manual",
    status: str = "active",
    reason: str | None = None,
    commit: bool = True,
) -> Rule:
    _staff(actor)
    spec = resource_for(session, actor, data.resource_id)
    actor.ensure_write(spec.owner_org_id, "数据资源")
    kind, params, dim = _checked(spec, data.kind, data.column, data.params, data.dimension)
    rule = Rule(
        org_id=spec.owner_org_id,
        resource_id=spec.id,
        resource_code=spec.code,
        column=data.column,
        name=(data.name or _default_name(kind, spec, data.column))[:100],
        dimension=dim,
        kind=kind.name,
        params=params,
        severity=data.severity,
        threshold=data.threshold,
        status=status,
        origin=origin,
        reason=reason,
        created_by=actor.name,
        confirmed_by=actor.name if status == "active" else None,
    )
    session.add(rule)
    session.flush()
    audit.record(
        session,
        actor,
        "quality.rule.create",
        "quality_rule",
        rule.id,
        org_id=rule.org_id,
        detail={"resource": spec.code, "kind": rule.kind, "column": rule.column, "status": status},
    )
    if commit:
        session.commit()
    return rule


def update_rule(session: Session, actor: Principal, rule_id: int, data: RuleUpdate) -> Rule:
    rule = get_rule(session, actor, rule_id)
    actor.ensure_write(rule.org_id, "质量规则")
    spec = resource_for(session, actor, rule.resource_id)
    params = data.params if data.params is not None else rule.params
    _kind, clean, dim = _checked(
        spec, rule.kind, rule.column, params, data.dimension or rule.dimension
    )
    changes: dict[str, Any] = {}
    for field, value in (
        ("name", data.name),
        ("severity", data.severity),
        ("threshold", data.threshold),
        ("status", data.status),
    ):
        if value is not None and getattr(rule, field) != value:
            changes[field] = value
            setattr(rule, field, value)
    if clean != rule.params:
        changes["params"] = clean
        rule.params = clean
    if dim != rule.dimension:
        changes["dimension"] = dim
        rule.dimension = dim
    if data.status == "active" and rule.confirmed_by is None:
        rule.confirmed_by = actor.name
    audit.record(
        session,
        actor,
        "quality.rule.update",
        "quality_rule",
        rule.id,
        org_id=rule.org_id,
        detail=changes,
    )
    session.commit()
    return rule


def confirm_rule(session: Session, actor: Principal, rule_id: int) -> Rule:
    """An officer confirms a suggested rule: it becomes active."""
    rule = get_rule(session, actor, rule_id)
    actor.ensure_write(rule.org_id, "质量规则")
    if rule.status != "suggested":
        raise Conflict("只有待确认的建议规则可以确认")
    rule.status = "active"
    rule.confirmed_by = actor.name
    audit.record(
        session, actor, "quality.rule.confirm", "quality_rule", rule.id, org_id=rule.org_id
    )
    session.commit()
    return rule


def delete_rule(session: Session, actor: Principal, rule_id: int) -> None:
    rule = get_rule(session, actor, rule_id)
    actor.ensure_write(rule.org_id, "质量规则")
    audit.record(
        session,
        actor,
        "quality.rule.delete",
        "quality_rule",
        rule.id,
        org_id=rule.org_id,
        detail={"kind": rule.kind, "column": rule.column},
    )
    session.delete(rule)
    session.commit()


# ---- suggestions ------------------------------------------------------------------------

# Data element (数据元) -> rule kinds with params; the ID rule for 公民身份号码 etc.
ELEMENT_RULES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "公民身份号码": [("ric", {"region_check": "codes"})],
    "统一社会信用代码": [("uscc", {})],
    "手机号码": [("mobile", {})],
    "联系电话": [("landline", {})],
    "电子邮箱": [("email", {})],
    "行政区划代码": [("enum", {"code_table": "gb2260"})],
    "性别代码": [("enum", {"code_table": "gb2261"})],
    "出生日期": [("date_range", {"min": "1900-01-01", "not_future": True})],
    "日期": [("date_range", {"not_future": True})],
    "姓名": [("chinese_name", {})],
    "法定代表人姓名": [("chinese_name", {})],
}


def _profile(wh: Warehouse, spec: ResourceSpec) -> dict[str, dict[str, Any]]:
    """One aggregate over the table: nulls, blanks, lengths, distinct counts per column."""
    t = wh.table(spec.table)
    aggs: dict[str, Any] = {"_n": t.count()}
    for item in spec.items:
        c = t[item.column]
        aggs[f"{item.column}__nulls"] = c.isnull().sum()
        aggs[f"{item.column}__distinct"] = c.nunique()
        if c.type().is_string():
            aggs[f"{item.column}__minlen"] = c.length().min()
            aggs[f"{item.column}__maxlen"] = c.length().max()
    row = E._scalar_row(wh.execute(t.aggregate(**aggs)))
    out: dict[str, dict[str, Any]] = {"_": {"rows": E._int(row.get("_n"))}}
    for item in spec.items:
        out[item.column] = {
            k: E._int(row.get(f"{item.column}__{k}"))
            for k in ("nulls", "distinct", "minlen", "maxlen")
        }
    return out


def suggest_rules(
    session: Session, actor: Principal, resource_id: int, wh: Warehouse | None
) -> list[Rule]:
    """Suggest rules from each item's data element, its key flag and a profile of the
    data; stored as ``suggested`` until an officer confirms them. Existing rules of the
    same kind on the same item are not suggested again."""
    _staff(actor)
    spec = resource_for(session, actor, resource_id)
    actor.ensure_write(spec.owner_org_id, "数据资源")
    # without a warehouse (or data) only the data elements and key flags speak
    profile = _profile(wh, spec) if wh and wh.exists(spec.table) else {"_": {"rows": 0}}
    rows = profile["_"]["rows"]
    have = {
        (r.kind, r.column) for r in session.scalars(select(Rule).where(Rule.resource_id == spec.id))
    }
    proposals: list[tuple[str, str | None, dict[str, Any], str, str]] = []
    keys = spec.key_columns
    by_element = {i.data_element: i.column for i in spec.items if i.data_element}
    for item in spec.items:
        for kind, params in ELEMENT_RULES.get(item.data_element or "", []):
            if kind == "date_range" and item.data_type not in ("字符串", "日期", "日期时间"):
                continue
            proposals.append((kind, item.column, params, "element", f"数据元“{item.data_element}”"))
        if item.is_key:
            proposals.append(("not_null", item.column, {}, "element", "主键数据项"))
        p = profile.get(item.column)
        if p and rows:
            if p["nulls"] == 0 and not item.is_key:
                proposals.append(("not_null", item.column, {}, "profile", "现有数据无空值"))
            if (
                item.data_type == "字符串"
                and p["minlen"] == p["maxlen"]
                and p["maxlen"] > 0
                and not item.data_element
            ):
                proposals.append(
                    (
                        "length",
                        item.column,
                        {"min_length": p["minlen"], "max_length": p["maxlen"]},
                        "profile",
                        f"现有数据长度均为 {p['maxlen']}",
                    )
                )
            if (
                item.data_type == "字符串"
                and not item.data_element
                and 0 < p["distinct"] <= 20
                and rows >= 50 * p["distinct"]
            ):
                assert wh is not None
                values = _top_values(wh, spec, item.column)
                proposals.append(
                    (
                        "enum",
                        item.column,
                        {"values": values},
                        "profile",
                        f"现有数据只有 {p['distinct']} 种取值",
                    )
                )
    if len(keys) == 1:
        proposals.append(("unique", keys[0], {}, "element", "主键数据项"))
    elif len(keys) > 1:
        proposals.append(("unique", keys[0], {"columns": keys[1:]}, "element", "联合主键"))
    id_col = by_element.get("公民身份号码")
    if id_col and by_element.get("出生日期"):
        proposals.append(
            (
                "id_birth_match",
                by_element["出生日期"],
                {"id_column": id_col},
                "element",
                "出生日期应与身份证号码一致",
            )
        )
    if id_col and by_element.get("性别代码"):
        proposals.append(
            (
                "id_sex_match",
                by_element["性别代码"],
                {"id_column": id_col},
                "element",
                "性别应与身份证号码顺序码奇偶一致",
            )
        )
    proposals.append(("freshness", None, {}, "element", f"更新周期“{spec.update_cycle}”"))
    if rows:
        proposals.append(("row_count", None, {"max_change": 0.5}, "profile", f"现有数据 {rows} 行"))
    created: list[Rule] = []
    for kind, column, params, origin, reason in proposals:
        if (kind, column) in have:
            continue
        have.add((kind, column))
        created.append(
            create_rule(
                session,
                actor,
                RuleIn(
                    resource_id=spec.id,
                    column=column,
                    kind=kind,
                    params=params,
                    severity="blocking" if kind in ("ric", "uscc", "unique") else "warning",
                ),
                origin=origin,
                status="suggested",
                reason=reason,
                commit=False,
            )
        )
    session.commit()
    return created


def _top_values(wh: Warehouse, spec: ResourceSpec, column: str) -> list[str]:
    t = wh.table(spec.table)
    df = wh.execute(t.filter(t[column].notnull()).select(v=t[column].cast("string")).distinct())
    return sorted(str(x) for x in df["v"])[:20]


# ---- runs -------------------------------------------------------------------------------


def _defs(rules: Sequence[Rule]) -> list[E.RuleDef]:
    return [
        E.RuleDef(
            id=r.id,
            kind=r.kind,
            column=r.column,
            params=dict(r.params or {}),
            dimension=r.dimension,
            severity=r.severity,
            threshold=r.threshold,
            name=r.name,
        )
        for r in rules
    ]


def _rules_fingerprint(rules: Sequence[Rule]) -> list[Any]:
    return [
        [r.id, r.kind, r.column, r.params, r.dimension, r.severity, r.threshold]
        for r in sorted(rules, key=lambda r: r.id)
    ]


def _last_load_at(session: Session, resource_id: int) -> dt.datetime | None:
    from gongshu.ingest import service as ingest

    loads, _ = ingest.list_loads(
        session, Principal.system(), resource_id=resource_id, status="succeeded", limit=1
    )
    return loads[0].finished_at if loads else None


def _previous_rows(session: Session, resource_id: int) -> int | None:
    return session.scalar(
        select(Run.rows)
        .where(Run.resource_id == resource_id, Run.status != "error")
        .order_by(Run.id.desc())
        .limit(1)
    )


def run_resource(
    session: Session,
    actor: Principal,
    resource_id: int,
    *,
    wh: Warehouse,
    trigger: str = "manual",
    force: bool = False,
    progress: E.Progress | None = None,
) -> Run:
    """Run the resource's active rules over its published table (on demand / schedule)."""
    _staff(actor)
    spec = resource_for(session, actor, resource_id)
    try:
        table = wh.table(spec.table)
    except TableNotFoundError:
        raise ValidationFailed("该资源尚未归集数据，无法质检", code="no_data") from None
    return run_table(
        session, actor, spec, table, wh=wh, trigger=trigger, force=force, progress=progress
    )


def run_table(
    session: Session,
    actor: Principal,
    spec: ResourceSpec,
    table: Any,
    *,
    wh: Warehouse,
    trigger: str,
    load_id: int | None = None,
    incremental: bool = False,
    force: bool = False,
    progress: E.Progress | None = None,
    today: dt.date | None = None,
) -> Run:
    """Run ``spec``'s active rules over ``table`` (published or a load's staged rows),
    record the run and its results, and move the problems along. Served from the
    stored results when the table, the referenced tables and the rules are unchanged."""
    rules = list(
        session.scalars(
            select(Rule)
            .where(Rule.resource_id == spec.id, Rule.status == "active")
            .order_by(Rule.id)
        )
    )
    today = today or local_today()
    counter = E.Counter(wh.execute)
    say = progress or (lambda _m: None)
    say("计算数据指纹")
    fp = E._scalar_row(counter(E.fingerprint_expr(table)))
    others: dict[str, Any] = {}
    for r in rules:
        code = (r.params or {}).get("resource")
        if code and code not in others:
            others[code] = _other_fingerprint(wh, code, counter)
    fingerprint = hashlib.sha256(
        json.dumps(
            {
                "resource": spec.id,
                "rows": E._int(fp.get("n")),
                "load": E._int(fp.get("load")),
                "incremental": incremental,
                "rules": _rules_fingerprint(rules),
                "others": others,
                "today": today.isoformat(),
            },
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()
    started = utcnow()
    cached = None
    if not force:
        cached = session.scalar(
            select(Run)
            .where(
                Run.resource_id == spec.id, Run.fingerprint == fingerprint, Run.status != "error"
            )
            .order_by(Run.id.desc())
            .limit(1)
        )
    run = Run(
        org_id=spec.owner_org_id,
        resource_id=spec.id,
        resource_code=spec.code,
        resource_name=spec.name,
        trigger=trigger,
        load_id=load_id if load_id is not None else (E._int(fp.get("load")) or None),
        status="passed",
        fingerprint=fingerprint,
        actor_name=actor.name,
        started_at=started,
    )
    if cached is not None:
        say(f"数据与规则均未变化，沿用第 {cached.id} 次质检结果")
        results = [
            RunResult(**{c: getattr(old, c) for c in _RESULT_FIELDS})
            for old in session.scalars(select(RunResult).where(RunResult.run_id == cached.id))
        ]
        run.cached_from = cached.id
        run.rows, run.score = cached.rows, cached.score
        run.dimension_scores = dict(cached.dimension_scores or {})
    else:
        ctx = K.EvalContext(
            today=today,
            other_table=lambda code: wh.table(catalog_port.resource_by_code(session, code).table),
            previous_rows=None if incremental else _previous_rows(session, spec.id),
            last_load_at=utcnow() if trigger == "load" else _last_load_at(session, spec.id),
            update_cycle=spec.update_cycle,
            local_regions=_local_regions(session),
        )
        defs = _defs(rules)
        if incremental:  # a table-level rule says nothing about one increment
            defs = [d for d in defs if K.get(d.kind).level != "table"]
        try:
            result = E.evaluate(
                table,
                defs,
                execute=counter,
                ctx=ctx,
                key_columns=spec.key_columns,
                sample_size=SAMPLE_SIZE,
                progress=say,
            )
        except Exception as exc:  # a broken rule or engine error is recorded, not raised
            session.rollback()
            run.status, run.error = "error", str(exc)[:2000]
            run.queries, run.finished_at = counter.queries, utcnow()
            run.duration_s = (run.finished_at - started).total_seconds()
            session.add(run)
            audit.record(
                session,
                actor,
                "quality.run",
                "quality_run",
                None,
                outcome="failed",
                org_id=spec.owner_org_id,
                detail={"resource": spec.code, "error": run.error},
            )
            session.commit()
            return run
        by_id = {r.id: r for r in rules}
        results = [
            RunResult(
                rule_id=o.rule_id,
                rule_name=by_id[o.rule_id].name,
                column=by_id[o.rule_id].column,
                dimension=by_id[o.rule_id].dimension,
                kind=by_id[o.rule_id].kind,
                severity=by_id[o.rule_id].severity,
                threshold=by_id[o.rule_id].threshold,
                rows_checked=o.rows_checked,
                rows_failed=o.rows_failed,
                failure_rate=o.failure_rate,
                passed=o.passed,
                score=o.score,
                message=o.message,
                samples=o.samples,
            )
            for o in result.outcomes.values()
        ]
        run.rows, run.score = result.rows, result.score
        run.dimension_scores = result.dimension_scores
    failed = [r for r in results if not r.passed]
    run.rules, run.rules_failed = len(results), len(failed)
    blocking = [r for r in failed if r.severity == "blocking"]
    run.status = (
        "passed" if not failed else ("blocked" if blocking and trigger == "load" else "failed")
    )
    run.queries = counter.queries
    run.finished_at = utcnow()
    run.duration_s = (run.finished_at - started).total_seconds()
    session.add(run)
    session.flush()
    for r in results:
        r.run_id = run.id
        session.add(r)
    audit.record(
        session,
        actor,
        "quality.run",
        "quality_run",
        run.id,
        org_id=run.org_id,
        detail={
            "resource": spec.code,
            "trigger": trigger,
            "status": run.status,
            "score": run.score,
            "rules": run.rules,
            "failed": run.rules_failed,
            "cached_from": run.cached_from,
        },
    )
    _sync_problems(session, actor, spec, run, results, may_close=not incremental)
    session.commit()
    return run


def _local_regions(session: Session) -> tuple[str, ...]:
    from gongshu.orgs.regions import all_regions, national_regions

    national = national_regions()
    return tuple(sorted(c for c in all_regions(session) if c not in national))


_RESULT_FIELDS = (
    "rule_id",
    "rule_name",
    "column",
    "dimension",
    "kind",
    "severity",
    "threshold",
    "rows_checked",
    "rows_failed",
    "failure_rate",
    "passed",
    "score",
    "message",
    "samples",
)


def _other_fingerprint(wh: Warehouse, code: str, counter: E.Counter) -> Any:
    from gongshu.warehouse import table_name_for

    name = table_name_for(code)
    if not wh.exists(name):
        return None
    row = E._scalar_row(counter(E.fingerprint_expr(wh.table(name))))
    return [E._int(row.get("n")), E._int(row.get("load"))]


def get_run(session: Session, actor: Principal, run_id: int) -> Run:
    _staff(actor)
    run = session.get(Run, run_id)
    if run is None or not actor.can_read_org(run.org_id):
        raise NotFound("质检记录不存在或无权访问")
    return run


def run_results(session: Session, run: Run) -> list[RunResult]:
    return list(
        session.scalars(
            select(RunResult)
            .where(RunResult.run_id == run.id)
            .order_by(RunResult.passed, RunResult.rule_id)
        )
    )


def latest_run(session: Session, actor: Principal, resource_id: int) -> Run | None:
    resource_for(session, actor, resource_id)
    return session.scalar(
        select(Run).where(Run.resource_id == resource_id).order_by(Run.id.desc()).limit(1)
    )


def list_runs(
    session: Session,
    actor: Principal,
    *,
    resource_id: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Run], int]:
    _staff(actor)
    stmt = select(Run)
    if actor.role not in (Role.admin, Role.leader):
        stmt = stmt.where(Run.org_id == actor.org_id)
    if resource_id is not None:
        stmt = stmt.where(Run.resource_id == resource_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Run.id.desc()).offset(offset).limit(limit))
    return list(rows), total


# ---- problems ---------------------------------------------------------------------------


def _event(problem: Problem, actor: Principal, action: str, note: str | None = None) -> None:
    entry = {"at": utcnow().isoformat(), "actor": actor.name, "action": action}
    if note:
        entry["note"] = note
    problem.history = [*(problem.history or []), entry]


def _transition(
    session: Session,
    actor: Principal,
    problem: Problem,
    action: str,
    state: str | None,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    old = problem.state
    if state is not None:
        problem.state = state
    _event(problem, actor, action, note)
    audit.record(
        session,
        actor,
        f"quality.problem.{action}",
        "quality_problem",
        problem.id,
        org_id=problem.org_id,
        detail={"from": old, "to": problem.state, **(detail or {})},
    )


def _send(session: Session, actor: Principal, problem: Problem, days: int | None = None) -> None:
    days = days or DEADLINE_DAYS.get(problem.severity, 10)
    problem.deadline = WorkCalendar.load(session).add_working_days(local_today(), days)
    problem.sent_at = utcnow()
    _transition(
        session,
        actor,
        problem,
        "sent",
        "sent",
        f"限 {days} 个工作日内整改",
        {"deadline": problem.deadline.isoformat()},
    )


def _sync_problems(
    session: Session,
    actor: Principal,
    spec: ResourceSpec,
    run: Run,
    results: Sequence[RunResult],
    *,
    may_close: bool = True,
) -> None:
    """发现 and 评价: open or update a problem per failed rule, close or reopen on re-check.

    A run over one increment (``may_close=False``) opens and reopens problems but never
    closes one: it did not see the rest of the table."""
    open_by_rule = {
        p.rule_id: p
        for p in session.scalars(
            select(Problem).where(
                Problem.resource_id == spec.id,
                Problem.source == "rule",
                Problem.state.in_(OPEN_STATES),
            )
        )
    }
    for res in results:
        problem = open_by_rule.get(res.rule_id)
        evidence = {
            "run_id": run.id,
            "rows_checked": res.rows_checked,
            "rows_failed": res.rows_failed,
            "failure_rate": res.failure_rate,
            "threshold": res.threshold,
            "message": res.message,
            "kind": res.kind,
            "column": res.column,
        }
        if not res.passed:
            if problem is None:
                problem = Problem(
                    org_id=spec.owner_org_id,
                    resource_id=spec.id,
                    resource_code=spec.code,
                    resource_name=spec.name,
                    source="rule",
                    rule_id=res.rule_id,
                    title=f"{res.rule_name}未通过",
                    description=res.message or "",
                    dimension=res.dimension,
                    severity=res.severity,
                    state="found",
                    raised_by=actor.name,
                    first_run_id=run.id,
                    history=[],
                )
                session.add(problem)
                session.flush()
                _transition(
                    session,
                    actor,
                    problem,
                    "found",
                    "found",
                    f"失败 {res.rows_failed} 行，失败率 {res.failure_rate:.2%}",
                    {"run_id": run.id, "rule_id": res.rule_id},
                )
                _send(session, actor, problem)
            elif problem.state == "rectified":
                problem.reopen_count += 1
                problem.overdue_count += 1
                _transition(
                    session,
                    actor,
                    problem,
                    "reopened",
                    None,
                    f"复检未通过：失败 {res.rows_failed} 行",
                    {"run_id": run.id},
                )
                _send(session, actor, problem)
            problem.evidence = evidence
            problem.samples = list(res.samples or [])
            problem.rows_failed = res.rows_failed
            problem.failure_rate = res.failure_rate
            problem.last_run_id = run.id
        elif problem is not None and may_close:
            problem.last_run_id = run.id
            problem.closed_at = utcnow()
            problem.evidence = evidence
            _transition(
                session, actor, problem, "closed", "closed", "复检通过，已整改", {"run_id": run.id}
            )


def _problem_visible(actor: Principal, p: Problem) -> bool:
    if actor.can_read_org(p.org_id):
        return True
    return p.source == "objection" and actor.kind == "user" and p.raiser_user_id == actor.id


def get_problem(session: Session, actor: Principal, problem_id: int) -> Problem:
    p = session.get(Problem, problem_id)
    if p is None or not actor.is_authenticated or not _problem_visible(actor, p):
        raise NotFound("数据问题不存在或无权访问")
    return p


def is_overdue(p: Problem, today: dt.date | None = None) -> bool:
    return (
        p.state in ("found", "sent")
        and p.deadline is not None
        and (today or local_today()) > p.deadline
    )


def list_problems(
    session: Session,
    actor: Principal,
    *,
    state: str | None = None,
    resource_id: int | None = None,
    org_id: int | None = None,
    overdue: bool = False,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Problem], int]:
    if not actor.is_authenticated:
        raise NotFound("数据问题不存在或无权访问")
    stmt = select(Problem)
    if actor.role not in (Role.admin, Role.leader):
        mine = Problem.raiser_user_id == actor.id if actor.kind == "user" else None
        cond = Problem.org_id == actor.org_id if actor.role == Role.officer else None
        parts = [c for c in (cond, mine) if c is not None]
        if not parts:
            return [], 0
        stmt = stmt.where(or_(*parts))
    if state:
        stmt = stmt.where(Problem.state == state)
    if resource_id is not None:
        stmt = stmt.where(Problem.resource_id == resource_id)
    if org_id is not None:
        stmt = stmt.where(Problem.org_id == org_id)
    if overdue:
        stmt = stmt.where(Problem.state.in_(("found", "sent")), Problem.deadline < local_today())
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Problem.deadline.is_(None), Problem.deadline, Problem.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows), total


def dispatch(
    session: Session, actor: Principal, problem_id: int, days: int | None = None
) -> Problem:
    """反馈: the bureau sends a found problem (e.g. a 数据异议) to the owner org."""
    p = get_problem(session, actor, problem_id)
    actor.ensure_role(Role.admin)
    if p.state != "found":
        raise Conflict("只有“发现”状态的问题可以下发")
    if days is not None and not 1 <= days <= 60:
        raise ValidationFailed("整改时限须为 1–60 个工作日")
    _send(session, actor, p, days)
    session.commit()
    return p


def rectify(session: Session, actor: Principal, problem_id: int, note: str) -> Problem:
    """整改: the owner org's officer says the data was fixed at the source."""
    p = get_problem(session, actor, problem_id)
    actor.ensure_write(p.org_id, "数据问题")
    if p.state != "sent":
        raise Conflict("只有已反馈待整改的问题可以标记整改")
    note = note.strip()
    if len(note) < 2:
        raise ValidationFailed("请填写整改说明")
    p.rectify_note = note
    p.rectified_at = utcnow()
    _transition(session, actor, p, "rectified", "rectified", note)
    session.commit()
    return p


def raise_objection(session: Session, actor: Principal, data: ObjectionIn) -> Problem:
    """数据异议: a user of shared data disputes a resource, with evidence."""
    if not actor.is_authenticated or actor.role == Role.public or actor.kind != "user":
        raise Forbidden("请登录后提出数据异议")
    from gongshu.catalog import service as catalog

    res = catalog.get_spec(session, actor, data.resource_id)  # 404 unless visible
    if data.column and data.column not in {i.column for i in res.items}:
        raise ValidationFailed("数据项不属于该资源")
    p = Problem(
        org_id=res.owner_org_id,
        resource_id=res.id,
        resource_code=res.code,
        resource_name=res.name,
        source="objection",
        title=data.title.strip(),
        description=data.description.strip(),
        severity="warning",
        state="found",
        evidence={**data.evidence, **({"column": data.column} if data.column else {})},
        raised_by=actor.name,
        raiser_user_id=actor.id,
        raiser_org_id=actor.org_id,
        history=[],
    )
    session.add(p)
    session.flush()
    _transition(session, actor, p, "objection", "found", data.title.strip())
    _send(session, Principal.system("quality"), p)
    session.commit()
    return p


def evaluate_objection(
    session: Session, actor: Principal, problem_id: int, accept: bool, note: str | None = None
) -> Problem:
    """评价 of a 数据异议 (no rule re-checks it): the raiser or the bureau accepts the fix
    (closed) or rejects it (reopened, one more overdue counted)."""
    p = get_problem(session, actor, problem_id)
    if p.source != "objection":
        raise Conflict("规则发现的问题由下一次质检自动复核")
    if not (actor.is_admin or (actor.kind == "user" and actor.id == p.raiser_user_id)):
        raise Forbidden("只有提出人或数据局可以评价整改结果")
    if p.state != "rectified":
        raise Conflict("只有已整改待复核的问题可以评价")
    if accept:
        p.closed_at = utcnow()
        _transition(session, actor, p, "closed", "closed", note or "确认已整改")
    else:
        p.reopen_count += 1
        p.overdue_count += 1
        _transition(session, actor, p, "reopened", None, note or "整改不到位")
        _send(session, actor, p)
    session.commit()
    return p


def warn_overdue(session: Session, today: dt.date | None = None) -> list[Problem]:
    """Overdue problems warn once: a history entry, an audit record, one overdue counted."""
    today = today or local_today()
    actor = Principal.system("quality")
    found = list(
        session.scalars(
            select(Problem).where(Problem.state.in_(("found", "sent")), Problem.deadline < today)
        )
    )
    warned = []
    for p in found:
        if any(
            h.get("action") == "overdue" and h.get("deadline") == str(p.deadline)
            for h in p.history or []
        ):
            continue
        p.overdue_count += 1
        p.history = [
            *(p.history or []),
            {
                "at": utcnow().isoformat(),
                "actor": actor.name,
                "action": "overdue",
                "deadline": str(p.deadline),
            },
        ]
        audit.record(
            session,
            actor,
            "quality.problem.overdue",
            "quality_problem",
            p.id,
            org_id=p.org_id,
            detail={"deadline": str(p.deadline)},
        )
        warned.append(p)
    session.commit()
    return warned


# ---- scores -----------------------------------------------------------------------------


def _latest_runs(
    session: Session, actor: Principal, *, before: dt.datetime | None = None
) -> list[Run]:
    sub = select(func.max(Run.id)).where(Run.status != "error")
    if before is not None:
        sub = sub.where(Run.started_at < before)
    if actor.role not in (Role.admin, Role.leader):
        sub = sub.where(Run.org_id == actor.org_id)
    sub = sub.group_by(Run.resource_id)
    return list(session.scalars(select(Run).where(Run.id.in_(sub)).order_by(Run.score)))


def weight(run: Run) -> float:
    """A resource's weight in its org's score: 1 + log10(1 + rows)."""
    return 1.0 + math.log10(1 + max(run.rows, 0))


def org_scores(runs: Sequence[Run]) -> dict[int, float]:
    acc: dict[int, list[float]] = {}
    for r in runs:
        if r.score is None:
            continue
        pair = acc.setdefault(r.org_id, [0.0, 0.0])
        pair[0] += weight(r) * r.score
        pair[1] += weight(r)
    return {org: round(s / w, 2) for org, (s, w) in acc.items() if w}


def dimension_scores(runs: Sequence[Run]) -> dict[str, float]:
    acc: dict[str, list[float]] = {}
    for r in runs:
        for d, s in (r.dimension_scores or {}).items():
            pair = acc.setdefault(d, [0.0, 0.0])
            pair[0] += weight(r) * s
            pair[1] += weight(r)
    return {d: round(acc[d][0] / acc[d][1], 2) for d in K.DIMENSION_NAMES if d in acc}


def overview(session: Session, actor: Principal, *, days: int = 30) -> dict[str, Any]:
    _staff(actor)
    from gongshu.orgs import service as orgs

    runs = _latest_runs(session, actor)
    names = {o.id: o.name for o in orgs.list_orgs(session, Principal.system(), limit=100_000)[0]}
    by_org = org_scores(runs)
    # trend: the city (or own org) score as of the end of each of the last ``days`` days
    since = utcnow() - dt.timedelta(days=days)
    stmt = select(Run).where(Run.started_at >= since, Run.status != "error")
    if actor.role not in (Role.admin, Role.leader):
        stmt = stmt.where(Run.org_id == actor.org_id)
    history = list(session.scalars(stmt.order_by(Run.id)))
    trend: list[dict[str, Any]] = []
    state: dict[int, Run] = {r.resource_id: r for r in _latest_runs(session, actor, before=since)}
    day_runs: dict[dt.date, list[Run]] = {}
    for r in history:
        day_runs.setdefault(r.started_at.astimezone(LOCAL).date(), []).append(r)
    for day in sorted(day_runs):
        for r in day_runs[day]:
            state[r.resource_id] = r
        scored = [r for r in state.values() if r.score is not None]
        total_w = sum(weight(r) for r in scored)
        if total_w:
            trend.append(
                {
                    "day": day.isoformat(),
                    "score": round(sum(weight(r) * (r.score or 0) for r in scored) / total_w, 2),
                }
            )
    open_problems, _ = list_problems(session, actor, limit=100_000)
    open_problems = [p for p in open_problems if p.state in OPEN_STATES]
    all_w = sum(weight(r) for r in runs if r.score is not None)
    return {
        "score": round(
            sum(weight(r) * (r.score or 0) for r in runs if r.score is not None) / all_w, 2
        )
        if all_w
        else None,
        "orgs": sorted(
            (
                {
                    "org_id": o,
                    "org": names.get(o, str(o)),
                    "score": s,
                    "resources": sum(1 for r in runs if r.org_id == o),
                }
                for o, s in by_org.items()
            ),
            key=lambda x: x["score"],
        ),
        "dimensions": dimension_scores(runs),
        "trend": trend,
        "worst": [r for r in runs if r.score is not None][:10],
        "resources": len(runs),
        "open_problems": len(open_problems),
        "overdue_problems": sum(1 for p in open_problems if is_overdue(p)),
        "states": {s: sum(1 for p in open_problems if p.state == s) for s in OPEN_STATES},
    }


def monthly_report(session: Session, actor: Principal, month: dt.date) -> dict[str, Any]:
    """Scores (as of the month's end) and problems (raised or closed in the month) by org."""
    _staff(actor)
    from gongshu.orgs import service as orgs

    start = dt.datetime(month.year, month.month, 1, tzinfo=LOCAL)
    end = dt.datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=LOCAL)
    runs = _latest_runs(session, actor, before=end.astimezone(dt.UTC))
    names = {o.id: o.name for o in orgs.list_orgs(session, Principal.system(), limit=100_000)[0]}
    by_org = org_scores(runs)
    stmt = select(Problem).where(Problem.created_at < end.astimezone(dt.UTC))
    if actor.role not in (Role.admin, Role.leader):
        stmt = stmt.where(Problem.org_id == actor.org_id)
    problems = list(session.scalars(stmt))
    rows = []
    for org_id in sorted({*by_org, *(p.org_id for p in problems)}, key=lambda o: names.get(o, "")):
        mine = [p for p in problems if p.org_id == org_id]
        new = [p for p in mine if p.created_at >= start.astimezone(dt.UTC)]
        closed = [
            p
            for p in mine
            if p.closed_at and start.astimezone(dt.UTC) <= p.closed_at < end.astimezone(dt.UTC)
        ]
        org_runs = [r for r in runs if r.org_id == org_id]
        rows.append(
            {
                "org": names.get(org_id, str(org_id)),
                "score": by_org.get(org_id),
                "dimensions": dimension_scores(org_runs),
                "resources": len(org_runs),
                "new": len(new),
                "closed": len(closed),
                "open": sum(1 for p in mine if p.state in OPEN_STATES),
                "overdue": sum(p.overdue_count for p in mine),
                "objections": sum(1 for p in new if p.source == "objection"),
            }
        )
    return {
        "month": f"{month.year}-{month.month:02d}",
        "rows": rows,
        "problems": sorted(
            (
                p
                for p in problems
                if p.state in OPEN_STATES
                or (p.closed_at and p.closed_at >= start.astimezone(dt.UTC))
            ),
            key=lambda p: (names.get(p.org_id, ""), p.id),
        ),
        "org_names": names,
        "dimensions": list(K.DIMENSION_NAMES),
    }


def run_due(
    session: Session, *, wh: Warehouse, progress: Callable[[str], None] | None = None
) -> list[Run]:
    """Scheduled runs: every resource with active rules (served from cache when unchanged)."""
    actor = Principal.system("quality-scheduler")
    ids = sorted(set(session.scalars(select(Rule.resource_id).where(Rule.status == "active"))))
    out = []
    for rid in ids:
        try:
            spec = catalog_port.resource(session, rid)
        except NotFound:
            continue
        if not wh.exists(spec.table):
            continue
        out.append(
            run_table(
                session,
                actor,
                spec,
                wh.table(spec.table),
                wh=wh,
                trigger="schedule",
                progress=progress,
            )
        )
    warn_overdue(session)
    return out
