"""The vectorised call-log writer stores exactly what a row-by-row writer would: every
record read back through the ORM, the daily rollups and error counts recomputed here in
plain Python, and the batch's audit seal over the stored rows."""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongshu.audit import service as audit
from gongshu.audit.models import AuditRecord
from gongshu.sharing.calllog import CallRecord, latency_buckets, local_day, write_calls
from gongshu.sharing.models import LATENCY_BOUNDS_MS, N_BUCKETS, Call, CallDaily, CallErrorDaily

# 2026-11-22 23:59:00 in Asia/Shanghai: the batch crosses local midnight.
T0 = datetime(2026, 11, 22, 15, 59, 0, tzinfo=UTC).timestamp()


def _batch(n: int, seed: int) -> list[CallRecord]:
    rnd = random.Random(seed)
    out: list[CallRecord] = []
    for i in range(n):
        forged = rnd.random() < 0.05  # unknown key: no ids at all
        status = rnd.choice([200] * 12 + [400, 403, 429, 500])
        err = None if status == 200 else rnd.choice(["bad_param", "not_granted", "rate_limited"])
        out.append(
            (
                T0 + i * 0.37 + rnd.random() / 1000,
                None if forged else rnd.choice([1, 2]),
                None if forged else rnd.choice([10, 11]),
                None if forged else rnd.choice([100, 101, 102]),
                None if forged else rnd.choice([7, 8]),
                None if forged else 3,
                f"{rnd.getrandbits(64):016x}",
                401 if forged else status,
                rnd.randint(0, 3),
                rnd.randint(15, 4000),
                rnd.choice([0.2, 1.0, 1.999, 2.0, 7.5, 49.9, 5000.0, 12000.0]),
                "invalid_key" if forged else err,
            )
        )
    return out


def _expected_daily(batch: list[CallRecord]) -> dict[tuple[Any, ...], dict[str, Any]]:
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for ts, _key, org, gid, iid, owner, _d, status, nrows, nbytes, ms, _err in batch:
        k = (local_day(ts), iid or 0, org or 0, gid or 0)
        d = out.setdefault(
            k,
            {"owner_org_id": owner or 0, "calls": 0, "ok": 0, "client_errors": 0,
             "server_errors": 0, "rows": 0, "bytes": 0, "latency_sum_ms": 0.0}
            | {f"lat{i}": 0 for i in range(N_BUCKETS)},
        )  # fmt: skip
        d["calls"] += 1
        d["ok" if status < 400 else "client_errors" if status < 500 else "server_errors"] += 1
        d["rows"] += nrows
        d["bytes"] += nbytes
        d["latency_sum_ms"] += ms
        d[f"lat{sum(ms >= bound for bound in LATENCY_BOUNDS_MS)}"] += 1
    return out


def test_latency_buckets_are_upper_bound_exclusive() -> None:
    ms = np.array([0.0, 0.99, 1.0, 1.5, 2.0, 4999.0, 5000.0, 1e9])
    assert latency_buckets(ms).tolist() == [0, 0, 1, 1, 2, 10, 11, 11]


def test_batch_stored_exactly(session: Session) -> None:
    batch = _batch(1500, seed=1)  # > one INSERT chunk, with a short last chunk
    write_calls(session, batch)
    write_calls(session, batch[:7])  # a second flush adds to the same rollup rows
    session.commit()

    stored = session.scalars(select(Call).order_by(Call.id)).all()
    assert len(stored) == len(batch) + 7
    for rec, row in zip([*batch, *batch[:7]], stored, strict=True):
        ts, key, org, gid, iid, owner, digest, status, nrows, nbytes, ms, err = rec
        assert abs(row.ts.timestamp() - ts) < 1e-6
        assert row.ts.tzinfo is not None
        assert row.day == local_day(ts)
        assert (row.key_id, row.consumer_org_id, row.grant_id, row.interface_id) == (
            key, org, gid, iid,
        )  # fmt: skip
        assert (row.owner_org_id, row.params_digest, row.status) == (owner, digest, status)
        assert (row.rows, row.bytes, row.latency_ms, row.error_code) == (nrows, nbytes, ms, err)
    days = {r.day for r in stored}
    assert days == {date(2026, 11, 22), date(2026, 11, 23)}

    want = _expected_daily([*batch, *batch[:7]])
    got = {
        (d.day, d.interface_id, d.consumer_org_id, d.grant_id): d
        for d in session.scalars(select(CallDaily))
    }
    assert set(got) == set(want)
    for k, values in want.items():
        for name, value in values.items():
            if name == "latency_sum_ms":
                assert abs(getattr(got[k], name) - value) < 1e-6, (k, name)
            else:
                assert getattr(got[k], name) == value, (k, name)

    errors: dict[tuple[Any, ...], int] = defaultdict(int)
    for ts, _k, org, _g, iid, _o, _d, _s, _r, _b, _ms, err in [*batch, *batch[:7]]:
        if err:
            errors[(local_day(ts), iid or 0, org or 0, err)] += 1
    got_errors = {
        (e.day, e.interface_id, e.consumer_org_id, e.error_code): e.count
        for e in session.scalars(select(CallErrorDaily))
    }
    assert got_errors == dict(errors)


def test_batch_seal_is_recomputable_from_stored_rows(session: Session) -> None:
    batch = _batch(300, seed=2)
    write_calls(session, batch)
    session.commit()
    seal = session.scalars(
        select(AuditRecord).where(AuditRecord.action == "sharing.gateway.calls")
    ).one()
    lines = "".join(
        f"{r.ts.timestamp():.6f}|{r.key_id}|{r.interface_id}|{r.params_digest}|"
        f"{r.status}|{r.rows}|{r.bytes}\n"
        for r in session.scalars(select(Call).order_by(Call.id))
    )
    detail = json.loads(seal.detail)
    assert detail["calls"] == 300
    assert detail["sha256"] == hashlib.sha256(lines.encode()).hexdigest()
    assert audit.verify(session).ok


def test_empty_batch_writes_nothing(session: Session) -> None:
    write_calls(session, [])
    session.commit()
    assert session.scalars(select(Call)).first() is None


def test_local_days_across_a_utc_offset_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """A zone whose offset changes inside a batch falls back to per-record days."""
    from gongshu.sharing import calllog

    monkeypatch.setattr(calllog, "LOCAL_TZ", ZoneInfo("Europe/Berlin"))
    t = datetime(2026, 3, 28, 22, 30, tzinfo=UTC).timestamp()  # 23:30 CET; DST at 01:00 UTC
    ts_us = np.array([round((t + h * 3600) * 1e6) for h in (0, 1, 2, 3, 25)], dtype=np.int64)
    want = [(calllog.local_day(us / 1e6) - date(1970, 1, 1)).days for us in ts_us.tolist()]
    assert calllog._local_days(ts_us).tolist() == want
    assert len(set(want)) == 3
