"""The end of a public notice (公示期), counted by the official PRC holiday calendar.

Each row is a case a bureau reviewer can check against the State Council's published holiday
schedule (国务院办公厅关于部分节假日安排的通知): when the notice was published (Beijing time),
how many working days it runs, and its last day. The publication day is not counted (民法典
第二百零一条); rest days and public holidays are skipped; make-up working days (调休) count.

2025 schedule, as the State Council's General Office published it in November 2024:
- 春节 Spring Festival: 28 Jan – 4 Feb off; Sunday 26 Jan and Saturday 8 Feb are working days.
- 国庆节、中秋节 National Day and Mid-Autumn: 1 – 8 Oct off; Sunday 28 Sep and Saturday 11 Oct
  are working days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from huiqi.fulfilment.calendar import (
    ZONE,
    CalendarNotCovered,
    end_of_day,
    is_working_day,
    notice_end,
)

# published (Beijing time),          days, last day,          why
CASES = [
    ("2023-03-01 17:00", 5, "2023-03-08", "an ordinary week: Thu 2, Fri 3, Mon 6, Tue 7, Wed 8"),
    ("2025-09-26 10:00", 5, "2025-10-10", "Sun 28 Sep (调休) 29, 30; 1–8 Oct off; Thu 9, Fri 10"),
    ("2025-09-27 10:00", 1, "2025-09-28", "Sunday 28 Sep is a make-up working day"),
    ("2025-09-30 10:00", 3, "2025-10-11", "1–8 Oct off; Thu 9, Fri 10, Sat 11 (调休)"),
    ("2025-09-30 10:00", 5, "2025-10-14", "Thu 9, Fri 10, Sat 11 (调休), Mon 13, Tue 14"),
    ("2025-01-24 10:00", 5, "2025-02-07", "Sun 26 Jan (调休), Mon 27; 28 Jan–4 Feb off; 5, 6, 7"),
    ("2025-02-07 10:00", 1, "2025-02-08", "Saturday 8 Feb is a make-up working day"),
    ("2025-10-01 09:00", 1, "2025-10-09", "published on a holiday: the next working day is 9 Oct"),
]


@pytest.mark.parametrize(("published", "days", "last", "why"), CASES)
def test_a_notice_ends_on_the_day_the_official_calendar_gives(
    published: str, days: int, last: str, why: str
) -> None:
    moment = datetime.fromisoformat(published).replace(tzinfo=ZONE).astimezone(UTC)
    assert notice_end(moment, days) == date.fromisoformat(last), why


def test_the_publication_day_is_read_in_beijing_time() -> None:
    # 23:30 UTC on Thursday 25 September is 07:30 on Friday 26 September in Beijing.
    assert notice_end(datetime(2025, 9, 25, 23, 30, tzinfo=UTC), 5) == date(2025, 10, 10)
    # 15:59 UTC on Saturday 27 September is 23:59 that day in Beijing: Sunday 28 counts.
    assert notice_end(datetime(2025, 9, 27, 15, 59, tzinfo=UTC), 1) == date(2025, 9, 28)
    # A minute later it is Sunday 28 in Beijing, the day of publication: Monday 29 counts.
    assert notice_end(datetime(2025, 9, 27, 16, 0, tzinfo=UTC), 1) == date(2025, 9, 29)


def test_holidays_and_make_up_days_are_not_monday_to_friday() -> None:
    assert not is_working_day(date(2025, 10, 1))  # a Wednesday, National Day
    assert is_working_day(date(2025, 9, 28))  # a Sunday, 调休
    assert is_working_day(date(2025, 10, 11))  # a Saturday, 调休


def test_a_notice_is_over_at_midnight_after_its_last_day_in_beijing() -> None:
    assert end_of_day(date(2025, 10, 10)) == datetime(2025, 10, 10, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("published", "year"),
    [(datetime(2026, 12, 28, 2, 0, tzinfo=UTC), 2027), (datetime(2003, 6, 2, tzinfo=UTC), 2003)],
)
def test_a_year_the_calendar_does_not_cover_is_refused_never_guessed(
    published: datetime, year: int
) -> None:
    with pytest.raises(CalendarNotCovered) as refused:
        notice_end(published, 5)
    assert refused.value.year == year
    assert f"{year} 年" in refused.value.zh and str(year) in refused.value.en
    assert "chinesecalendar" in refused.value.zh and "chinesecalendar" in refused.value.en
