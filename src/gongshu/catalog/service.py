"""The resource catalog: every rule, the workflow, codes, history and the public views.

Public interface for other domains (documented in docs/catalog.md):

- ``resource_spec(session, resource_id)`` / ``resource_spec_by_code(session, code)``
- ``published_specs(session, org_id=None)``
- ``get_spec(session, actor, resource_id)`` (with the caller's visibility check)
- ``consumers_of(session, resource_id)`` (filled in by sharing through a hook)

They return frozen ``ResourceSpec`` / ``ItemSpec`` views and never expose the models.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongshu.audit import service as audit
from gongshu.auth.principal import Principal, Role
from gongshu.catalog import search
from gongshu.catalog.consumers import Consumer, consumers_of
from gongshu.catalog.models import (
    CodeSequence,
    Item,
    Resource,
    ResourceHistory,
    ResourceRelation,
    ResourceRevision,
    ResourceSnapshot,
)
from gongshu.catalog.rules import FIELD_LABELS, ITEM_LABELS, Problem, check_resource, org_prefixes
from gongshu.catalog.schemas import ItemSpec, ResourceIn, ResourceSpec
from gongshu.catalog.vocab import CLASS_CODES, Status, catalog_settings
from gongshu.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gongshu.orgs.models import Org, System

__all__ = [
    "Consumer",
    "ItemSpec",
    "ResourceSpec",
    "consumers_of",
    "get_spec",
    "published_specs",
    "resource_spec",
    "resource_spec_by_code",
]

ATTR_FIELDS = (
    "name",
    "summary",
    "system_id",
    "domain",
    "classification",
    "format",
    "update_cycle",
    "share_type",
    "share_condition",
    "share_basis",
    "share_methods",
    "open_type",
    "open_reason",
    "grade",
    "keywords",
    "release_date",
)
ITEM_FIELDS = (
    "name",
    "column",
    "data_type",
    "length",
    "data_element",
    "is_sensitive",
    "is_key",
    "masking",
    "description",
)
CODE_RE = re.compile(r"^(JC|ZT|BM)-([A-Z0-9_\-]+)-(\d{6})$")
ACTION_LABELS = {
    "create": "新建",
    "update": "修改",
    "submit": "提交审核",
    "approve": "审核通过",
    "return": "退回修改",
    "publish": "发布",
    "revise": "发起修订",
    "revise_update": "修改修订稿",
    "revise_submit": "提交修订",
    "revise_return": "退回修订",
    "revise_publish": "修订发布",
    "revise_discard": "撤销修订",
    "retire": "下线",
    "import": "导入",
}
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def local_today() -> date:
    return datetime.now(LOCAL_TZ).date()


# ---- visibility --------------------------------------------------------------------


def can_read(actor: Principal, res: Resource) -> bool:
    """Own org (or city-wide readers) see every status; others only the published catalog."""
    if actor.can_read_org(res.owner_org_id):
        return True
    return res.status == Status.published and actor.is_authenticated and actor.role != Role.public


def get_resource(session: Session, actor: Principal, resource_id: int) -> Resource:
    res = session.get(Resource, resource_id)
    if res is None or not can_read(actor, res):
        raise NotFound("数据资源不存在或无权访问")
    return res


def ensure_can_write(actor: Principal, res: Resource) -> None:
    """For a resource the actor can already see: 403 unless it is theirs to change."""
    if not actor.can_write_org(res.owner_org_id):
        raise Forbidden("无权修改该数据资源（只能维护本部门的资源）")


def get_by_code(session: Session, actor: Principal, code: str) -> Resource:
    res = session.scalar(select(Resource).where(Resource.code == code))
    if res is None or not can_read(actor, res):
        raise NotFound(f"资源代码 {code} 不存在或无权访问")
    return res


def pending_revision(session: Session, resource_id: int) -> ResourceRevision | None:
    return session.scalar(
        select(ResourceRevision).where(ResourceRevision.resource_id == resource_id)
    )


def org_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Org.id, Org.name)).all())


# ---- codes -------------------------------------------------------------------------


def code_prefix(classification: str, org_code: str) -> str:
    return f"{CLASS_CODES[classification]}-{org_code}"


def allocate_codes(session: Session, prefix: str, n: int = 1) -> list[str]:
    """``n`` new codes ``{prefix}-{seq:06d}``; the counter only grows, so a code is never
    handed out twice, even after its draft is deleted."""
    if session.get(CodeSequence, prefix) is None:
        try:
            with session.begin_nested():
                session.add(CodeSequence(prefix=prefix, last=0))
        except IntegrityError:
            pass  # created concurrently; the UPDATE below serialises us
    last = session.execute(
        update(CodeSequence)
        .where(CodeSequence.prefix == prefix)
        .values(last=CodeSequence.last + n)
        .returning(CodeSequence.last)
    ).scalar_one()
    return [f"{prefix}-{seq:06d}" for seq in range(last - n + 1, last + 1)]


def reserve_code(session: Session, code: str) -> None:
    """Adopt a code from an imported legacy catalog and move the counter past it."""
    m = CODE_RE.match(code)
    if m is None:
        raise ValidationFailed(f"资源代码 {code} 格式不正确")
    prefix = f"{m.group(1)}-{m.group(2)}"
    seq = int(m.group(3))
    if session.get(CodeSequence, prefix) is None:
        session.add(CodeSequence(prefix=prefix, last=seq))
        session.flush()
    else:
        session.execute(
            update(CodeSequence)
            .where(CodeSequence.prefix == prefix, CodeSequence.last < seq)
            .values(last=seq)
        )


# ---- validation --------------------------------------------------------------------


def _problems_error(problems: Sequence[Problem]) -> ValidationFailed:
    detail = [
        {
            "field": p.field,
            "label": ITEM_LABELS.get(p.field) if p.item is not None else FIELD_LABELS.get(p.field),
            "item": p.item,
            "message": p.text(),
        }
        for p in problems
    ]
    message = "；".join(p.text() for p in problems[:5])
    if len(problems) > 5:
        message += f"；另有 {len(problems) - 5} 处问题"
    return ValidationFailed(message, code="catalog_rule", problems=detail)


def validate(
    session: Session,
    actor: Principal,
    data: ResourceIn,
    *,
    owner_org_id: int,
    resource_id: int | None = None,
    for_submit: bool = False,
) -> list[Problem]:
    """All rules, including those that look at the database. Returns the problems."""
    org = session.get(Org, owner_org_id)
    if org is None:
        return [Problem("owner_org_id", "提供部门不存在")]
    problems = check_resource(
        data,
        catalog_settings(),
        org_prefix=org_prefixes(org.name, org.short_name),
        for_submit=for_submit,
    )
    if data.system_id is not None:
        system = session.get(System, data.system_id)
        if system is None or system.org_id != owner_org_id:
            problems.append(Problem("system_id", "来源系统不存在或不属于提供部门"))
    clash = session.scalar(
        select(Resource.code).where(
            Resource.owner_org_id == owner_org_id,
            Resource.name == data.name,
            Resource.status != Status.retired,
            Resource.id != (resource_id or 0),
        )
    )
    if clash:
        problems.append(Problem("name", f"本部门已有同名资源“{data.name}”（{clash}）"))
    if data.related_codes:
        found = set(
            session.scalars(select(Resource.code).where(Resource.code.in_(data.related_codes)))
        )
        missing = [c for c in data.related_codes if c not in found]
        if missing:
            problems.append(Problem("related_codes", f"关联资源 {'、'.join(missing)} 不存在"))
        own = session.scalar(select(Resource.code).where(Resource.id == (resource_id or 0)))
        if own and own in data.related_codes:
            problems.append(Problem("related_codes", "资源不能关联自己"))
    return problems


def ensure_valid(
    session: Session,
    actor: Principal,
    data: ResourceIn,
    *,
    owner_org_id: int,
    resource_id: int | None = None,
    for_submit: bool = False,
) -> None:
    problems = validate(
        session,
        actor,
        data,
        owner_org_id=owner_org_id,
        resource_id=resource_id,
        for_submit=for_submit,
    )
    if problems:
        raise _problems_error(problems)


# ---- snapshots and diffs -----------------------------------------------------------


def related_codes(session: Session, resource_id: int) -> list[str]:
    return list(
        session.scalars(
            select(Resource.code)
            .join(ResourceRelation, ResourceRelation.related_id == Resource.id)
            .where(ResourceRelation.resource_id == resource_id)
            .order_by(Resource.code)
        )
    )


def to_input(session: Session, res: Resource) -> ResourceIn:
    """The live record as an editable ``ResourceIn`` (what a revision starts from)."""
    values = {f: getattr(res, f) for f in ATTR_FIELDS}
    values["owner_org_id"] = res.owner_org_id
    values["related_codes"] = related_codes(session, res.id)
    values["items"] = [{f: getattr(i, f) for f in ITEM_FIELDS} for i in res.items]
    return ResourceIn.model_validate(values)


def content(data: ResourceIn) -> dict[str, Any]:
    """JSON form used for revisions, snapshots, releases and diffs."""
    return data.model_dump(mode="json")


def fingerprint(data: dict[str, Any]) -> str:
    return hashlib.sha256(audit.canonical_json(data).encode()).hexdigest()


def diff(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Field-level differences: ``{"fields": {f: [old, new]}, "items": {...}}``."""
    old = old or {}
    fields = {
        k: [old.get(k), new.get(k)]
        for k in new
        if k != "items"
        and old.get(k) != new.get(k)
        and (old.get(k) or new.get(k))  # None, "" and [] are all "empty"
        and not (k == "owner_org_id" and not old)
    }
    before = {i["column"]: (pos, i) for pos, i in enumerate(old.get("items") or [], 1)}
    after = {i["column"]: (pos, i) for pos, i in enumerate(new.get("items") or [], 1)}
    added = [after[c][1]["name"] + f"（{c}）" for c in after if c not in before]
    removed = [before[c][1]["name"] + f"（{c}）" for c in before if c not in after]
    changed: dict[str, dict[str, list[Any]]] = {}
    for col in after.keys() & before.keys():
        (p0, a), (p1, b) = before[col], after[col]
        ch = {f: [a.get(f), b.get(f)] for f in b if a.get(f) != b.get(f)}
        if p0 != p1:
            ch["position"] = [p0, p1]
        if ch:
            changed[col] = ch
    out: dict[str, Any] = {}
    if fields:
        out["fields"] = fields
    if added or removed or changed:
        out["items"] = {"added": added, "removed": removed, "changed": changed}
    return out


