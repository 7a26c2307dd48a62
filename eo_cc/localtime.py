"""Admins enter and read times in their own timezone; the database keeps UTC."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import clock

DISPLAY_FORMAT = "%a %d %b %Y, %H:%M"


def zone(name):
    """The ZoneInfo for name, or UTC when the name is empty or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def to_utc_iso(local, tzname):
    """A naive wall-clock datetime in tzname as stored UTC text.

    Raises ValueError for a time that does not exist there (skipped by a clock change)
    or that falls off the calendar in UTC (year 1 or 9999).
    """
    tz = zone(tzname)
    aware = local.replace(tzinfo=tz)
    try:
        round_trip = aware.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None)
    except OverflowError:
        raise ValueError("That date is out of range.") from None
    if round_trip != local:
        raise ValueError(f"{local:%H:%M} on {local:%d %b %Y} does not exist in {tz.key} "
                         "(the clocks change then).")
    return clock.iso(aware)


def to_local(text, tzname):
    """Stored UTC text (or an aware datetime) as a naive wall-clock datetime in tzname."""
    moment = text if isinstance(text, datetime) else clock.parse(text)
    return moment.astimezone(zone(tzname)).replace(tzinfo=None) if moment else None


def format_local(text, tzname, with_zone=True):
    """Stored UTC text for people, e.g. 'Sat 28 Nov 2026, 09:00 America/New_York'."""
    local = to_local(text, tzname)
    if local is None:
        return "not set"
    shown = local.strftime(DISPLAY_FORMAT)
    return f"{shown} {zone(tzname).key}" if with_zone else shown
