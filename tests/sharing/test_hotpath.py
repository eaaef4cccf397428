"""The gateway's fast paths give exactly the answers of the general ones, and its
in-memory caches never outlive a revocation.

Fast paths: query-string splitting (vs ``parse_qsl``), shaping a few rows in Python
(vs the Arrow path), coalesced lookups (vs one lookup per key), parsed statements
(vs a republished table). Caches: the snapshot (keys, grants, per-grant shaping
plans), invalidated in this process on commit and in other processes by polling.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import subprocess
import sys
from datetime import date
from typing import Any
from urllib.parse import parse_qsl

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from gongshu.config import Settings
from gongshu.sharing import coherence, gateway, maskers, warehouse_access
from gongshu.sharing.gateway import GrantInfo, KeyLookup
from gongshu.sharing.models import Grant
from gongshu.sharing.schemas import RowFilter, Terms
from gongshu.sharing.warehouse_access import Rows
from gongshu.warehouse import shared as shared_warehouse
from gongshu.warehouse import table_name_for
from tests.sharing.helpers import build_world, consumer_key, grant_person, publish_interface


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_query_string_split_matches_parse_qsl() -> None:
    rnd = random.Random(11)
    alphabet = "ab=&x1 é%+;2F"
    cases = ["", "a", "a=", "=b", "a=1&a=2", "&&a=1&", "a=1=2", "gmsfhm=11010519491231002X"]
    cases += [
        "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 14))) for _ in range(3000)
    ]
    for case in cases:
        raw = case.encode()
        expected = dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)) if raw else {}
        assert gateway._query_dict(raw) == expected, case


def _grant(masking: dict[str, str], filter_values: list[str] | None = None) -> GrantInfo:
    return GrantInfo(
        id=1,
        consumer_org_id=1,
        system_id=None,
        resource_id=1,
        items=("k", "name", "born", "district", "n", "blob"),
        masking=masking,
        filter_column="district" if filter_values is not None else None,
        filter_values=pa.array(filter_values, pa.string()) if filter_values is not None else None,
        valid_from=date(2020, 1, 1),
        valid_until=date(2099, 1, 1),
        daily_quota=10,
        rate_limit=10,
        filter_set=frozenset(filter_values) if filter_values is not None else None,
    )


def _plugin_masker(values: pa.Array) -> pa.Array:
    """A third-party style masker: Arrow only, no scalar twin."""
    return pa.array(["#" for _ in range(len(values))], pa.string())


ROWS = [
    ("330602199001011234", "张三", date(1990, 1, 1), "330602", 7, None),
    ("33060219900101123X", "欧阳娜娜", None, "330603", None, None),
    ("x", None, date(2001, 2, 3), None, 0, None),
    ("", "", date(1970, 1, 1), "330602", -5, None),
]
COLUMNS = ("k", "name", "born", "district", "n", "blob")
TYPES: tuple[pa.DataType | None, ...] = (
    pa.string(),
    pa.string(),
    pa.date32(),
    pa.string(),
    pa.int64(),
    None,  # not mapped from DuckDB: inferred by Arrow, so only the Arrow path is exact
)


@pytest.mark.parametrize("rule", [*maskers.names(), "plugin"])
@pytest.mark.parametrize("filter_values", [None, ["330602"], []])
def test_shape_rows_matches_the_arrow_path(
    rule: str, filter_values: list[str] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if rule == "plugin":
        real_get = maskers.get
        monkeypatch.setattr(
            maskers, "get", lambda name: _plugin_masker if name == "plugin" else real_get(name)
        )
    masking = {"k": rule, "name": rule, "born": rule, "n": rule, "missing": rule}
    many = ROWS * (maskers.SMALL // len(ROWS) + 1)  # over SMALL: the Arrow path on both sides
    field_sets = [
        ["k", "name", "born", "district", "n"],
        ["name", "k"],
        ["n", "born"],
        ["district"],
        ["k", "blob"],
    ]
    for rows in (ROWS, ROWS[:1], [], many):
        for fields in field_sets:
            grant = _grant(masking, filter_values)
            result = Rows(COLUMNS, TYPES, list(rows))
            expected = grant.shape(result.to_arrow(), fields).to_pylist()
            assert grant.shape_rows(result, fields) == expected, (rule, fields, len(rows))
            assert grant.shape_rows(result, fields) == expected  # the cached plan too


def test_shape_rows_filter_on_a_non_text_column_takes_the_arrow_path() -> None:
    """Arrow decides how text filter values compare with numbers; Python must not."""
    grant = _grant({}, ["7", "0"])
    grant.filter_column = "n"
    result = Rows(COLUMNS, TYPES, list(ROWS))
    expected = grant.shape(result.to_arrow(), ["k", "n"]).to_pylist()
    assert grant.shape_rows(result, ["k", "n"]) == expected
    assert [r["k"] for r in expected] == ["330602199001011234", "x"]


def test_rows_round_trip_arrow() -> None:
    table = Rows(COLUMNS, TYPES, list(ROWS)).to_arrow()
    assert table.schema.field("born").type == pa.date32()
    back = Rows.from_arrow(table)
    assert back.rows == ROWS and back.columns == COLUMNS
    empty = Rows(COLUMNS, TYPES, []).to_arrow()
    assert empty.num_rows == 0 and empty.column_names == list(COLUMNS)


@pytest.fixture
def world(client: TestClient, session: Session, settings: Settings) -> dict[str, Any]:
    w = build_world(session, settings, rows=120)
    grant = grant_person(session, w, Terms(rate_limit=100_000, daily_quota=1_000_000))
    publish_interface(session, w, "query")
    key, plain = consumer_key(session, w)
    return {"w": w, "grant": grant, "key": key, "plain": plain}


def test_coalesced_lookups_answer_each_caller(
    client: TestClient, settings: Settings, world: dict[str, Any]
) -> None:
    w = world["w"]
    table = table_name_for(w.person.code)
    columns = ("gmsfhm", "xm", "csrq", "xzqh")
    ids = w.persons.column("gmsfhm").to_pylist()
    wanted = [*ids[:40], "110105194912310021", ids[3], *ids[40:60]]  # unknown, repeated
    rt = client.app.state.gateway  # type: ignore[attr-defined]

    async def concurrent() -> list[Rows]:
        lookup = KeyLookup(rt, table, "gmsfhm", columns)
        gathered = asyncio.gather(*(lookup.get([k]) for k in wanted))
        return list(await asyncio.wait_for(gathered, 60))

    answers = client.portal.call(concurrent)
    wh = shared_warehouse(settings.warehouse_url)
    for k, got in zip(wanted, answers, strict=True):
        alone = warehouse_access.lookup_rows(wh, table, columns, "gmsfhm", [k])
        assert got.rows == alone.rows and got.columns == columns, k
        assert len(got.rows) == (1 if k in ids else 0)
        assert got.types == (pa.string(), pa.string(), pa.date32(), pa.string())


def test_parsed_statements_see_a_republished_table(settings: Settings, session: Session) -> None:
    w = build_world(session, settings, rows=30)
    wh = shared_warehouse(settings.warehouse_url)
    table = table_name_for(w.person.code)
    k = w.persons.column("gmsfhm")[0].as_py()
    before = warehouse_access.lookup_rows(wh, table, ("gmsfhm", "xm"), "gmsfhm", [k])
    assert [r[0] for r in before.rows] == [k]
    renamed = w.persons.set_column(
        w.persons.column_names.index("xm"), "xm", pa.array(["改"] * w.persons.num_rows)
    )
    wh.put_table(table, renamed)
    after = warehouse_access.lookup_rows(wh, table, ("gmsfhm", "xm"), "gmsfhm", [k])
    assert after.rows == [(k, "改")]
    # Same answer as the Ibis path, types included.
    t = wh.table(table)
    arrow = wh.to_pyarrow(t.filter(t.gmsfhm.isin([k])).select("gmsfhm", "xm", "csrq"))
    fast = warehouse_access.lookup(wh, table, ("gmsfhm", "xm", "csrq"), "gmsfhm", [k])
    assert fast.equals(arrow)


def test_a_changed_grant_applies_on_the_next_call(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    """Masking and row filter are cached per grant (with its shaping plans): a change
    committed in this process rebuilds them before the next call."""
    w, plain = world["w"], world["plain"]
    person = w.persons.to_pylist()[0]
    q = {"gmsfhm": person["gmsfhm"], "fields": "xm,xzqh"}
    first = client.get("/gw/person-query", params=q, headers=_h(plain)).json()["data"]
    assert first == [
        {"xm": person["xm"][0] + "*" * (len(person["xm"]) - 1), "xzqh": person["xzqh"]}
    ]
    g = session.get(Grant, world["grant"].id)
    assert g is not None
    g.masking = {**g.masking, "xm": "null"}
    session.commit()
    r = client.get("/gw/person-query", params=q, headers=_h(plain))
    assert r.json()["data"] == [{"xm": None, "xzqh": person["xzqh"]}]
    g.row_filter = RowFilter(column="xzqh", values=["000000"]).model_dump()
    session.commit()
    r = client.get("/gw/person-query", params=q, headers=_h(plain))
    assert r.json() == {"data": [], "count": 0}


def test_another_process_revoking_applies_after_the_poll(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    """A change committed by another worker process is not seen by this process's
    commit hook: the flusher's poll of ``share_gateway_state`` (every
    ``cache_poll_s``) picks it up. Simulated with plain SQL, which bypasses the hook."""
    plain, grant = world["plain"], world["grant"]
    rt = client.app.state.gateway  # type: ignore[attr-defined]
    q = {"gmsfhm": world["w"].persons.column("gmsfhm")[0].as_py()}
    assert client.get("/gw/person-query", params=q, headers=_h(plain)).status_code == 200
    generation = coherence.generation()
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:  # what a grant revocation commits in the other process
        conn.execute(update(Grant).where(Grant.id == grant.id).values(status="revoked"))
        conn.execute(text("UPDATE share_gateway_state SET generation = generation + 1"))
    assert coherence.generation() == generation  # this process's hook saw nothing
    client.portal.call(rt.poll_generation)  # what the flusher does every cache_poll_s
    r = client.get("/gw/person-query", params=q, headers=_h(plain))
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_granted"


def test_key_created_by_the_cli_in_another_process_reaches_the_gateway(
    client: TestClient, settings: Settings, world: dict[str, Any]
) -> None:
    """``gongshu keys create`` in a shell (another process, which never imports the
    gateway) bumps ``share_gateway_state``: after the poll the running gateway knows it."""
    rt = client.app.state.gateway  # type: ignore[attr-defined]
    q = {"gmsfhm": world["w"].persons.column("gmsfhm")[0].as_py()}
    client.portal.call(rt.poll_generation)  # in step with the fixtures' commits
    # the snapshot exists (built by a call) before the key does
    assert client.get("/gw/person-query", params=q, headers=_h(world["plain"])).status_code == 200
    before = coherence.generation()
    client.portal.call(rt.poll_generation)
    assert coherence.generation() == before  # nothing new yet
    env = os.environ | {
        "GONGSHU_DATA_DIR": str(settings.data_dir),
        "GONGSHU_DATABASE_URL": settings.database_url,
        "GONGSHU_WAREHOUSE_URL": settings.warehouse_url,
    }
    out = subprocess.run(
        [sys.executable, "-m", "gongshu.cli", "keys", "create", "shell-key", "--org", "CON"],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    plain = out.strip().splitlines()[-1]
    assert plain.startswith("gs_"), out
    client.portal.call(rt.poll_generation)  # what the flusher does every cache_poll_s
    r = client.get("/gw/person-query", params=q, headers=_h(plain))
    assert r.status_code == 200, r.text
    assert r.json()["count"] == 1


def test_startup_objects_are_frozen_while_serving(app: Any) -> None:
    """The lifespan keeps startup objects out of the cyclic GC and gives them back."""
    gc.unfreeze()
    with TestClient(app):
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