def diff_rows(d: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """A diff as display rows (what, before, after) in Chinese."""
    if not d:
        return []
    rows: list[tuple[str, str, str]] = []

    def show(v: Any) -> str:
        if v is None or v == "" or v == []:
            return "（空）"
        if isinstance(v, bool):
            return "是" if v else "否"
        if isinstance(v, list):
            return "、".join(map(str, v))
        return str(v)

    for f, (a, b) in (d.get("fields") or {}).items():
        rows.append((FIELD_LABELS.get(f, f), show(a), show(b)))
    items = d.get("items") or {}
    for name in items.get("added", []):
        rows.append(("新增数据项", "", name))
    for name in items.get("removed", []):
        rows.append(("删除数据项", name, ""))
    for col, ch in (items.get("changed") or {}).items():
        for f, (a, b) in ch.items():
            rows.append((f"数据项 {col} · {ITEM_LABELS.get(f, f)}", show(a), show(b)))
    return rows


# ---- storing -----------------------------------------------------------------------


def _apply(session: Session, res: Resource, data: ResourceIn) -> None:
    """Write ``data`` onto the live rows; items keep their ids when the column is kept."""
    if res.id is not None:
        search.unindex(session, [res.id], [i.id for i in res.items])
    for f in ATTR_FIELDS:
        value = getattr(data, f)
        setattr(res, f, [_plain(v) for v in value] if isinstance(value, list) else _plain(value))
    existing = {i.column: i for i in res.items}
    kept: list[Item] = []
    for pos, it in enumerate(data.items, 1):
        row = existing.pop(it.column, None) or Item(column=it.column)
        for f in ITEM_FIELDS:
            setattr(row, f, _plain(getattr(it, f)))
        row.position = pos
        kept.append(row)
    res.items = kept
    session.flush()
    session.execute(delete(ResourceRelation).where(ResourceRelation.resource_id == res.id))
    if data.related_codes:
        ids = session.scalars(select(Resource.id).where(Resource.code.in_(data.related_codes)))
        session.execute(
            insert(ResourceRelation), [{"resource_id": res.id, "related_id": i} for i in ids]
        )
    search.index(session, [search.doc_of(res, res.items)])


def _history(
    session: Session,
    res: Resource,
    action: str,
    actor: Principal,
    *,
    comment: str | None = None,
    change: dict[str, Any] | None = None,
) -> None:
    session.add(
        ResourceHistory(
            resource_id=res.id,
            revision=res.revision,
            action=action,
            actor_name=actor.name,
            comment=comment,
            diff=change or None,
        )
    )
    detail: dict[str, Any] = {"code": res.code, "name": res.name}
    if comment:
        detail["comment"] = comment
    if change:
        detail["diff"] = change
    audit.record(
        session,
        actor,
        f"catalog.{action}",
        "catalog_resource",
        res.id,
        org_id=res.owner_org_id,
        detail=detail,
    )


def _snapshot(session: Session, res: Resource, actor: Principal, data: dict[str, Any]) -> None:
    session.add(
        ResourceSnapshot(
            resource_id=res.id,
            revision=res.revision,
            data=data | {"code": res.code},
            published_by=actor.name,
        )
    )


# ---- workflow ----------------------------------------------------------------------


def create_resource(session: Session, actor: Principal, data: ResourceIn) -> Resource:
    actor.ensure_role(Role.admin, Role.officer)
    owner = data.owner_org_id if data.owner_org_id is not None else actor.org_id
    if owner is None:
        raise ValidationFailed("请选择提供部门", code="org_required", field="owner_org_id")
    actor.ensure_write(owner, "部门")
    data = data.model_copy(update={"owner_org_id": owner})
    ensure_valid(session, actor, data, owner_org_id=owner)
    org = session.get(Org, owner)
    assert org is not None
    code = allocate_codes(session, code_prefix(data.classification, org.code))[0]
    res = Resource(
        code=code,
        owner_org_id=owner,
        status=Status.draft,
        revision=0,
        created_by=actor.name,
        items=[],
    )
    session.add(res)
    _apply(session, res, data)
    _history(session, res, "create", actor, change=diff(None, content(data)))
    session.commit()
    return res


def update_resource(
    session: Session, actor: Principal, resource_id: int, data: ResourceIn
) -> Resource:
    """Save a draft; for a published resource, save the pending revision instead."""
    res = get_resource(session, actor, resource_id)
    ensure_can_write(actor, res)
    if data.owner_org_id not in (None, res.owner_org_id):
        raise ValidationFailed("不能通过修改变更提供部门", code="owner_fixed")
    data = data.model_copy(update={"owner_org_id": res.owner_org_id})
    if data.classification != res.classification:
        raise ValidationFailed("资源分类决定资源代码，创建后不能修改", code="class_fixed")
    ensure_valid(session, actor, data, owner_org_id=res.owner_org_id, resource_id=res.id)
    if res.status == Status.draft:
        before = content(to_input(session, res))
        _apply(session, res, data)
        _history(session, res, "update", actor, change=diff(before, content(data)))
    elif res.status == Status.published:
        rev = pending_revision(session, res.id)
        live = content(to_input(session, res))
        if rev is None:
            rev = ResourceRevision(
                resource_id=res.id, status=Status.draft, data=content(data), created_by=actor.name
            )
            session.add(rev)
            _history(session, res, "revise", actor, change=diff(live, content(data)))
        elif rev.status == Status.submitted:
            raise Conflict("修订稿已提交审核，审核完成前不能修改", code="revision_submitted")
        else:
            old = rev.data
            rev.data = content(data)
            _history(session, res, "revise_update", actor, change=diff(old, rev.data))
    elif res.status in (Status.submitted, Status.reviewed):
        raise Conflict("资源正在审核或待发布，不能修改；如需修改请联系数据局退回", code="locked")
    else:
        raise Conflict("已下线的资源不能修改", code="retired")
    session.commit()
    return res


def delete_resource(session: Session, actor: Principal, resource_id: int) -> None:
    """Only never-published drafts may be deleted; their code stays used."""
    res = get_resource(session, actor, resource_id)
    ensure_can_write(actor, res)
    if res.status != Status.draft or res.revision:
        raise Conflict("只能删除从未发布过的草稿", code="not_draft")
    search.unindex(session, [res.id], [i.id for i in res.items])
    audit.record(
        session,
        actor,
        "catalog.delete",
        "catalog_resource",
        res.id,
        org_id=res.owner_org_id,
        detail={"code": res.code, "name": res.name},
    )
    session.delete(res)
    session.commit()


def submit_resource(
    session: Session, actor: Principal, resource_id: int, comment: str | None = None
) -> Resource:
    res = get_resource(session, actor, resource_id)
    ensure_can_write(actor, res)
    if res.status == Status.draft:
        ensure_valid(
            session,
            actor,
            to_input(session, res),
            owner_org_id=res.owner_org_id,
            resource_id=res.id,
            for_submit=True,
        )
        res.status = Status.submitted
        res.submitted_at = datetime.now(LOCAL_TZ)
        res.review_comment = None
        _history(session, res, "submit", actor, comment=comment)
    elif res.status == Status.published:
        rev = pending_revision(session, res.id)
        if rev is None or rev.status != Status.draft:
            raise Conflict("没有可提交的修订稿", code="nothing_to_submit")
        data = ResourceIn.model_validate(rev.data)
        ensure_valid(
            session, actor, data, owner_org_id=res.owner_org_id, resource_id=res.id, for_submit=True
        )
        rev.status = Status.submitted
        rev.submitted_at = datetime.now(LOCAL_TZ)
        rev.comment = comment
        rev.review_comment = None
        _history(session, res, "revise_submit", actor, comment=comment)
    else:
        raise Conflict("只有草稿或修订稿可以提交审核", code="bad_status")
    session.commit()
    return res


def _publish(session: Session, actor: Principal, res: Resource, comment: str | None) -> None:
    res.revision += 1
    res.status = Status.published
    res.published_at = datetime.now(LOCAL_TZ)
    if res.release_date is None:
        res.release_date = local_today()
    session.flush()
    data = content(to_input(session, res))
    _snapshot(session, res, actor, data)
    _history(session, res, "publish", actor, comment=comment)


def approve_resource(
    session: Session,
    actor: Principal,
    resource_id: int,
    comment: str | None = None,
    *,
    publish: bool = False,
) -> Resource:
    """The bureau approves a submitted resource (optionally publishing it) or revision."""
    res = get_resource(session, actor, resource_id)
    actor.ensure_role(Role.admin)
    if res.status == Status.submitted:
        ensure_valid(
            session,
            actor,
            to_input(session, res),
            owner_org_id=res.owner_org_id,
            resource_id=res.id,
            for_submit=True,
        )
        res.status = Status.reviewed
        res.reviewed_at = datetime.now(LOCAL_TZ)
        res.review_comment = comment
        _history(session, res, "approve", actor, comment=comment)
        if publish:
            _publish(session, actor, res, None)
    elif res.status == Status.published:
        rev = pending_revision(session, res.id)
        if rev is None or rev.status != Status.submitted:
            raise Conflict("该资源没有待审核的修订", code="nothing_to_review")
        data = ResourceIn.model_validate(rev.data)
        ensure_valid(
            session, actor, data, owner_org_id=res.owner_org_id, resource_id=res.id, for_submit=True
        )
        before = content(to_input(session, res))
        _apply(session, res, data)
        session.delete(rev)
        res.revision += 1
        res.published_at = datetime.now(LOCAL_TZ)
        res.reviewed_at = res.published_at
        session.flush()
        after = content(to_input(session, res))
        _snapshot(session, res, actor, after)
        _history(session, res, "revise_publish", actor, comment=comment, change=diff(before, after))
    else:
        raise Conflict("该资源不在待审核状态", code="bad_status")
    session.commit()
    return res


def return_resource(
    session: Session, actor: Principal, resource_id: int, comment: str | None
) -> Resource:
    res = get_resource(session, actor, resource_id)
    actor.ensure_role(Role.admin)
    if not comment or not comment.strip():
        raise ValidationFailed("退回时必须填写审核意见", code="comment_required", field="comment")
    if res.status in (Status.submitted, Status.reviewed):
        res.status = Status.draft
        res.review_comment = comment
        _history(session, res, "return", actor, comment=comment)
    elif res.status == Status.published:
        rev = pending_revision(session, res.id)
        if rev is None or rev.status != Status.submitted:
            raise Conflict("该资源没有待审核的修订", code="nothing_to_review")
        rev.status = Status.draft
        rev.review_comment = comment
        _history(session, res, "revise_return", actor, comment=comment)
    else:
        raise Conflict("该资源不在待审核状态", code="bad_status")
    session.commit()
    return res


def publish_resource(session: Session, actor: Principal, resource_id: int) -> Resource:
    res = get_resource(session, actor, resource_id)
    actor.ensure_role(Role.admin)
    if res.status != Status.reviewed:
        raise Conflict("只有审核通过的资源可以发布", code="bad_status")
    _publish(session, actor, res, None)
    session.commit()
    return res


def discard_revision(session: Session, actor: Principal, resource_id: int) -> Resource:
    res = get_resource(session, actor, resource_id)
    ensure_can_write(actor, res)
    rev = pending_revision(session, res.id)
    if rev is None or rev.status != Status.draft:
        raise Conflict("没有可撤销的修订稿", code="nothing_to_discard")
    session.delete(rev)
    _history(session, res, "revise_discard", actor)
    session.commit()
    return res


def retire_resource(
    session: Session, actor: Principal, resource_id: int, reason: str | None
) -> Resource:
    res = get_resource(session, actor, resource_id)
    actor.ensure_role(Role.admin)
    if res.status != Status.published:
        raise Conflict("只有已发布的资源可以下线", code="bad_status")
    if not reason or not reason.strip():
        raise ValidationFailed("下线时必须填写原因", code="comment_required", field="comment")
    rev = pending_revision(session, res.id)
    if rev is not None:
        session.delete(rev)
    res.status = Status.retired
    res.retired_at = datetime.now(LOCAL_TZ)
    _history(session, res, "retire", actor, comment=reason)
    session.commit()
    return res


# ---- reading -----------------------------------------------------------------------


def history(session: Session, actor: Principal, resource_id: int) -> list[ResourceHistory]:
    res = get_resource(session, actor, resource_id)
    return list(
        session.scalars(
            select(ResourceHistory)
            .where(ResourceHistory.resource_id == res.id)
            .order_by(ResourceHistory.id.desc())
        )
    )


def snapshots(session: Session, actor: Principal, resource_id: int) -> list[ResourceSnapshot]:
    res = get_resource(session, actor, resource_id)
    return list(
        session.scalars(
            select(ResourceSnapshot)
            .where(ResourceSnapshot.resource_id == res.id)
            .order_by(ResourceSnapshot.revision)
        )
    )


def compare_revisions(
    session: Session, actor: Principal, resource_id: int, a: int, b: int
) -> dict[str, Any]:
    """Field-level diff between two published revisions of one resource."""
    snaps = {s.revision: s.data for s in snapshots(session, actor, resource_id)}
    if a not in snaps or b not in snaps:
        raise NotFound("指定的修订版本不存在")
    return diff(snaps[a], snaps[b])


def review_queue(session: Session, actor: Principal) -> list[dict[str, Any]]:
    """Everything waiting for the bureau: new submissions, approved-not-published, revisions."""
    actor.ensure_role(Role.admin)
    rows: list[dict[str, Any]] = []
    for res in session.scalars(
        select(Resource)
        .where(Resource.status.in_([Status.submitted, Status.reviewed]))
        .order_by(Resource.submitted_at, Resource.id)
    ):
        rows.append({"resource": res, "kind": "new", "since": res.submitted_at})
    for rev, res in session.execute(
        select(ResourceRevision, Resource)
        .join(Resource, Resource.id == ResourceRevision.resource_id)
        .where(ResourceRevision.status == Status.submitted)
        .order_by(ResourceRevision.submitted_at)
    ):
        rows.append({"resource": res, "kind": "revision", "since": rev.submitted_at, "rev": rev})
    return rows


def counts(session: Session, actor: Principal) -> dict[str, int]:
    vis = search.visibility(actor)
    by_status = dict(
        session.execute(
            select(Resource.status, func.count()).where(vis).group_by(Resource.status)
        ).all()
    )
    items = session.scalar(
        select(func.count())
        .select_from(Item)
        .join(Resource, Resource.id == Item.resource_id)
        .where(vis, Resource.status == Status.published)
    )
    return {
        "published": by_status.get(Status.published, 0),
        "pending": by_status.get(Status.submitted, 0) + by_status.get(Status.reviewed, 0),
        "draft": by_status.get(Status.draft, 0),
        "items": int(items or 0),
    }


# ---- the interface for other domains -----------------------------------------------


def _spec(res: Resource, items: Sequence[Item], related: Sequence[str]) -> ResourceSpec:
    return ResourceSpec(
        id=res.id,
        code=res.code,
        name=res.name,
        summary=res.summary,
        owner_org_id=res.owner_org_id,
        system_id=res.system_id,
        domain=res.domain,
        classification=res.classification,
        format=res.format,
        update_cycle=res.update_cycle,
        share_type=res.share_type,
        share_condition=res.share_condition,
        share_basis=res.share_basis,
        share_methods=tuple(res.share_methods or ()),
        open_type=res.open_type,
        open_reason=res.open_reason,
        grade=res.grade,
        keywords=res.keywords,
        release_date=res.release_date,
        status=res.status,
        revision=res.revision,
        published_at=res.published_at,
        related_codes=tuple(related),
        items=tuple(ItemSpec.model_validate(i) for i in items),
    )


def resource_spec(session: Session, resource_id: int) -> ResourceSpec:
    """A resource with its items in order (trusted internal read: callers authorise)."""
    res = session.get(Resource, resource_id)
    if res is None:
        raise NotFound("数据资源不存在")
    return _spec(res, res.items, related_codes(session, res.id))


def resource_spec_by_code(session: Session, code: str) -> ResourceSpec:
    res_id = session.scalar(select(Resource.id).where(Resource.code == code))
    if res_id is None:
        raise NotFound(f"资源代码 {code} 不存在")
    return resource_spec(session, res_id)


def get_spec(session: Session, actor: Principal, resource_id: int) -> ResourceSpec:
    """``resource_spec`` with the caller's visibility check (404 when not visible)."""
    res = get_resource(session, actor, resource_id)
    return _spec(res, res.items, related_codes(session, res.id))


def published_specs(
    session: Session, *, org_id: int | None = None, codes: Iterable[str] | None = None
) -> list[ResourceSpec]:
    """Every published resource (optionally of one org or some codes), items loaded in bulk."""
    stmt = select(Resource).where(Resource.status == Status.published)
    if org_id is not None:
        stmt = stmt.where(Resource.owner_org_id == org_id)
    if codes is not None:
        stmt = stmt.where(Resource.code.in_(list(codes)))
    resources = list(session.scalars(stmt.order_by(Resource.code)))
    return specs_for(session, resources)


def specs_for(session: Session, resources: Sequence[Resource]) -> list[ResourceSpec]:
    ids = [r.id for r in resources]
    items: dict[int, list[Item]] = {i: [] for i in ids}
    related: dict[int, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        for it in session.scalars(
            select(Item)
            .where(Item.resource_id.in_(chunk))
            .order_by(Item.resource_id, Item.position)
        ):
            items[it.resource_id].append(it)
        for rid, code in session.execute(
            select(ResourceRelation.resource_id, Resource.code)
            .join(Resource, Resource.id == ResourceRelation.related_id)
            .where(ResourceRelation.resource_id.in_(chunk))
            .order_by(Resource.code)
        ):
            related[rid].append(code)
    return [_spec(r, items[r.id], related[r.id]) for r in resources]


# ---- bulk creation (import, large demo catalogs) -----------------------------------


@dataclass
class NewResource:
    data: ResourceIn
    owner_org_id: int
    code: str | None = None  # a legacy code to adopt; None = generate


def bulk_create(
    session: Session,
    actor: Principal,
    entries: Sequence[NewResource],
    *,
    publish: bool = False,
    action: str = "import",
) -> list[int]:
    """Insert many validated resources in set-based statements (no commit here).

    The caller has validated every entry; one transaction either writes all or nothing.
    """
    if not entries:
        return []
    if publish:
        actor.ensure_role(Role.admin)
    org_codes = dict(session.execute(select(Org.id, Org.code)).all())
    pending: dict[str, list[int]] = {}
    codes: list[str | None] = []
    for n, e in enumerate(entries):
        if e.code:
            reserve_code(session, e.code)
            codes.append(e.code)
        else:
            prefix = code_prefix(e.data.classification, org_codes[e.owner_org_id])
            pending.setdefault(prefix, []).append(n)
            codes.append(None)
    for prefix, idxs in pending.items():
        for n, code in zip(idxs, allocate_codes(session, prefix, len(idxs)), strict=True):
            codes[n] = code
    now = datetime.now(LOCAL_TZ)
    today = local_today()
    status = Status.published if publish else Status.draft
    rows = []
    for e, code in zip(entries, codes, strict=True):
        d = e.data
        row: dict[str, Any] = {
            f: (
                [_plain(v) for v in getattr(d, f)]
                if f == "share_methods"
                else _plain(getattr(d, f))
            )
            for f in ATTR_FIELDS
        }
        row |= {
            "code": code,
            "owner_org_id": e.owner_org_id,
            "status": status,
            "revision": 1 if publish else 0,
            "created_by": actor.name,
            "created_at": now,
            "updated_at": now,
            "published_at": now if publish else None,
            "reviewed_at": now if publish else None,
        }
        if publish and row["release_date"] is None:
            row["release_date"] = today
        rows.append(row)
    ids: list[int] = []
    for start in range(0, len(rows), 1000):
        ids.extend(
            session.scalars(
                insert(Resource).returning(Resource.id, sort_by_parameter_order=True),
                rows[start : start + 1000],
            ).all()
        )
    item_rows = []
    for rid, e in zip(ids, entries, strict=True):
        for pos, it in enumerate(e.data.items, 1):
            item_rows.append(
                {f: _plain(getattr(it, f)) for f in ITEM_FIELDS}
                | {"resource_id": rid, "position": pos}
            )
    item_ids: list[int] = []
    for start in range(0, len(item_rows), 5000):
        item_ids.extend(
            session.scalars(
                insert(Item).returning(Item.id, sort_by_parameter_order=True),
                item_rows[start : start + 5000],
            ).all()
        )
    code_ids = dict(zip(codes, ids, strict=True))
    wanted = {c for e in entries for c in e.data.related_codes if c not in code_ids}
    if wanted:
        code_ids |= dict(
            session.execute(
                select(Resource.code, Resource.id).where(Resource.code.in_(wanted))
            ).all()
        )
    relations = [
        {"resource_id": rid, "related_id": code_ids[c]}
        for rid, e in zip(ids, entries, strict=True)
        for c in e.data.related_codes
        if c in code_ids
    ]
    if relations:
        session.execute(insert(ResourceRelation), relations)
    history_rows = []
    snapshot_rows = []
    audit_entries = []
    docs = []
    it_pos = 0
    for rid, e, code in zip(ids, entries, codes, strict=True):
        assert code is not None
        n_items = len(e.data.items)
        its = item_ids[it_pos : it_pos + n_items]
        it_pos += n_items
        history_rows.append(
            {
                "resource_id": rid,
                "revision": 1 if publish else 0,
                "action": action,
                "actor_name": actor.name,
                "diff": None,
                "at": now,
                "comment": "导入并发布" if publish else None,
            }
        )
        data = content(e.data.model_copy(update={"owner_org_id": e.owner_org_id}))
        if publish:
            snapshot_rows.append(
                {
                    "resource_id": rid,
                    "revision": 1,
                    "data": data | {"code": code},
                    "published_by": actor.name,
                    "published_at": now,
                }
            )
        audit_entries.append(
            audit.AuditEntry(
                actor_type=actor.kind,
                actor_id=None if actor.id is None else str(actor.id),
                actor_name=actor.name,
                action=f"catalog.{action}",
                object_type="catalog_resource",
                object_id=str(rid),
                org_id=e.owner_org_id,
                detail={"code": code, "name": e.data.name, "status": str(status)},
                ts=now,
            )
        )
        docs.append(
            search.Doc(
                rid,
                code,
                e.data.name,
                e.data.summary,
                e.data.keywords,
                [
                    (iid, it.name, it.column, it.data_element)
                    for iid, it in zip(its, e.data.items, strict=True)
                ],
            )
        )
    session.execute(insert(ResourceHistory), history_rows)
    for start in range(0, len(snapshot_rows), 1000):
        session.execute(insert(ResourceSnapshot), snapshot_rows[start : start + 1000])
    audit.record_many(session, audit_entries)
    search.index(session, docs)
    return ids


def replace_draft(
    session: Session, actor: Principal, res: Resource, data: ResourceIn, *, action: str = "import"
) -> None:
    """Overwrite a draft from an import (no commit)."""
    if res.status != Status.draft:
        raise Conflict(f"资源 {res.code} 不是草稿，不能通过导入覆盖")
    ensure_can_write(actor, res)
    before = content(to_input(session, res))
    _apply(session, res, data)
    _history(session, res, action, actor, change=diff(before, content(data)))


def ensure_catalog_reader(actor: Principal) -> None:
    if not actor.is_authenticated or actor.role == Role.public:
        raise Forbidden("当前角色无权查看资源目录")
