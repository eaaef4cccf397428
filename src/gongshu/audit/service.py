"""Append to and verify the hash-chained audit log.

Appends join the caller's transaction, so an audited change and its record commit or
roll back together. ``record_many`` appends a whole batch under one head lock (the
share gateway flushes its call log this way), so the chain never becomes the bottleneck.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from gongshu.audit.models import GENESIS_HASH, AuditHead, AuditRecord
from gongshu.db import utcnow

HEAD_ID = 1


@dataclass
class AuditEntry:
    actor_type: str
    actor_id: str | None
    actor_name: str
    action: str
    object_type: str
    object_id: str | None = None
    outcome: str = "ok"
    org_id: int | None = None
    ip: str | None = None
    detail: Any = None
    ts: datetime = field(default_factory=utcnow)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _ts_text(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the record's canonical form."""
    payload = canonical_json(
        {
            "seq": row["seq"],
            "ts": _ts_text(row["ts"]),
            "actor_type": row["actor_type"],
            "actor_id": row["actor_id"],
            "actor_name": row["actor_name"],
            "org_id": row["org_id"],
            "action": row["action"],
            "object_type": row["object_type"],
            "object_id": row["object_id"],
            "outcome": row["outcome"],
            "ip": row["ip"],
            "detail": row["detail"],
        }
    )
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()


def record(
    session: Session,
    actor: Any,
    action: str,
    object_type: str,
    object_id: Any = None,
    *,
    outcome: str = "ok",
    detail: Any = None,
    org_id: int | None = None,
    ip: str | None = None,
) -> None:
    """Append one record for ``actor`` (a Principal) in the caller's transaction."""
    record_many(
        session,
        [
            AuditEntry(
                actor_type=actor.kind,
                actor_id=None if actor.id is None else str(actor.id),
                actor_name=actor.name,
                action=action,
                object_type=object_type,
                object_id=None if object_id is None else str(object_id),
                outcome=outcome,
                org_id=org_id if org_id is not None else actor.org_id,
                ip=ip,
                detail=detail,
            )
        ],
    )


def record_many(session: Session, entries: Iterable[AuditEntry]) -> int:
    """Append a batch under one lock of the chain head; returns how many were written."""
    batch = list(entries)
    if not batch:
        return 0
    # The UPDATE takes the head's row lock (PostgreSQL) or the write lock (SQLite)
    # before we read the previous hash, so concurrent appenders queue here.
    start = session.execute(
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .values(seq=AuditHead.seq + len(batch))
        .returning(AuditHead.seq, AuditHead.last_hash)
    ).one()
    seq = start.seq - len(batch)
    prev = start.last_hash
    rows = []
    for entry in batch:
        seq += 1
        row = {
            "seq": seq,
            "ts": entry.ts,
            "actor_type": entry.actor_type,
            "actor_id": entry.actor_id,
            "actor_name": entry.actor_name[:128],
            "org_id": entry.org_id,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_id": entry.object_id,
            "outcome": entry.outcome,
            "ip": entry.ip,
            "detail": canonical_json(entry.detail),
        }
        row["prev_hash"] = prev
        row["hash"] = prev = chain_hash(prev, row)
        rows.append(row)
    session.execute(insert(AuditRecord), rows)
    session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(last_hash=prev))
    return len(rows)


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str | None = None

    def message(self) -> str:
        if self.ok:
            return f"审计链完整：已校验 {self.checked} 条记录"
        return f"审计链在第 {self.broken_seq} 条记录处断开：{self.reason}"


def _walk(session: Session, batch: int = 5000) -> Iterator[AuditRecord]:
    stmt = select(AuditRecord).order_by(AuditRecord.seq).execution_options(yield_per=batch)
    for rec in session.scalars(stmt):
        yield rec
        session.expunge(rec)


def verify(session: Session) -> VerifyResult:
    """Re-walk the chain; report the first record whose link does not hold."""
    head = session.get(AuditHead, HEAD_ID)
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for rec in _walk(session):
        if rec.seq != expected_seq:
            return VerifyResult(False, checked, expected_seq, f"缺少序号 {expected_seq} 的记录")
        if rec.prev_hash != expected_prev:
            return VerifyResult(False, checked, rec.seq, "前序哈希不符（记录被删除或调换顺序）")
        row = {c: getattr(rec, c) for c in AuditEntry.__dataclass_fields__} | {"seq": rec.seq}
        if chain_hash(rec.prev_hash, row) != rec.hash:
            return VerifyResult(False, checked, rec.seq, "记录内容与哈希不符（记录被篡改）")
        expected_prev = rec.hash
        expected_seq += 1
        checked += 1
    if head is None:
        return VerifyResult(False, checked, None, "缺少链头记录")
    if head.seq != checked or head.last_hash != expected_prev:
        return VerifyResult(False, checked, checked + 1, "链尾记录缺失或链头被改动")
    return VerifyResult(True, checked)


def search(
    session: Session,
    *,
    action: str | None = None,
    actor: str | None = None,
    object_type: str | None = None,
    org_id: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[AuditRecord], int]:
    from sqlalchemy import func

    stmt = select(AuditRecord)
    if action:
        stmt = stmt.where(AuditRecord.action.startswith(action))
    if actor:
        stmt = stmt.where(AuditRecord.actor_name == actor)
    if object_type:
        stmt = stmt.where(AuditRecord.object_type == object_type)
    if org_id is not None:
        stmt = stmt.where(AuditRecord.org_id == org_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(AuditRecord.seq.desc()).offset(offset).limit(limit))
    return list(rows), total
