"""Time in one place: UTC ISO-8601 text in the database, each admin's own timezone on the page."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DISPLAY_FORMAT = "%a %d %b %Y, %H:%M"


def now():
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def iso(moment=None):
    """A UTC moment as the ISO-8601 text we store (seconds precision)."""
    moment = moment or now()
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def parse(text):
    """Stored ISO-8601 text back to an aware datetime (None stays None)."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


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
    return iso(aware)


def to_local(text, tzname):
    """Stored UTC text (or an aware datetime) as a naive wall-clock datetime in tzname."""
    moment = text if isinstance(text, datetime) else parse(text)
    return moment.astimezone(zone(tzname)).replace(tzinfo=None) if moment else None


def format_local(text, tzname="UTC", with_zone=True, empty="not set", fmt=DISPLAY_FORMAT):
    """Stored UTC text (or an aware datetime) for people, e.g. 'Sat 28 Nov 2026, 09:00 America/New_York'."""
    local = to_local(text, tzname)
    if local is None:
        return empty
    shown = local.strftime(fmt)
    return f"{shown} {zone(tzname).key}" if with_zone else shown
