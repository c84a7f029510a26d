"""Working-time deadlines against values worked out by hand.

Default office hours are Mon-Fri 07:30-16:00 Asia/Jakarta (UTC+7), so one
working day is 8.5 hours = 510 working minutes. Dates are in 2026: 4 Dec is
a Friday, 17 Aug (Independence Day) a Monday, 14 May (Ascension) a Thursday
followed by a joint leave day on Friday 15 May, 28 May a joint leave day
(Thursday), and 24 Dec (joint leave) and 25 Dec (Christmas) Thursday and
Friday.
"""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from collector.calendar import (
    JAKARTA,
    BusinessCalendar,
    WorkingDuration,
    parse_office_hours,
)


def wib(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JAKARTA)


@pytest.fixture(scope="module")
def calendar() -> BusinessCalendar:
    return BusinessCalendar()


def test_calendar_day_minutes_default(calendar: BusinessCalendar) -> None:
    # 07:30 to 16:00 is 8 h 30 min.
    assert calendar.day_minutes == 510


def test_calendar_hours_within_one_day(calendar: BusinessCalendar) -> None:
    # Monday 09:00 + 120 min = Monday 11:00.
    due = calendar.add_working_time(wib(2026, 12, 7, 9), WorkingDuration(minutes=120))
    assert due == wib(2026, 12, 7, 11)


def test_calendar_hours_across_weekend(calendar: BusinessCalendar) -> None:
    # Friday 15:00-16:00 uses 60 min; Saturday and Sunday are closed; the
    # other 60 min run Monday 07:30-08:30.
    due = calendar.add_working_time(
        wib(2026, 12, 4, 15), WorkingDuration.parse("2 hours")
    )
    assert due == wib(2026, 12, 7, 8, 30)


def test_calendar_day_across_weekend(calendar: BusinessCalendar) -> None:
    # 1 day = 510 min. Friday 10:00-16:00 uses 360; 150 are left, so Monday
    # 07:30 + 2 h 30 min = 10:00.
    due = calendar.add_working_time(
        wib(2026, 12, 4, 10), WorkingDuration.parse("1 day")
    )
    assert due == wib(2026, 12, 7, 10)


def test_calendar_three_days_end_at_closing(calendar: BusinessCalendar) -> None:
    # Monday 07:30 + 3 x 510 min fills Monday, Tuesday and Wednesday exactly,
    # so the deadline is Wednesday 16:00, not Thursday's opening.
    due = calendar.add_working_time(
        wib(2026, 12, 7, 7, 30), WorkingDuration.parse("3 days")
    )
    assert due == wib(2026, 12, 9, 16)


def test_calendar_friday_before_public_holiday(calendar: BusinessCalendar) -> None:
    # Friday 14 Aug 15:00-16:00 uses 60 min; Saturday, Sunday and Monday
    # 17 Aug (Independence Day) are closed; Tuesday 07:30 + 60 min = 08:30.
    due = calendar.add_working_time(
        wib(2026, 8, 14, 15), WorkingDuration.parse("2 hours")
    )
    assert due == wib(2026, 8, 18, 8, 30)


def test_calendar_public_holiday_reason(calendar: BusinessCalendar) -> None:
    assert calendar.day_off_reason(date(2026, 8, 17)) == (
        "Hari Kemerdekaan Republik Indonesia"
    )


def test_calendar_joint_leave_day_closed(calendar: BusinessCalendar) -> None:
    # Thursday 28 May is joint leave, so a report made that morning starts
    # Friday 29 May 07:30 and 1 hour later is 08:30.
    due = calendar.add_working_time(
        wib(2026, 5, 28, 9), WorkingDuration.parse("1 hour")
    )
    assert due == wib(2026, 5, 29, 8, 30)


def test_calendar_joint_leave_reason(calendar: BusinessCalendar) -> None:
    assert calendar.day_off_reason(date(2026, 5, 28)) == (
        "Cuti Bersama Hari Raya Idul Adha"
    )


