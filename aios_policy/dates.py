"""Dates, moments and durations as the constitution writes them, read in the company's time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DURATION = re.compile(r"^([1-9][0-9]{0,3}) (minute|hour|day|business hour|business day)s?$")


def zone(name: str) -> ZoneInfo | None:
    """The IANA time zone, or None when it does not exist."""
    if not re.fullmatch(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*", name or ""):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def parse_day(text: str) -> date | None:
    """A YYYY-MM-DD date, or None when it is not a real date."""
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except (TypeError, ValueError):
        return None


def parse_moment(text: str, tz: ZoneInfo, end_of_day: bool = False) -> datetime | None:
    """A date-time with zone; a bare date is its midnight in tz (the next midnight when end_of_day)."""
    day = parse_day(text)
    if day is not None:
        if end_of_day:
            day += timedelta(days=1)
        return datetime.combine(day, time(0), tz)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
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
