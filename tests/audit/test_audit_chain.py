"""The audit chain detects tampering, deletion and reordering, naming the record."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from gongshu.audit import service as audit
from gongshu.audit.models import AuditHead, AuditRecord
from gongshu.auth.principal import Principal
from gongshu.config import Settings

ACTOR = Principal(kind="user", id=7, name="alice", role="admin", org_id=3)


def _append(session: Session, n: int) -> None:
    for i in range(n):
        audit.record(session, ACTOR, "thing.update", "thing", i, detail={"i": i, "名称": "测试"})
    session.commit()


def test_empty_chain_verifies(session: Session) -> None:
    result = audit.verify(session)
    assert result.ok and result.checked == 0


def test_appended_records_chain_and_verify(session: Session) -> None:
    _append(session, 5)
    rows = list(session.scalars(select(AuditRecord).order_by(AuditRecord.seq)))
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == "0" * 64
    for prev, cur in itertools.pairwise(rows):
        assert cur.prev_hash == prev.hash
    assert audit.verify(session).ok
    head = session.get(AuditHead, 1)
    assert head is not None and head.seq == 5 and head.last_hash == rows[-1].hash


def test_batch_append_is_one_chain(session: Session) -> None:
    entries = [
        audit.AuditEntry("key", "9", "key:abc", "gw.call", "interface", str(i), detail={"rows": i})
        for i in range(2000)
    ]
    assert audit.record_many(session, entries) == 2000
    session.commit()
    _append(session, 2)
    result = audit.verify(session)
    assert result.ok and result.checked == 2002


def test_rolled_back_write_leaves_no_record(session: Session) -> None:
    _append(session, 2)
    audit.record(session, ACTOR, "thing.delete", "thing", 99)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditRecord)) == 2
    assert audit.verify(session).ok


def test_tampered_record_is_named(session: Session) -> None:
    _append(session, 6)
    session.execute(update(AuditRecord).where(AuditRecord.seq == 4).values(actor_name="mallory"))
    session.commit()
    result = audit.verify(session)
    assert not result.ok and result.broken_seq == 4
    assert "篡改" in (result.reason or "")


def test_tampered_detail_is_detected(session: Session) -> None:
    _append(session, 3)
    session.execute(update(AuditRecord).where(AuditRecord.seq == 2).values(detail='{"i":999}'))
    session.commit()
    assert audit.verify(session).broken_seq == 2


def test_deleted_record_is_detected(session: Session) -> None:
    _append(session, 6)
    session.execute(delete(AuditRecord).where(AuditRecord.seq == 3))
    session.commit()
    result = audit.verify(session)
    assert not result.ok and result.broken_seq == 3


def test_deleted_tail_is_detected(session: Session) -> None:
    _append(session, 4)
    session.execute(delete(AuditRecord).where(AuditRecord.seq == 4))
    session.commit()
    result = audit.verify(session)
    assert not result.ok and result.broken_seq == 4


def test_reordered_records_are_detected(session: Session) -> None:
    _append(session, 6)
    # Swap records 2 and 5 (their sequence numbers), keeping each row's own hash.
    session.execute(update(AuditRecord).where(AuditRecord.seq == 2).values(seq=-2))
    session.execute(update(AuditRecord).where(AuditRecord.seq == 5).values(seq=2))
    session.execute(update(AuditRecord).where(AuditRecord.seq == -2).values(seq=5))
    session.commit()
    result = audit.verify(session)
    assert not result.ok and result.broken_seq == 2


def test_rehashed_forgery_breaks_the_next_link(session: Session) -> None:
    """Recomputing a tampered record's own hash still breaks the following link."""
    _append(session, 5)
    rec = session.get(AuditRecord, 3)
    assert rec is not None
    rec.actor_name = "mallory"
    row = {c: getattr(rec, c) for c in audit.AuditEntry.__dataclass_fields__} | {"seq": 3}
    rec.hash = audit.chain_hash(rec.prev_hash, row)
    session.commit()
    result = audit.verify(session)
    assert not result.ok and result.broken_seq == 4


@pytest.mark.slow
def test_cli_verify_reports_broken_record(settings: Settings, session: Session) -> None:
    _append(session, 3)
    env = os.environ | {
        "GONGSHU_DATABASE_URL": settings.database_url,
        "GONGSHU_DATA_DIR": str(settings.data_dir),
    }
    cmd = [sys.executable, "-m", "gongshu.cli", "audit", "verify"]
    ok = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "审计链完整" in ok.stdout
    session.execute(text("UPDATE audit_record SET outcome = 'denied' WHERE seq = 2"))
    session.commit()
    bad = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert "第 2 条" in bad.stdout