def test_calendar_holiday_and_joint_leave_together(
    calendar: BusinessCalendar,
) -> None:
    # Wednesday 13 May 14:00-16:00 uses 120 of 510 min. Thursday 14 May
    # (Ascension, public) and Friday 15 May (joint leave) are closed, then
    # the weekend. Monday 18 May 07:30 + 390 min = 14:00.
    due = calendar.add_working_time(
        wib(2026, 5, 13, 14), WorkingDuration.parse("1 day")
    )
    assert due == wib(2026, 5, 18, 14)


def test_calendar_christmas_joint_leave(calendar: BusinessCalendar) -> None:
    # Wednesday 23 Dec 15:00-16:00 uses 60 min. Thursday 24 Dec (joint
    # leave), Friday 25 Dec (Christmas) and the weekend are closed. Monday
    # 28 Dec 07:30 + 60 min = 08:30.
    due = calendar.add_working_time(
        wib(2026, 12, 23, 15), WorkingDuration.parse("2 hours")
    )
    assert due == wib(2026, 12, 28, 8, 30)


def test_calendar_start_after_hours(calendar: BusinessCalendar) -> None:
    # Monday 18:00 is after closing: the clock starts Tuesday 07:30, + 60 min.
    due = calendar.add_working_time(
        wib(2026, 12, 7, 18), WorkingDuration.parse("1 hour")
    )
    assert due == wib(2026, 12, 8, 8, 30)


def test_calendar_start_before_opening(calendar: BusinessCalendar) -> None:
    # Tuesday 06:00 is before opening: 07:30 + 30 min = 08:00.
    due = calendar.add_working_time(
        wib(2026, 12, 8, 6), WorkingDuration.parse("30 minutes")
    )
    assert due == wib(2026, 12, 8, 8)


def test_calendar_start_at_closing(calendar: BusinessCalendar) -> None:
    # Monday 16:00 has no working time left: Tuesday 07:30 + 60 min.
    due = calendar.add_working_time(
        wib(2026, 12, 7, 16), WorkingDuration.parse("1 hour")
    )
    assert due == wib(2026, 12, 8, 8, 30)


def test_calendar_start_on_saturday(calendar: BusinessCalendar) -> None:
    # Saturday 10:00: the clock starts Monday 07:30, + 2 h = 09:30.
    due = calendar.add_working_time(
        wib(2026, 12, 5, 10), WorkingDuration.parse("2 hours")
    )
    assert due == wib(2026, 12, 7, 9, 30)


def test_calendar_clock_start_after_hours(calendar: BusinessCalendar) -> None:
    assert calendar.clock_start(wib(2026, 12, 4, 17)) == wib(2026, 12, 7, 7, 30)


def test_calendar_clock_start_inside_hours(calendar: BusinessCalendar) -> None:
    assert calendar.clock_start(wib(2026, 12, 4, 9, 15)) == wib(2026, 12, 4, 9, 15)


def test_calendar_utc_input(calendar: BusinessCalendar) -> None:
    # 08:00 UTC is Friday 15:00 in Jakarta; 2 hours later is Monday 08:30
    # Jakarta, which is Monday 01:30 UTC.
    start = datetime(2026, 12, 4, 8, tzinfo=UTC)
    due = calendar.add_working_time(start, WorkingDuration.parse("2 hours"))
    assert due == datetime(2026, 12, 7, 1, 30, tzinfo=UTC)


def test_calendar_due_is_local_time(calendar: BusinessCalendar) -> None:
    start = datetime(2026, 12, 4, 8, tzinfo=UTC)
    due = calendar.add_working_time(start, WorkingDuration.parse("2 hours"))
    assert due.isoformat() == "2026-12-07T08:30:00+07:00"


def test_calendar_naive_datetime_rejected(calendar: BusinessCalendar) -> None:
    with pytest.raises(ValueError) as caught:
        calendar.add_working_time(datetime(2026, 12, 4, 9), WorkingDuration(minutes=5))
    assert str(caught.value) == (
        "at: naive datetime 2026-12-04T09:00:00; give a timezone "
        "(for example +07:00 or UTC)"
    )


