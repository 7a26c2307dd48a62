from datetime import datetime

import pytest

from eo_cc.clock import format_local, to_local, to_utc_iso


@pytest.mark.parametrize("local, tzname, stored", [
    (datetime(2030, 1, 15, 9, 0), "America/New_York", "2030-01-15T14:00:00+00:00"),  # EST
    (datetime(2030, 7, 15, 9, 0), "America/New_York", "2030-07-15T13:00:00+00:00"),  # EDT
    (datetime(2030, 7, 15, 9, 0), "Asia/Kolkata", "2030-07-15T03:30:00+00:00"),
    (datetime(2030, 7, 15, 9, 0), "UTC", "2030-07-15T09:00:00+00:00"),
    # 01:30 happens twice on 3 November 2030 in New York; the first (EDT) is meant.
    (datetime(2030, 11, 3, 1, 30), "America/New_York", "2030-11-03T05:30:00+00:00"),
])
def test_local_wall_time_is_stored_as_utc_and_reads_back(local, tzname, stored):
    assert to_utc_iso(local, tzname) == stored
    assert to_local(stored, tzname) == local


def test_a_time_skipped_by_the_clocks_going_forward_is_refused():
    with pytest.raises(ValueError, match="does not exist in America/New_York"):
        to_utc_iso(datetime(2030, 3, 10, 2, 30), "America/New_York")


@pytest.mark.parametrize("tzname", ["", None, "Not/AZone", "../etc/passwd"])
def test_an_unknown_timezone_falls_back_to_utc(tzname):
    assert to_utc_iso(datetime(2030, 1, 1, 12, 0), tzname) == "2030-01-01T12:00:00+00:00"


def test_format_local_names_the_zone_and_says_when_unset():
    assert format_local("2030-01-15T14:00:00+00:00", "America/New_York") == \
        "Tue 15 Jan 2030, 09:00 America/New_York"
    assert format_local("2030-01-15T14:00:00+00:00", "Europe/London", with_zone=False) == \
        "Tue 15 Jan 2030, 14:00"
    assert format_local(None, "UTC") == "not set"


@pytest.mark.parametrize("local, tzname", [
    (datetime(9999, 12, 31, 23, 59), "America/Los_Angeles"),
    (datetime(1, 1, 1, 0, 0), "Asia/Tokyo"),
])
def test_a_time_off_the_calendar_in_utc_is_refused(local, tzname):
    with pytest.raises(ValueError, match="out of range"):
        to_utc_iso(local, tzname)
