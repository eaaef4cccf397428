"""Working days (工作日): the one calendar every deadline in gongshu is counted on.

Order of precedence for a day:

1. the bureau's overrides (a local holiday, an extra workday, or a statutory arrangement
   announced after the pinned ``chinese_calendar`` release), collected by
   :meth:`WorkCalendar.load` from every provider registered in the entry-point group
   ``gongshu.workday_overrides`` (a callable ``(session) -> {date: is_workday}``; the
   sharing domain registers its ``share_holiday`` table);
2. ``chinese_calendar`` (statutory holidays and adjusted workdays 调休, 2004 onward);
3. outside the years ``chinese_calendar`` knows: Monday–Friday.

Deadlines are counted from the day after the start: "10 working days" after a Monday is
the end of the 10th working day after it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING

import chinese_calendar

from gongshu.plugins import Registry

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

OverrideProvider = Callable[["Session"], dict[date, bool]]
override_providers: Registry[OverrideProvider] = Registry("workday_overrides")


class WorkCalendar:
    def __init__(self, overrides: dict[date, bool] | None = None) -> None:
        self.overrides = overrides or {}

    @classmethod
    def load(cls, session: Session) -> WorkCalendar:
        """The calendar with every registered provider's overrides applied."""
        overrides: dict[date, bool] = {}
        for _, provider in override_providers.items():
            overrides.update(provider(session))
        return cls(overrides)

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            return day.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``start`` itself not counted)."""
        day, counted = start, 0
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
