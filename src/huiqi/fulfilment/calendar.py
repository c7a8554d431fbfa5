"""Working days for public-notice periods (公示期), by the official PRC holiday calendar.

Which days are working days is what the State Council's General Office publishes each year
(国务院办公厅关于部分节假日安排的通知): public holidays are rest days even on a weekday, and the
make-up working days (调休) are working days even on a Saturday or Sunday. The schedule comes
from the ``chinesecalendar`` package (pinned in the lock file), which covers 2004 to the last
year published when that version came out. A day in a year it does not cover is refused with
:class:`CalendarNotCovered`, never guessed as Monday to Friday: upgrade the package when the
State Council publishes the next year.

Dates are read in Beijing time (Asia/Shanghai): a notice's days begin and end at midnight there.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar  # type: ignore[import-untyped]  # the package ships no type hints

#: The zone the notice's days are counted in.
ZONE = ZoneInfo("Asia/Shanghai")


class CalendarNotCovered(Exception):  # noqa: N818 - reads as the domain says it
    """A date in a year whose holiday schedule the calendar does not have."""

    def __init__(self, day: date) -> None:
        self.day = day
        self.year = day.year
        self.zh = (
            f"{day.year} 年的法定节假日安排尚未收录（{day.isoformat()}），无法计算工作日；"
            "请在国务院办公厅公布该年安排并升级 chinesecalendar 后再试"
        )
        self.en = (
            f"the official holiday schedule for {day.year} is not in the calendar "
            f"({day.isoformat()}), so working days cannot be counted; upgrade chinesecalendar "
            "once the State Council has published that year's schedule"
        )
        super().__init__(self.en)


def is_working_day(day: date) -> bool:
    """True on a working day of the official calendar (a 调休 Saturday included)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        raise CalendarNotCovered(day) from None


def local_date(moment: datetime) -> date:
    """The calendar date of a moment in Beijing time."""
    return moment.astimezone(ZONE).date()


def notice_end(published: datetime, days: int) -> date:
    """The last day of a notice published at ``published`` that runs ``days`` working days.

    The day of publication is not counted, even if it is a working day: part of it has
    passed, and a period counted in days starts on the next day (民法典 第二百零一条：
    "按照年、月、日计算期间的，开始的当日不计入，自下一日开始计算"). So the notice runs
    ``days`` whole working days after it was published.
    """
    if days < 1:
        raise ValueError("a notice runs at least one working day")
    current, counted = local_date(published), 0
    while counted < days:
        current += timedelta(days=1)
        if is_working_day(current):
            counted += 1
    return current


def end_of_day(day: date) -> datetime:
    """The moment ``day`` is over in Beijing time (the midnight after it)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZONE)
