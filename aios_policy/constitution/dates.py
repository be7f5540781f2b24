"""Dates, moments and durations as the constitution writes them, read in the company's time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aios_policy.limits import LATEST_YEAR

_DURATION = re.compile(r"^([1-9][0-9]{0,3}) (minute|hour|day|business hour|business day)s?$")


def zone(name: str) -> ZoneInfo | None:
    """The IANA time zone, or None when it does not exist."""
    if not re.fullmatch(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*", name or ""):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


EARLIEST_YEAR = 2  # a year earlier and a day taken off (or a zone's offset) would leave the calendar
DATE_RANGE = f"{EARLIEST_YEAR:04}-01-01 to {LATEST_YEAR}-12-31"


def parse_day(text: str) -> date | None:
    """A YYYY-MM-DD date from EARLIEST_YEAR to LATEST_YEAR, or None when it is not one.

    The bound keeps every sum the constitution makes with a date (the next day, a deadline, a
    zone's offset) inside the calendar Python can hold."""
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except (TypeError, ValueError):
        return None
    return day if day is not None and EARLIEST_YEAR <= day.year <= LATEST_YEAR else None


def parse_moment(text: str, tz: tzinfo, end_of_day: bool = False) -> datetime | None:
    """A date-time with zone; a bare date is its midnight in tz (the next midnight when end_of_day).
    None when it is not a real moment from EARLIEST_YEAR to LATEST_YEAR."""
    day = parse_day(text)
    if day is not None:
        if end_of_day:
            day += timedelta(days=1)
        return datetime.combine(day, time(0), tz)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


@dataclass(frozen=True)
class Duration:
    """A span such as 4 business hours: an amount of a unit, counted in business time or not."""

    amount: int
    unit: str  # minute | hour | day
    business: bool

    @property
    def text(self) -> str:
        word = f"{'business ' if self.business else ''}{self.unit}{'s' if self.amount != 1 else ''}"
        return f"{self.amount} {word}"


def parse_duration(text: object) -> Duration | None:
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match:
        return None
    amount, unit = int(match.group(1)), match.group(2)
    business = unit.startswith("business ")
    return Duration(amount, unit.removeprefix("business "), business)


def add_duration(start: datetime, duration: Duration, tz: ZoneInfo, days: frozenset[int], opens: time,
                 closes: time, holidays: frozenset[date]) -> datetime:
    """When a duration that starts at start runs out; business durations count only working time.

    Business hours: that many working hours, starting at start (or the next opening when start is
    outside working time). Business days: the same local time that many working days later (from
    the next opening when start is outside working time).
    """
    if not duration.business:
        unit = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}[duration.unit]
        return (start.astimezone(UTC) + duration.amount * unit).astimezone(tz)  # real time, across DST
    local = start.astimezone(tz)

    def working(day: date) -> bool:
        return day.weekday() in days and day not in holidays

    if not working(local.date()) or not opens <= local.time() < closes:
        local = _next_opening(local, tz, days, opens, holidays)
    if duration.unit == "day":
        day, left = local.date(), duration.amount
        while left:
            day += timedelta(days=1)
            left -= working(day)
        return datetime.combine(day, local.time(), tz)
    remaining = timedelta(hours=duration.amount) if duration.unit == "hour" else timedelta(minutes=duration.amount)
    for _ in range(100_000):
        end_of_day = datetime.combine(local.date(), closes, tz)
        if local + remaining <= end_of_day:
            return local + remaining
        remaining -= end_of_day - local
        local = _next_opening(end_of_day, tz, days, opens, holidays)
    return local


def _next_opening(moment: datetime, tz: ZoneInfo, days: frozenset[int], opens: time,
                  holidays: frozenset[date]) -> datetime:
    """The first opening at or after moment's day (today's, if it is still to come)."""
    day = moment.date()
    if day.weekday() in days and day not in holidays and moment.time() < opens:
        return datetime.combine(day, opens, tz)
    for _ in range(3660):  # ten years of closed days at most
        day += timedelta(days=1)
        if day.weekday() in days and day not in holidays:
            return datetime.combine(day, opens, tz)
    return moment


class Deadlines:
    """`add_duration` for one company's hours, with each day's search for the next opening done once.

    The same answer as add_duration for every start, by the same expressions: a start outside working
    time snaps to the next opening, so its deadline is the same for the whole closed stretch (kept by
    day); inside working time a business-day deadline lands on a working day fixed by the day (kept),
    and a business-hour deadline no longer than a working day either ends the same day or runs on into
    the next opening (kept by day). Longer business-hour spans take add_duration's loop."""

    _KEPT = 4096

    def __init__(self, tz: ZoneInfo, days: frozenset[int], opens: time, closes: time,
                 holidays: frozenset[date]) -> None:
        self.tz, self.days, self.opens, self.closes, self.holidays = tz, days, opens, closes, holidays
        self._window = datetime.combine(date(2000, 1, 3), closes) - datetime.combine(date(2000, 1, 3), opens)
        self._kept: dict[tuple[Any, ...], Any] = {}

    def due(self, start: datetime, duration: Duration) -> datetime:
        if not duration.business:
            return add_duration(start, duration, self.tz, self.days, self.opens, self.closes, self.holidays)
        local = start.astimezone(self.tz)
        day, clock = local.date(), local.time()
        working = day.weekday() in self.days and day not in self.holidays
        if not working or not self.opens <= clock < self.closes:  # the same deadline until the next opening
            key: tuple[Any, ...] = ("closed", duration.amount, duration.unit, day, working and clock < self.opens)
            found = self._kept.get(key)
            if found is None:
                found = self._keep(key, add_duration(local, duration, self.tz, self.days, self.opens, self.closes,
                                                     self.holidays))
            return found
        if duration.unit == "day":
            key = ("day", duration.amount, day)
            landing = self._kept.get(key)
            if landing is None:
                landing = self._keep(key, add_duration(local, duration, self.tz, self.days, self.opens, self.closes,
                                                       self.holidays).date())
            return datetime.combine(landing, clock, self.tz)
        remaining = timedelta(hours=duration.amount) if duration.unit == "hour" else timedelta(minutes=duration.amount)
        if remaining > self._window:
            return add_duration(local, duration, self.tz, self.days, self.opens, self.closes, self.holidays)
        end_of_day = datetime.combine(day, self.closes, self.tz)
        if local + remaining <= end_of_day:
            return local + remaining
        key = ("opening", day)
        opening = self._kept.get(key)
        if opening is None:
            opening = self._keep(key, _next_opening(end_of_day, self.tz, self.days, self.opens, self.holidays))
        return opening + (remaining - (end_of_day - local))

    def _keep(self, key: tuple[Any, ...], value: Any) -> Any:
        if len(self._kept) >= self._KEPT:
            self._kept.clear()
        self._kept[key] = value
        return value
