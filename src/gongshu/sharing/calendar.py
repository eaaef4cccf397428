"""Working days (工作日) for sharing deadlines.

Order of precedence for a day:

1. the bureau's override table ``share_holiday`` (a local holiday, an extra workday, or
   a statutory arrangement announced after the pinned ``chinese_calendar`` release);
2. ``chinese_calendar`` (statutory holidays and adjusted workdays 调休, 2004 onward);
3. outside the years ``chinese_calendar`` knows: Monday–Friday.

Deadlines are counted from the day after submission: a demand submitted on any day
with a limit of 10 working days is due at the end of the 10th working day after it.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongshu.sharing.models import Holiday


class WorkCalendar:
    def __init__(self, overrides: dict[date, bool] | None = None) -> None:
        self.overrides = overrides or {}

    @classmethod
    def load(cls, session: Session) -> WorkCalendar:
        rows = session.execute(select(Holiday.day, Holiday.is_workday)).all()
        return cls({day: bool(work) for day, work in rows})

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            return day.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``start`` itself not counted)."""
        day = start
        counted = 0
        while counted < n:
            day += timedelta(days=1)
            if self.is_workday(day):
                counted += 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in ``(start, end]``; negative when ``end`` is before ``start``."""
        if end < start:
            return -self.working_days_between(end, start)
        return sum(
            1 for i in range(1, (end - start).days + 1) if self.is_workday(start + timedelta(i))
        )
