"""Working-day deadlines and the cockpit indicator functions."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from sqlalchemy.orm import Session

from gongshu.quality import indicators
from gongshu.workdays import WorkCalendar


def test_working_days_skip_holidays_and_count_adjusted_workdays() -> None:
    cal = WorkCalendar()
    # 2025-09-30 (Tue) + 1: National Day holidays 10-01..10-08, 09-28 (Sun) is a workday
    assert cal.add_working_days(dt.date(2025, 9, 30), 1) == dt.date(2025, 10, 9)
    assert cal.is_workday(dt.date(2025, 9, 28))
    assert cal.add_working_days(dt.date(2025, 6, 6), 1) == dt.date(2025, 6, 9)  # Fri -> Mon
    assert cal.working_days_between(dt.date(2025, 6, 6), dt.date(2025, 6, 13)) == 5
    local = WorkCalendar({dt.date(2025, 6, 9): False})
    assert local.add_working_days(dt.date(2025, 6, 6), 1) == dt.date(2025, 6, 10)
    assert cal.add_working_days(dt.date(2099, 1, 2), 1) == dt.date(2099, 1, 5)  # unknown year


def test_bureau_holidays_apply_to_every_domain(session: Session) -> None:
    """The bureau's local holiday (entered on the sharing pages) moves quality deadlines too."""
    from gongshu.auth.principal import Principal
    from gongshu.sharing import service as sharing
    from gongshu.sharing.schemas import HolidayIn

    friday = dt.date(2025, 6, 6)
    assert WorkCalendar.load(session).add_working_days(friday, 1) == dt.date(2025, 6, 9)
    admin = Principal(kind="user", id=None, name="admin", role="admin", org_id=None)
    sharing.set_holiday(session, admin, HolidayIn(day=dt.date(2025, 6, 9), note="本地假日"))
    assert WorkCalendar.load(session).add_working_days(friday, 1) == dt.date(2025, 6, 10)


def test_indicator_functions_run_on_an_empty_platform(session: Session) -> None:
    ctx = SimpleNamespace(session=session, until=dt.date(2025, 6, 1))
    assert indicators.score(ctx).empty
    assert indicators.overdue_problems(ctx).empty
    assert indicators.dimension("准确性")(ctx).empty


def test_quality_indicators_are_registered_with_the_cockpit() -> None:
    from gongshu.cockpit.registry import builtin_specs

    specs = builtin_specs()
    assert {"quality.score", "quality.overdue_problems", "quality.dimension.accuracy"} <= set(specs)
    assert specs["quality.score"].dimensions == ("org",)
