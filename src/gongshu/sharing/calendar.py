"""The bureau's working-day overrides (``share_holiday``) for the platform calendar.

The calendar itself is :mod:`gongshu.workdays`; this module provides the overrides
the bureau maintains on the sharing pages, registered as a ``gongshu.workday_overrides``
provider so every domain (sharing deadlines, quality rectification deadlines) counts
working days the same way.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongshu.sharing.models import Holiday


def holiday_overrides(session: Session) -> dict[date, bool]:
    rows = session.execute(select(Holiday.day, Holiday.is_workday)).all()
    return {day: bool(work) for day, work in rows}
