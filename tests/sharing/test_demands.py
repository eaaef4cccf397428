"""Every approval path: unconditional, conditional (owner → bureau), refusal with reason,
不予共享, withdrawal, overdue, escalation and coordination, unmet demands; satisfaction."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongshu.audit import service as audit
from gongshu.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gongshu.sharing import service
from gongshu.sharing.models import DemandStatus, Grant
from gongshu.sharing.schemas import HolidayIn, RowFilter, Terms
from tests.sharing.helpers import build_world, consumer_principal, demand_in

# Monday 2026-03-02; no holidays in the following weeks.
MONDAY = date(2026, 3, 2)


def test_unconditional_is_granted_at_once(session: Session) -> None:
    w = build_world(session)
    d = service.create_demand(
        session, w.consumer_officer, demand_in(w.enterprise.id, items=["tyshxydm"]), today=MONDAY
    )
    assert d.status == DemandStatus.granted and d.decided_at is not None
    grants, total = service.list_grants(session, w.consumer_officer)
    assert total == 1 and grants[0].items == ["tyshxydm"] and grants[0].demand_id == d.id


def test_conditional_owner_then_bureau(session: Session) -> None:
    w = build_world(session)
    app = consumer_principal(w.consumer)
    d = service.create_demand(session, app, demand_in(w.person.id), today=MONDAY)
    assert d.status == DemandStatus.submitted
    assert d.due_date == date(2026, 3, 16)  # 10 working days after Monday 2 March
    # Only the owner org decides; the bureau cannot skip the owner.
    with pytest.raises((Forbidden, NotFound)):
        service.owner_decide(session, w.other_officer, d.id, approve=True)
    with pytest.raises(Conflict):
        service.bureau_confirm(session, w.admin, d.id, approve=True)
    terms = Terms(
        items=["gmsfhm", "xm", "xzqh"],
        masking={"xm": "name"},
        row_filter=RowFilter(column="xzqh", values=["339902"]),
        daily_quota=100,
        rate_limit=5,
    )
    service.owner_decide(session, w.owner_officer, d.id, approve=True, terms=terms, today=MONDAY)
    assert d.status == DemandStatus.owner_approved and d.due_date == date(2026, 3, 5)
    assert session.scalar(select(func.count()).select_from(Grant)) == 0
    service.bureau_confirm(session, w.admin, d.id, approve=True, today=MONDAY)
    assert d.status == DemandStatus.granted and not d.late
    grant = service.list_grants(session, w.admin, resource_id=w.person.id)[0][0]
    # Sensitive gmsfhm keeps the catalog's id_number masking; xm uses the named rule.
    assert grant.items == ["gmsfhm", "xm", "xzqh"]
    assert grant.masking == {"gmsfhm": "id_number", "xm": "name"}
    assert grant.row_filter == {"column": "xzqh", "values": ["339902"]}
    assert (grant.daily_quota, grant.rate_limit) == (100, 5)
    actions = [e.action for e in service.demand_events(session, w.admin, d.id)]
    assert actions == ["submit", "owner_approve", "bureau_confirm"]
    assert audit.verify(session).ok


def test_terms_never_exceed_the_demand(session: Session) -> None:
    w = build_world(session)
    d = service.create_demand(
        session, w.consumer_officer, demand_in(w.person.id, items=["gmsfhm", "xm"]), today=MONDAY
    )
    for bad, code in [
        (Terms(items=["gmsfhm", "sjhm"]), "items_not_requested"),
        (Terms(masking={"sjhm": "phone"}), "mask_unknown_item"),
        (Terms(masking={"xm": "nonexistent"}), "unknown_masker"),
        (Terms(row_filter=RowFilter(column="nope", values=["1"])), "unknown_filter_column"),
        (Terms(valid_until=date(2099, 1, 1)), "validity_too_long"),
        (Terms(items=[]), "no_items"),
    ]:
        with pytest.raises(ValidationFailed) as exc:
            service.owner_decide(session, w.owner_officer, d.id, approve=True, terms=bad)
        assert exc.value.code == code
        session.rollback()
    assert service.get_demand(session, w.admin, d.id).status == DemandStatus.submitted


def test_refusal_needs_a_reason_and_can_be_escalated(session: Session) -> None:
    w = build_world(session)
    d = service.create_demand(session, w.consumer_officer, demand_in(w.person.id), today=MONDAY)
    with pytest.raises(ValidationFailed):
        service.owner_decide(session, w.owner_officer, d.id, approve=False, reason="  ")
    session.rollback()
    service.owner_decide(
        session, w.owner_officer, d.id, approve=False, reason="用途与职责不符", today=MONDAY
    )
    assert d.status == DemandStatus.refused and d.refusal_reason == "用途与职责不符"
    # Only the requester escalates; the coordination has its own deadline.
    with pytest.raises((Forbidden, NotFound)):
        service.escalate(session, w.owner_officer, d.id, "x")
    service.escalate(session, w.consumer_officer, d.id, "确属履职需要", today=MONDAY)
    assert d.status == DemandStatus.escalated and d.due_date == date(2026, 3, 16)
    service.coordinate(
        session, w.admin, d.id, approve=True, reason="协调同意", terms=Terms(items=["gmsfhm"])
    )
    assert d.status == DemandStatus.granted
    assert service.list_grants(session, w.admin)[0][0].items == ["gmsfhm"]


def test_coordination_can_uphold_and_is_final(session: Session) -> None:
    w = build_world(session)
    d = service.create_demand(session, w.consumer_officer, demand_in(w.person.id), today=MONDAY)
    service.owner_decide(session, w.owner_officer, d.id, approve=False, reason="涉及隐私")
    service.escalate(session, w.consumer_officer, d.id, "请协调")
    service.coordinate(session, w.admin, d.id, approve=False, reason="维持不予共享")
    assert d.status == DemandStatus.refused and d.refusal_reason == "维持不予共享"
    with pytest.raises(Conflict):
        service.escalate(session, w.consumer_officer, d.id, "再次协调")


def test_bureau_can_refuse_after_owner_approval(session: Session) -> None:
    w = build_world(session)
    d = service.create_demand(session, w.consumer_officer, demand_in(w.person.id))
    service.owner_decide(session, w.owner_officer, d.id, approve=True)
    with pytest.raises(Forbidden):
        service.bureau_confirm(session, w.owner_officer, d.id, approve=True)
    session.rollback()
    service.bureau_confirm(session, w.admin, d.id, approve=False, reason="超出必要范围")
    assert d.status == DemandStatus.refused
    assert session.scalar(select(func.count()).select_from(Grant)) == 0


def test_no_share_resource_is_refused_with_its_legal_basis(session: Session) -> None:
    w = build_world(session)
    d = service.create_demand(session, w.consumer_officer, demand_in(w.secret.id, items=[]))
    assert d.status == DemandStatus.refused
    assert "刑事诉讼法" in (d.refusal_reason or "")
    service.escalate(session, w.consumer_officer, d.id, "请协调")
    with pytest.raises(ValidationFailed) as exc:
        service.coordinate(session, w.admin, d.id, approve=True)
    assert exc.value.code == "no_share"


def test_withdraw(session: Session) -> None:
    w = build_world(session)
    d = service.create_demand(session, w.consumer_officer, demand_in(w.person.id))
    with pytest.raises((Forbidden, NotFound)):
        service.withdraw(session, w.owner_officer, d.id)
    service.withdraw(session, consumer_principal(w.consumer), d.id)
    assert d.status == DemandStatus.withdrawn
    with pytest.raises(Conflict):
        service.owner_decide(session, w.owner_officer, d.id, approve=True)


def test_overdue_warnings_and_late_decisions(session: Session) -> None:
    w = build_world(session)
    d = service.create_demand(session, w.consumer_officer, demand_in(w.person.id), today=MONDAY)
    # 2 working days before the deadline (Thursday 12 March): a warning, not overdue.
    soon = service.deadline_warnings(session, w.owner_officer, today=date(2026, 3, 12))
    assert [(x.demand.id, x.overdue, x.working_days_left) for x in soon] == [(d.id, False, 2)]
    assert service.deadline_warnings(session, w.owner_officer, today=MONDAY) == []
    late_day = date(2026, 3, 17)
    assert service.is_overdue(d, late_day)
    warn = service.deadline_warnings(session, w.admin, today=late_day)
    assert warn[0].overdue and warn[0].working_days_left == -1
    # The other org sees nothing.
    assert service.deadline_warnings(session, w.other_officer, today=late_day) == []
    sat = service.satisfaction(session, w.admin, today=late_day)
    assert sat["overall"]["overdue"] == 1 and sat["overall"]["rate"] == 0.0
    service.owner_decide(session, w.owner_officer, d.id, approve=True, today=late_day)
    assert d.late


def test_calendar_uses_holidays_and_overrides(session: Session) -> None:
    w = build_world(session)
    # National Day 2026: 1–7 October off; 10 October (Saturday) is a make-up workday.
    d = service.create_demand(
        session, w.consumer_officer, demand_in(w.person.id), today=date(2026, 9, 30)
    )
    assert d.due_date == date(2026, 10, 20)
    service.set_holiday(session, w.admin, HolidayIn(day=date(2026, 10, 19), note="本地假日"))
    d2 = service.create_demand(
        session, w.consumer_officer, demand_in(w.person.id), today=date(2026, 9, 30)
    )
    assert d2.due_date == date(2026, 10, 21)
    with pytest.raises(Forbidden):
        service.set_holiday(session, w.owner_officer, HolidayIn(day=date(2026, 10, 20)))


def test_unmet_demand_assigned_then_linked(session: Session) -> None:
    w = build_world(session)
    d = service.create_demand(
        session,
        w.consumer_officer,
        demand_in(None, items=[], wanted="全市新生儿出生医学证明信息"),
    )
    assert d.status == DemandStatus.unmet and d.resource_id is None
    with pytest.raises(NotFound):
        service.get_demand(session, w.owner_officer, d.id)
    service.assign_unmet(session, w.admin, d.id, w.owner.id, "请卫健部门梳理")
    assert d.status == DemandStatus.assigned
    assert service.get_demand(session, w.owner_officer, d.id).id == d.id
    todo, _ = service.list_demands(session, w.owner_officer, role="todo")
    assert [x.id for x in todo] == [d.id]
    service.link_resource(session, w.owner_officer, d.id, w.enterprise.id)
    assert d.status == DemandStatus.granted and d.resource_id == w.enterprise.id
    with pytest.raises(ValidationFailed):
        service.create_demand(session, w.consumer_officer, demand_in(None, items=[]))


def test_visibility_and_own_resource(session: Session) -> None:
    w = build_world(session)
    d = service.create_demand(session, w.consumer_officer, demand_in(w.person.id))
    for actor in (w.consumer_officer, w.owner_officer, w.admin):
        assert service.get_demand(session, actor, d.id).id == d.id
    with pytest.raises(NotFound):
        service.get_demand(session, w.other_officer, d.id)
    assert service.list_demands(session, w.other_officer)[1] == 0
    with pytest.raises(ValidationFailed):
        service.create_demand(session, w.owner_officer, demand_in(w.person.id))


def test_satisfaction_rate_by_org(session: Session) -> None:
    w = build_world(session)
    granted = service.create_demand(
        session, w.consumer_officer, demand_in(w.enterprise.id, items=[]), today=MONDAY
    )
    refused = service.create_demand(
        session, w.consumer_officer, demand_in(w.person.id), today=MONDAY
    )
    service.owner_decide(session, w.owner_officer, refused.id, approve=False, reason="不符")
    service.create_demand(session, w.other_officer, demand_in(w.person.id), today=MONDAY)
    withdrawn = service.create_demand(session, w.other_officer, demand_in(w.person.id))
    service.withdraw(session, w.other_officer, withdrawn.id)
    assert granted.status == DemandStatus.granted
    in_time = service.satisfaction(session, w.admin, today=MONDAY)
    assert in_time["overall"] | {"rate": None} == {
        "satisfied": 1,
        "refused": 1,
        "overdue": 0,
        "pending": 1,
        "rate": None,
    }
    assert in_time["overall"]["rate"] == 0.5
    late = service.satisfaction(session, w.admin, today=date(2026, 4, 1))
    assert late["overall"]["overdue"] == 1 and late["overall"]["rate"] == pytest.approx(1 / 3)
    assert late["by_requester"][w.consumer.id]["rate"] == 0.5
    assert late["by_requester"][w.other.id]["rate"] == 0.0
    assert late["by_owner"][w.owner.id]["rate"] == pytest.approx(1 / 3)
    # An org sees only figures over demands it is part of.
    mine = service.satisfaction(session, w.other_officer, today=date(2026, 4, 1))
    assert set(mine["by_requester"]) == {w.other.id}
