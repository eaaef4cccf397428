"""Sharing and open-data indicators registered with the cockpit, computed by its refresh."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from sqlalchemy.orm import Session

from gongshu.cockpit import service as cockpit
from gongshu.cockpit.models import Indicator
from gongshu.cockpit.registry import builtin_specs
from gongshu.config import Settings
from gongshu.opendata import service as opendata
from gongshu.sharing import service as sharing
from gongshu.sharing.models import CallDaily
from gongshu.warehouse import shared as warehouse
from tests.opendata.helpers import bus_resource, bus_rows, load, publish
from tests.sharing.helpers import build_world, demand_in

MONDAY = date(2026, 3, 2)
LATER = date(2026, 4, 1)


def _indicator(session: Session, code: str) -> Indicator:
    return session.query(Indicator).filter_by(code=code).one()


def test_domain_indicators_are_registered() -> None:
    specs = builtin_specs()
    expected = {
        "sharing.call_volume",
        "sharing.call_success_rate",
        "sharing.satisfaction_rate",
        "sharing.overdue_demands",
        "opendata.datasets_opened",
        "opendata.downloads",
        "opendata.api_calls",
    }
    assert expected <= set(specs)
    assert specs["sharing.call_success_rate"].rollup == "ratio"
    assert specs["opendata.datasets_opened"].rollup == "last"


def test_sharing_indicators_from_calls_and_demands(session: Session) -> None:
    w = build_world(session)
    sharing.create_demand(
        session, w.consumer_officer, demand_in(w.enterprise.id, items=[]), today=MONDAY
    )
    refused = sharing.create_demand(
        session, w.consumer_officer, demand_in(w.person.id), today=MONDAY
    )
    sharing.owner_decide(session, w.owner_officer, refused.id, approve=False, reason="不符")
    sharing.create_demand(session, w.other_officer, demand_in(w.person.id), today=MONDAY)
    for day, calls, ok in ((date(2026, 3, 30), 100, 98), (date(2026, 3, 31), 50, 50)):
        session.add(
            CallDaily(
                day=day,
                interface_id=1,
                consumer_org_id=w.consumer.id,
                grant_id=1,
                owner_org_id=w.owner.id,
                calls=calls,
                ok=ok,
                client_errors=calls - ok,
                server_errors=0,
                rows=ok,
                bytes=0,
                latency_sum_ms=0,
            )
        )
    session.commit()
    codes = [
        "sharing.call_volume",
        "sharing.call_success_rate",
        "sharing.satisfaction_rate",
        "sharing.overdue_demands",
    ]
    result = cockpit.refresh(session, None, codes=codes, until=LATER, forecast=False)
    assert result.failed == {} and result.computed == 4

    volume = cockpit.history(session, _indicator(session, "sharing.call_volume"))
    assert volume.to_dict() == {
        pd.Timestamp("2026-03-30"): 100.0,
        pd.Timestamp("2026-03-31"): 50.0,
    }
    rate = cockpit.history(session, _indicator(session, "sharing.call_success_rate"))
    assert list(rate.round(2)) == [98.0, 100.0]
    by_org = cockpit.breakdown(session, _indicator(session, "sharing.call_success_rate"), "org")
    assert by_org == [("OWN", 100.0)]
    # One granted, one refused, one overdue since mid-March (10 working days).
    sat = cockpit.history(session, _indicator(session, "sharing.satisfaction_rate"))
    assert list(sat) == [pytest.approx(100 / 3)]
    overdue = cockpit.history(session, _indicator(session, "sharing.overdue_demands"))
    assert list(overdue) == [1.0]
    # Incremental: a later refresh keeps the call history and adds today's snapshot.
    cockpit.refresh(session, None, codes=codes, until=date(2026, 4, 2), forecast=False)
    overdue = cockpit.history(session, _indicator(session, "sharing.overdue_demands"))
    print(
        "DBG",
        overdue,
        session.query(Indicator).filter_by(code="sharing.overdue_demands").one().last_period,
        session.query(Indicator).filter_by(code="sharing.overdue_demands").one().compute_error,
    )
    assert list(overdue) == [1.0, 1.0]
    assert len(cockpit.history(session, _indicator(session, "sharing.call_volume"))) == 2
    # A full recompute cannot rebuild past snapshots, so it keeps them.
    cockpit.refresh(session, None, codes=codes, full=True, until=date(2026, 4, 2), forecast=False)
    overdue = cockpit.history(session, _indicator(session, "sharing.overdue_demands"))
    assert list(overdue) == [1.0, 1.0]


def test_opendata_indicators_from_publication_and_calls(
    session: Session, settings: Settings
) -> None:
    from tests.factories import make_org

    wh = warehouse(settings.warehouse_url)
    org = make_org(session, "JTJ", name="示例交通局")
    res = bus_resource(session, org)
    load(wh, res.code, bus_rows(20))
    ds = publish(session, wh, org, res)
    today = opendata.local_today()
    for kind, status in (("download", 200), ("download", 200), ("download", 500), ("api", 200)):
        opendata.log_call(session, kind=kind, dataset_id=ds.id, status=status)
    session.commit()
    codes = ["opendata.datasets_opened", "opendata.downloads", "opendata.api_calls"]
    result = cockpit.refresh(session, None, codes=codes, until=today, forecast=False)
    assert result.failed == {}
    opened = cockpit.history(session, _indicator(session, "opendata.datasets_opened"))
    assert opened.iloc[-1] == 1.0
    downloads = cockpit.history(session, _indicator(session, "opendata.downloads"))
    assert list(downloads) == [2.0]  # the failed download does not count
    api = _indicator(session, "opendata.api_calls")
    assert list(cockpit.history(session, api)) == [1.0]
    assert cockpit.breakdown(session, api, "org") == [("JTJ", 1.0)]