def test_calendar_extra_day_off() -> None:
    # Monday 7 Dec configured off: Friday 15:00-16:00 is 60 min, Tuesday
    # 07:30 + 60 min = 08:30.
    calendar = BusinessCalendar(extra_days_off=[date(2026, 12, 7)])
    due = calendar.add_working_time(
        wib(2026, 12, 4, 15), WorkingDuration.parse("2 hours")
    )
    assert due == wib(2026, 12, 8, 8, 30)


def test_calendar_extra_working_day() -> None:
    # Saturday 5 Dec configured as a working day with the Monday hours:
    # Friday 60 min, Saturday 07:30 + 60 min = 08:30.
    calendar = BusinessCalendar(extra_working_days=[date(2026, 12, 5)])
    due = calendar.add_working_time(
        wib(2026, 12, 4, 15), WorkingDuration.parse("2 hours")
    )
    assert due == wib(2026, 12, 5, 8, 30)


def test_calendar_extra_working_day_beats_holiday() -> None:
    calendar = BusinessCalendar(extra_working_days=[date(2026, 8, 17)])
    assert calendar.day_off_reason(date(2026, 8, 17)) is None


def test_calendar_without_holidays() -> None:
    # With holidays off, Monday 17 Aug is a normal day: Friday 60 min, then
    # Monday 07:30 + 60 min = 08:30.
    calendar = BusinessCalendar(use_holidays=False)
    due = calendar.add_working_time(
        wib(2026, 8, 14, 15), WorkingDuration.parse("2 hours")
    )
    assert due == wib(2026, 8, 17, 8, 30)


def test_calendar_lunch_break() -> None:
    # Mon-Fri 07:30-12:00 and 13:00-16:00 (450 min a day). Monday 11:00 +
    # 2 h: 11:00-12:00 is 60 min, then 13:00 + 60 min = 14:00.
    calendar = BusinessCalendar(
        office_hours=parse_office_hours("mon-fri 07:30-12:00, 13:00-16:00")
    )
    due = calendar.add_working_time(
        wib(2026, 12, 7, 11), WorkingDuration.parse("2 hours")
    )
    assert due == wib(2026, 12, 7, 14)


def test_calendar_lunch_break_day_minutes() -> None:
    calendar = BusinessCalendar(
        office_hours=parse_office_hours("mon-fri 07:30-12:00, 13:00-16:00")
    )
    assert calendar.day_minutes == 450


def test_calendar_longer_friday() -> None:
    # Mon-Thu 07:30-16:00 (510 min) and Fri 07:30-16:30 (540 min): a day is
    # the longest office day, 540 min. Thursday 07:30 + 1 day: Thursday gives
    # 510, Friday 07:30 + 30 min = 08:00.
    calendar = BusinessCalendar(
        office_hours=parse_office_hours("mon-thu 07:30-16:00; fri 07:30-16:30")
    )
    due = calendar.add_working_time(
        wib(2026, 12, 3, 7, 30), WorkingDuration.parse("1 day")
    )
    assert due == wib(2026, 12, 4, 8)


def test_calendar_between_across_weekend(calendar: BusinessCalendar) -> None:
    # Friday 15:00-16:00 (60 min) + Monday 07:30-08:30 (60 min).
    used = calendar.working_time_between(wib(2026, 12, 4, 15), wib(2026, 12, 7, 8, 30))
    assert used == timedelta(hours=2)


def test_calendar_between_reversed_is_negative(calendar: BusinessCalendar) -> None:
    left = calendar.working_time_between(wib(2026, 12, 7, 8, 30), wib(2026, 12, 4, 15))
    assert left == -timedelta(hours=2)


def test_calendar_between_outside_hours(calendar: BusinessCalendar) -> None:
    # Saturday to Sunday evening holds no office hours.
    used = calendar.working_time_between(wib(2026, 12, 5, 9), wib(2026, 12, 6, 20))
    assert used == timedelta()


