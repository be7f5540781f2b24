"""Business-hours arithmetic and the reading of moments and durations, checked against hand-worked calendars.

The company works Monday to Friday, 09:00 to 17:00. In 2026 America/New_York springs forward on Sunday
8 March and falls back on Sunday 1 November; Europe/London falls back on Sunday 25 October.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from aios_policy.constitution.dates import Duration, add_duration, parse_duration, parse_moment

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
WEEKDAYS = frozenset(range(5))
THANKSGIVING = date(2026, 11, 26)


def due(start: str, duration: str, tz: ZoneInfo = NEW_YORK, holidays: frozenset[date] = frozenset()) -> str:
    """When `duration` from `start` runs out, in business hours 09:00-17:00 Monday to Friday, as ISO text."""
    moment = datetime.fromisoformat(start)
    span = parse_duration(duration)
    assert span is not None, duration
    return add_duration(moment, span, tz, WEEKDAYS, time(9), time(17), holidays).isoformat()


@pytest.mark.parametrize(("start", "duration", "expected"), [
    ("2026-11-10T10:00:00-05:00", "4 business hours", "2026-11-10T14:00:00-05:00"),  # inside one day
    ("2026-11-10T13:00:00-05:00", "4 business hours", "2026-11-10T17:00:00-05:00"),  # ends right at closing
    ("2026-11-10T15:00:00-05:00", "4 business hours", "2026-11-11T11:00:00-05:00"),  # runs into the next day
    ("2026-11-13T15:00:00-05:00", "4 business hours", "2026-11-16T11:00:00-05:00"),  # Friday, over the weekend
    ("2026-11-10T10:00:00-05:00", "20 business hours", "2026-11-12T14:00:00-05:00"),  # several whole days
])
def test_business_hours_count_only_working_time(start: str, duration: str, expected: str) -> None:
    assert due(start, duration) == expected


@pytest.mark.parametrize(("start", "expected"), [
    ("2026-11-10T07:00:00-05:00", "2026-11-10T10:00:00-05:00"),  # before opening: from 09:00 that day
    ("2026-11-10T17:00:00-05:00", "2026-11-11T10:00:00-05:00"),  # at closing: from the next opening
    ("2026-11-10T18:30:00-05:00", "2026-11-11T10:00:00-05:00"),  # after closing
    ("2026-11-14T12:00:00-05:00", "2026-11-16T10:00:00-05:00"),  # a Saturday: from Monday
    ("2026-11-13T23:59:00-05:00", "2026-11-16T10:00:00-05:00"),  # late Friday: from Monday
])
def test_a_start_outside_working_time_counts_from_the_next_opening(start: str, expected: str) -> None:
    assert due(start, "1 business hour") == expected


def test_a_start_in_another_zone_is_read_in_the_company_zone() -> None:
    assert due("2026-11-10T15:00:00+00:00", "1 business hour") == "2026-11-10T11:00:00-05:00"  # 10:00 in New York


def test_a_holiday_is_skipped_like_a_weekend() -> None:
    holidays = frozenset({THANKSGIVING})
    assert due("2026-11-25T15:00:00-05:00", "4 business hours", holidays=holidays) == "2026-11-27T11:00:00-05:00"
    assert due("2026-11-25T15:00:00-05:00", "4 business hours") == "2026-11-26T11:00:00-05:00"
    assert due("2026-11-26T10:00:00-05:00", "1 business hour", holidays=holidays) == "2026-11-27T10:00:00-05:00"


def test_holidays_and_a_weekend_in_a_row_are_all_skipped() -> None:
    holidays = frozenset({date(2026, 12, 24), date(2026, 12, 25)})
    assert due("2026-12-23T16:00:00-05:00", "2 business hours", holidays=holidays) == "2026-12-28T10:00:00-05:00"


@pytest.mark.parametrize(("start", "duration", "expected"), [
    # New York falls back on Sunday 1 November: Friday EDT, Monday EST, still eight working hours a day
    ("2026-10-30T15:00:00-04:00", "4 business hours", "2026-11-02T11:00:00-05:00"),
    ("2026-10-30T10:00:00-04:00", "1 business day", "2026-11-02T10:00:00-05:00"),
    # New York springs forward on Sunday 8 March
    ("2026-03-06T15:00:00-05:00", "4 business hours", "2026-03-09T11:00:00-04:00"),
    ("2026-03-06T10:00:00-05:00", "1 business day", "2026-03-09T10:00:00-04:00"),
])
def test_business_time_across_a_new_york_dst_change_keeps_local_working_hours(start: str, duration: str,
                                                                               expected: str) -> None:
    assert due(start, duration) == expected


def test_business_time_across_the_london_dst_change_keeps_local_working_hours() -> None:
    assert due("2026-10-23T16:00:00+01:00", "2 business hours", LONDON) == "2026-10-26T10:00:00+00:00"
    assert due("2026-03-27T16:00:00+00:00", "2 business hours", LONDON) == "2026-03-30T10:00:00+01:00"


@pytest.mark.parametrize(("start", "duration", "expected"), [
    ("2026-11-12T10:00:00-05:00", "2 business days", "2026-11-16T10:00:00-05:00"),  # Thursday to Monday
    ("2026-11-12T10:00:00-05:00", "1 business day", "2026-11-13T10:00:00-05:00"),
    ("2026-11-14T12:00:00-05:00", "1 business day", "2026-11-17T09:00:00-05:00"),  # Saturday: from Monday 09:00
    ("2026-11-10T18:00:00-05:00", "1 business day", "2026-11-12T09:00:00-05:00"),  # after hours: from 09:00
])
def test_business_days_keep_the_local_time_that_many_working_days_later(start: str, duration: str,
                                                                         expected: str) -> None:
    assert due(start, duration) == expected


def test_business_days_skip_holidays() -> None:
    holidays = frozenset({THANKSGIVING, date(2026, 11, 27)})
    assert due("2026-11-25T10:00:00-05:00", "1 business day", holidays=holidays) == "2026-11-30T10:00:00-05:00"


@pytest.mark.parametrize(("start", "duration", "expected"), [
    # 00:30 EDT is 04:30 UTC; two real hours later it is 06:30 UTC, which is 01:30 EST
    ("2026-11-01T00:30:00-04:00", "2 hours", "2026-11-01T01:30:00-05:00"),
    # 01:30 EST on 8 March is 06:30 UTC; an hour later the clocks read 03:30 EDT
    ("2026-03-08T01:30:00-05:00", "1 hour", "2026-03-08T03:30:00-04:00"),
    # a plain day is 24 real hours: 25 by the clock's count would be wrong, so the wall clock moves
    ("2026-10-31T12:00:00-04:00", "1 day", "2026-11-01T11:00:00-05:00"),
    ("2026-03-07T12:00:00-05:00", "1 day", "2026-03-08T13:00:00-04:00"),
    ("2026-11-14T12:00:00-05:00", "90 minutes", "2026-11-14T13:30:00-05:00"),  # weekends count: not business
    ("2026-10-25T01:30:00+01:00", "1 hour", "2026-10-25T01:30:00+00:00"),  # London: the same 01:30, an hour on
])
def test_plain_durations_are_real_elapsed_time_even_across_dst(start: str, duration: str, expected: str) -> None:
    tz = LONDON if start.endswith("+01:00") else NEW_YORK
    result = due(start, duration, tz)
    assert result == expected
    elapsed = datetime.fromisoformat(result) - datetime.fromisoformat(start)
    span = parse_duration(duration)
    assert span is not None
    assert elapsed == span.amount * {"minute": timedelta(minutes=1), "hour": timedelta(hours=1),
                                     "day": timedelta(days=1)}[span.unit]


def test_parse_moment_reads_dates_zones_and_z() -> None:
    assert parse_moment("2026-11-10", NEW_YORK) == datetime(2026, 11, 10, tzinfo=NEW_YORK)
    assert parse_moment("2026-11-10", NEW_YORK, end_of_day=True) == datetime(2026, 11, 11, tzinfo=NEW_YORK)
    assert parse_moment("2026-11-10T15:00:00Z", NEW_YORK) == datetime(2026, 11, 10, 15, tzinfo=UTC)
    naive = parse_moment("2026-11-10T10:00:00", NEW_YORK)
    assert naive == datetime(2026, 11, 10, 10, tzinfo=NEW_YORK) and naive.utcoffset() == timedelta(hours=-5)
    assert parse_moment("2026-07-10T10:00:00", NEW_YORK).utcoffset() == timedelta(hours=-4)  # summer time
    offset = parse_moment("2026-11-10T10:00:00+09:00", NEW_YORK)
    assert offset.utcoffset() == timedelta(hours=9)  # an explicit offset is kept


@pytest.mark.parametrize("text", ["", "tomorrow", "2026-02-30", "2026-13-01", "10/11/2026", "2026-11-10T25:00"])
def test_parse_moment_refuses_what_is_not_a_moment(text: str) -> None:
    assert parse_moment(text, NEW_YORK) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("4 business hours", Duration(4, "hour", True)),
    ("1 business hour", Duration(1, "hour", True)),
    ("2 business days", Duration(2, "day", True)),
    ("30 minutes", Duration(30, "minute", False)),
    ("1 day", Duration(1, "day", False)),
    ("9999 hours", Duration(9999, "hour", False)),
])
def test_parse_duration_reads_amount_unit_and_business(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected
    assert expected.text == text  # and the text it gives back is the one it read


@pytest.mark.parametrize("text", ["0 hours", "10000 hours", "04 hours", "4 Hours", "4 business minutes", "4 weeks",
                                  "four hours", "4hours", " 4 hours", "4 hours ", "-1 day", "", None, 4, ["4 hours"]])
def test_parse_duration_refuses_anything_else(text: object) -> None:
    assert parse_duration(text) is None
