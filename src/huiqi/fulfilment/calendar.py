"""Working days for public-notice periods (公示期).

Monday to Friday count; the State Council's holiday and make-up-day schedule is not
modelled yet, so a notice that spans a public holiday should be given extra days.
"""

from __future__ import annotations

from datetime import date, timedelta


def add_working_days(start: date, days: int) -> date:
    """The last day of a notice that starts on ``start`` (counted if a working day) and runs
    ``days`` working days."""
    if days < 1:
        raise ValueError("a notice runs at least one working day")
    current = start
    counted = 1 if current.weekday() < 5 else 0
    while counted < days or current.weekday() >= 5:
        current += timedelta(days=1)
        if current.weekday() < 5:
            counted += 1
    return current