def test_calendar_between_over_holidays(calendar: BusinessCalendar) -> None:
    # Wednesday 23 Dec 14:00-16:00 (120 min), 24-27 Dec closed, Monday 28 Dec
    # 07:30-13:30 (360 min): 480 min.
    used = calendar.working_time_between(
        wib(2026, 12, 23, 14), wib(2026, 12, 28, 13, 30)
    )
    assert used == timedelta(hours=8)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 day", WorkingDuration(days=1)),
        ("3 days", WorkingDuration(days=3)),
        ("2 hours", WorkingDuration(minutes=120)),
        ("1 hour", WorkingDuration(minutes=60)),
        ("30 minutes", WorkingDuration(minutes=30)),
        ("1 day 4 hours", WorkingDuration(days=1, minutes=240)),
        ("2 jam", WorkingDuration(minutes=120)),
        ("1 hari", WorkingDuration(days=1)),
    ],
)
def test_duration_parse(text: str, expected: WorkingDuration) -> None:
    assert WorkingDuration.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "2 weeks",
            "invalid working duration '2 weeks': unknown unit 'weeks'; "
            "expected days, hours or minutes",
        ),
        (
            "soon",
            "invalid working duration 'soon'; expected for example '1 day', "
            "'2 hours' or '30 minutes'",
        ),
        (
            "0 hours",
            "invalid working duration '0 hours': it must be longer than zero",
        ),
        (
            "2 hours later",
            "invalid working duration '2 hours later'; expected for example "
            "'1 day', '2 hours' or '30 minutes'",
        ),
    ],
)
def test_duration_parse_invalid(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        WorkingDuration.parse(text)
    assert str(caught.value) == message


def test_duration_str() -> None:
    assert str(WorkingDuration(days=1, minutes=150)) == "1 day 2 hours 30 minutes"


def test_duration_total_minutes() -> None:
    assert WorkingDuration(days=2, minutes=30).total_minutes(510) == 1050


def test_office_hours_parse() -> None:
    hours = parse_office_hours("mon-thu 07:30-16:00; fri 07:30-16:30")
    assert hours == {
        0: [(time(7, 30), time(16, 0))],
        1: [(time(7, 30), time(16, 0))],
        2: [(time(7, 30), time(16, 0))],
        3: [(time(7, 30), time(16, 0))],
        4: [(time(7, 30), time(16, 30))],
    }


def test_office_hours_parse_invalid_weekday() -> None:
    with pytest.raises(ValueError) as caught:
        parse_office_hours("monday 07:30-16:00")
    assert str(caught.value) == (
        "office hours 'monday 07:30-16:00': invalid weekday 'monday'; expected "
        "mon, tue, wed, thu, fri, sat, sun or a range like mon-fri"
    )


def test_office_hours_parse_invalid_interval() -> None:
    with pytest.raises(ValueError) as caught:
        parse_office_hours("mon 7.30-16")
    assert str(caught.value) == (
        "office hours 'mon 7.30-16': invalid interval '7.30-16'; expected "
        "HH:MM-HH:MM, for example 07:30-16:00"
    )


def test_office_hours_interval_reversed() -> None:
    with pytest.raises(ValueError) as caught:
        BusinessCalendar(office_hours=parse_office_hours("mon 16:00-07:30"))
    assert str(caught.value) == (
        "office hours of weekday 0: interval 16:00-07:30 ends before it starts; "
        "give start-end with end later"
    )


def test_office_hours_none_open() -> None:
    with pytest.raises(ValueError) as caught:
        BusinessCalendar(office_hours={})
    assert str(caught.value) == (
        "office hours: no weekday has office hours; give at least one"
    )


def test_calendar_joint_leave_known_2026(calendar: BusinessCalendar) -> None:
    assert calendar.has_joint_leave_days(2026) is True


def test_calendar_joint_leave_unknown_year(calendar: BusinessCalendar) -> None:
    # The joint leave days of 2099 are not decreed yet.
    assert calendar.has_joint_leave_days(2099) is False


def test_calendar_joint_leave_configured() -> None:
    calendar = BusinessCalendar(extra_days_off=[date(2099, 12, 24)])
    assert calendar.has_joint_leave_days(2099) is True
