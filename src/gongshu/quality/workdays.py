"""Working days (工作日) for rectification deadlines.

A small, dependency-free helper over the pinned ``chinese_calendar`` (statutory holidays
and adjusted workdays 调休); outside the years it knows, Monday to Friday. ``overrides``
(day -> is workday) lets a bureau add local holidays; the sharing domain keeps such a
table and can pass it in, so both domains count deadlines the same way.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar


class WorkCalendar:
    def __init__(self, overrides: dict[date, bool] | None = None) -> None:
        self.overrides = overrides or {}

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


CALENDAR = WorkCalendar()
